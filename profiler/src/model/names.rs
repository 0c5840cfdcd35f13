//! Names of rtnetlink message types and address families, as `linux/rtnetlink.h` and
//! `linux/socket.h` spell them.

/// `RTM_*` name of an rtnetlink message type, if it is one the kernel defines.
pub fn rtm_name(t: u16) -> Option<&'static str> {
    Some(match t {
        16 => "RTM_NEWLINK",
        17 => "RTM_DELLINK",
        18 => "RTM_GETLINK",
        19 => "RTM_SETLINK",
        20 => "RTM_NEWADDR",
        21 => "RTM_DELADDR",
        22 => "RTM_GETADDR",
        24 => "RTM_NEWROUTE",
        25 => "RTM_DELROUTE",
        26 => "RTM_GETROUTE",
        28 => "RTM_NEWNEIGH",
        29 => "RTM_DELNEIGH",
        30 => "RTM_GETNEIGH",
        32 => "RTM_NEWRULE",
        33 => "RTM_DELRULE",
        34 => "RTM_GETRULE",
        36 => "RTM_NEWQDISC",
        37 => "RTM_DELQDISC",
        38 => "RTM_GETQDISC",
        40 => "RTM_NEWTCLASS",
        41 => "RTM_DELTCLASS",
        42 => "RTM_GETTCLASS",
        44 => "RTM_NEWTFILTER",
        45 => "RTM_DELTFILTER",
        46 => "RTM_GETTFILTER",
        48 => "RTM_NEWACTION",
        49 => "RTM_DELACTION",
        50 => "RTM_GETACTION",
        52 => "RTM_NEWPREFIX",
        58 => "RTM_GETMULTICAST",
        62 => "RTM_GETANYCAST",
        64 => "RTM_NEWNEIGHTBL",
        66 => "RTM_GETNEIGHTBL",
        67 => "RTM_SETNEIGHTBL",
        68 => "RTM_NEWNDUSEROPT",
        72 => "RTM_NEWADDRLABEL",
        73 => "RTM_DELADDRLABEL",
        74 => "RTM_GETADDRLABEL",
        78 => "RTM_GETDCB",
        79 => "RTM_SETDCB",
        80 => "RTM_NEWNETCONF",
        81 => "RTM_DELNETCONF",
        82 => "RTM_GETNETCONF",
        84 => "RTM_NEWMDB",
        85 => "RTM_DELMDB",
        86 => "RTM_GETMDB",
        88 => "RTM_NEWNSID",
        89 => "RTM_DELNSID",
        90 => "RTM_GETNSID",
        92 => "RTM_NEWSTATS",
        94 => "RTM_GETSTATS",
        95 => "RTM_SETSTATS",
        96 => "RTM_NEWCACHEREPORT",
        100 => "RTM_NEWCHAIN",
        101 => "RTM_DELCHAIN",
        102 => "RTM_GETCHAIN",
        104 => "RTM_NEWNEXTHOP",
        105 => "RTM_DELNEXTHOP",
        106 => "RTM_GETNEXTHOP",
        108 => "RTM_NEWLINKPROP",
        109 => "RTM_DELLINKPROP",
        110 => "RTM_GETLINKPROP",
        112 => "RTM_NEWVLAN",
        113 => "RTM_DELVLAN",
        114 => "RTM_GETVLAN",
        116 => "RTM_NEWNEXTHOPBUCKET",
        117 => "RTM_DELNEXTHOPBUCKET",
        118 => "RTM_GETNEXTHOPBUCKET",
        120 => "RTM_NEWTUNNEL",
        121 => "RTM_DELTUNNEL",
        122 => "RTM_GETTUNNEL",
        _ => return None,
    })
}

/// The message type's name, or `RTM_<number>` for one this table does not know.
pub fn rtm_display(t: u16) -> String {
    rtm_name(t).map_or_else(|| format!("RTM_{t}"), str::to_owned)
}

/// Name of an rtnetlink family (`rtgen_family` / `ifi_family` ...).
pub fn family_name(f: u8) -> String {
    match f {
        0 => "AF_UNSPEC".into(),
        1 => "AF_UNIX".into(),
        2 => "AF_INET".into(),
        7 => "AF_BRIDGE".into(),
        10 => "AF_INET6".into(),
        17 => "AF_PACKET".into(),
        28 => "AF_MPLS".into(),
        128 => "RTNL_FAMILY_IPMR".into(),
        129 => "RTNL_FAMILY_IP6MR".into(),
        0xff => "AF_?".into(),
        n => format!("AF_{n}"),
    }
}

/// Parses `RTM_NEWLINK`, `NEWLINK` or a number into a message type.
pub fn parse_rtm(s: &str) -> Option<u16> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let upper = s.to_ascii_uppercase();
    let want = if upper.starts_with("RTM_") {
        upper
    } else {
        format!("RTM_{upper}")
    };
    (0..=u16::from(u8::MAX)).find(|&t| rtm_name(t) == Some(want.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kernel_header() {
        // RTM_BASE = 16, then NEW/DEL/GET/SET in groups of four.
        assert_eq!(rtm_name(16), Some("RTM_NEWLINK"));
        assert_eq!(rtm_name(26), Some("RTM_GETROUTE"));
        assert_eq!(rtm_name(104), Some("RTM_NEWNEXTHOP"));
        assert_eq!(rtm_display(23), "RTM_23");
        assert_eq!(family_name(10), "AF_INET6");
    }

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_rtm("RTM_DELLINK"), Some(17));
        assert_eq!(parse_rtm("getroute"), Some(26));
        assert_eq!(parse_rtm("30"), Some(30));
        assert_eq!(parse_rtm("RTM_NOPE"), None);
    }
}
