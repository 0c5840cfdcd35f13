//! The embedded eBPF object against the names the loader uses. aya names a program after its
//! Rust function, so the eBPF crate's function names must be the loader's constants
//! (`profiler_common::names::prog`); nothing but this test ties the two. The object is parsed with
//! aya-obj: no kernel, no root.

use std::collections::{BTreeSet, HashMap};

use aya_obj::{Object, ProgramSection};
use profiler_common::{names, netns, sockfd};

use super::{Hook, ProgSpec, BPF_OBJECT, PROGRAMS, TP_PROGRAMS};

fn object() -> Object {
    Object::parse(BPF_OBJECT).expect("the embedded eBPF object parses")
}

fn names_of(specs: &[ProgSpec]) -> BTreeSet<&'static str> {
    specs.iter().map(|p| p.program).collect()
}

#[test]
fn the_object_has_every_program_the_loader_attaches_and_no_other() {
    let obj = object();
    let in_object: BTreeSet<&str> = obj.programs.keys().map(String::as_str).collect();
    let attached: BTreeSet<&str> = names_of(PROGRAMS)
        .union(&names_of(TP_PROGRAMS))
        .copied()
        .collect();
    let missing: Vec<&&str> = attached.difference(&in_object).collect();
    assert!(
        missing.is_empty(),
        "the loader attaches programs the eBPF object does not have: {missing:?} \
         (the object has {in_object:?})"
    );
    let unused: Vec<&&str> = in_object.difference(&attached).collect();
    assert!(
        unused.is_empty(),
        "the eBPF object has programs the loader never attaches: {unused:?}"
    );
}

#[test]
fn each_program_is_of_the_kind_the_loader_attaches_it_as() {
    let obj = object();
    for spec in PROGRAMS.iter().chain(TP_PROGRAMS) {
        let Some(program) = obj.programs.get(spec.program) else {
            continue; // reported by the test above
        };
        let ok = match spec.hook {
            Hook::FEntry => matches!(program.section, ProgramSection::FEntry { .. }),
            Hook::FExit => matches!(program.section, ProgramSection::FExit { .. }),
            Hook::TracePoint(..) => matches!(program.section, ProgramSection::TracePoint),
        };
        assert!(
            ok,
            "{}: the object has a {:?}",
            spec.program, program.section
        );
    }
}

#[test]
fn the_loaders_lists_are_the_common_crates_lists() {
    let full: BTreeSet<&str> = names::prog::FULL.iter().copied().collect();
    let tracepoint: BTreeSet<&str> = names::prog::TRACEPOINT.iter().copied().collect();
    assert_eq!(names_of(PROGRAMS), full);
    assert_eq!(names_of(TP_PROGRAMS), tracepoint);
    assert_eq!(
        names::prog::FULL.len(),
        full.len(),
        "a program listed twice"
    );
    assert_eq!(
        names::prog::TRACEPOINT.len(),
        tracepoint.len(),
        "a program listed twice"
    );
    assert_eq!(PROGRAMS.len(), full.len(), "a program listed twice");
    assert_eq!(
        TP_PROGRAMS.len(),
        tracepoint.len(),
        "a program listed twice"
    );
}

#[test]
fn the_object_has_every_map_the_loader_takes() {
    let obj = object();
    for name in [names::EVENTS, names::STATS, names::STACKS, names::TP_LOCK] {
        assert!(
            obj.maps.contains_key(name),
            "no map {name} in the eBPF object (it has {:?})",
            obj.maps.keys().collect::<BTreeSet<_>>()
        );
    }
}

#[test]
fn the_object_has_every_global_the_loader_sets_with_its_size() {
    // What load_object overrides, each required to exist (as the loader requires it).
    let mut obj = object();
    let addr = 0u64.to_ne_bytes();
    let offset = netns::NO_OFFSET.to_ne_bytes();
    let mut globals: HashMap<&str, (&[u8], bool)> = HashMap::new();
    globals.insert(names::RTNL_MUTEX, (&addr, true));
    for name in [
        netns::SKB_SK,
        netns::SK_NET,
        netns::NET_INUM,
        netns::TASK_NSPROXY,
        netns::NSPROXY_NET,
        sockfd::TASK_FILES,
        sockfd::FILES_FDT,
        sockfd::FDT_MAX_FDS,
        sockfd::FDT_FD,
        sockfd::FILE_INODE,
        sockfd::INODE_MODE,
        sockfd::FILE_PRIVATE,
        sockfd::SOCKET_SK,
        sockfd::SK_FAMILY,
        sockfd::SK_PROTOCOL,
    ] {
        globals.insert(name, (&offset, true));
    }
    assert_eq!(globals.len(), 16, "a global listed twice");
    obj.patch_map_data(globals)
        .expect("every global the loader sets is in the eBPF object, with its size");
}
