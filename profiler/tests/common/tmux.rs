//! Drives a terminal program in a detached tmux session: keys in, screen out (capture-pane).
//! Shared by the host test of `top --replay` and the guest test of live `top`.

use std::{
    process::Command,
    time::{Duration, Instant},
};

const EXIT_MARK: &str = "@@exit=";

pub struct Tmux {
    socket: String,
    /// The user the tmux server (and so the program) runs as; None: ours.
    uid: Option<u32>,
}

impl Tmux {
    /// Starts `shell_cmd` in a new session of `width`×`height` on a private tmux server. The
    /// shell prints the program's exit status after it and stays, so the screen can still be read
    /// (tmux drops a short-lived pane's output once it is dead).
    pub fn start(name: &str, width: u16, height: u16, shell_cmd: &str) -> Tmux {
        Self::start_as(None, name, width, height, shell_cmd)
    }

    /// Like [`Tmux::start`], with the server and the program running as user `uid`.
    pub fn start_as(
        uid: Option<u32>,
        name: &str,
        width: u16,
        height: u16,
        shell_cmd: &str,
    ) -> Tmux {
        let t = Tmux {
            socket: format!("rtnlprof-{name}-{}", std::process::id()),
            uid,
        };
        let (w, h) = (width.to_string(), height.to_string());
        let line = format!("{shell_cmd}; echo {EXIT_MARK}$?; sleep 3600");
        t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &w,
            "-y",
            &h,
            "-s",
            "t",
            &line,
        ]);
        t
    }

    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        if let Some(uid) = self.uid {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(uid);
        }
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(["-u", "-L", &self.socket])
            .args(args)
            .env("TERM", "xterm-256color")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("TMUX")
            .output()
            .expect("tmux runs (is it installed?)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys);
        self.run(&args);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// A tmux format of the pane, e.g. `#{alternate_on}`.
    #[allow(dead_code)] // used by the host tests, not the guest ones
    pub fn pane(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "t", format])
            .trim()
            .to_owned()
    }

    /// Waits until the screen satisfies `ok` and has stopped changing (a capture can fall in the
    /// middle of a redraw); panics with the last screen after `secs`.
    pub fn wait_for(&self, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        loop {
            let s = self.screen();
            if ok(&s) && s == last {
                return s;
            }
            last = s.clone();
            if Instant::now() > deadline {
                panic!("waited {secs} s for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the program to exit; its status.
    pub fn wait_exit(&self, secs: u64) -> i32 {
        let s = self.wait_for(secs, "the program to exit", |s| s.contains(EXIT_MARK));
        let code = s.split(EXIT_MARK).nth(1).unwrap_or("");
        let code: String = code.chars().take_while(char::is_ascii_digit).collect();
        code.parse().unwrap_or(-1)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .command()
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// The table's rows: (selected, cells split on runs of two or more spaces).
pub fn table_rows(screen: &str) -> Vec<(bool, Vec<String>)> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(head) = lines.iter().position(|l| l.contains("HANDLER")) else {
        return Vec::new();
    };
    lines[head + 1..]
        .iter()
        .take_while(|l| l.starts_with('┃') || l.starts_with('│'))
        .map(|l| l.trim_matches(|c| c == '┃' || c == '│'))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let selected = l.starts_with('▶');
            let cells = l
                .trim_start_matches('▶')
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            (selected, cells)
        })
        .collect()
}
