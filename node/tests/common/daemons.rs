//! Real `memo` processes in temporary Git working copies, for the tests
//! that run the daemon as users do. Every daemon listens on loopback with
//! mDNS off (NETWORK.md: nothing leaves 127.0.0.1), and is killed when its
//! [`Daemon`] is dropped, so a failing test leaves no process behind.

use super::PATIENCE;
use memo_node::control;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A temporary Git working copy.
pub struct WorkingCopy {
    pub dir: tempfile::TempDir,
}

impl WorkingCopy {
    pub fn new() -> WorkingCopy {
        let dir = tempfile::tempdir().unwrap();
        let git = Command::new("git").args(["init", "-q"]).current_dir(dir.path()).status().unwrap();
        assert!(git.success(), "git init failed");
        WorkingCopy { dir }
    }

    /// A repository with `files` (path, content) in one commit: the
    /// upstream that tests clone.
    pub fn committed(files: &[(&str, &str)]) -> WorkingCopy {
        let upstream = WorkingCopy::new();
        for (path, content) in files {
            let path = upstream.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        git(upstream.path(), &["add", "-A"]);
        git(upstream.path(), &["commit", "-q", "-m", "base"]);
        upstream
    }

    /// A clone of the repository at `upstream`.
    pub fn clone_of(upstream: &Path) -> WorkingCopy {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["clone", "-q", upstream.to_str().unwrap(), "."]);
        WorkingCopy { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        memo_node::location::NodePaths::find(self.path(), None).unwrap().socket
    }

    /// Runs `memo <args>` here and returns its output.
    pub fn memo(&self, args: &[&str]) -> Output {
        memo_command(self.path()).args(args).output().unwrap()
    }

    /// Starts `memo daemon` here and waits until it answers.
    pub fn start_daemon(&self) -> Daemon {
        let log = std::fs::File::create(self.path().join(".git/memo-test-daemon.log")).unwrap();
        let child = memo_command(self.path()).arg("daemon").stdout(Stdio::null()).stderr(log).spawn().unwrap();
        Daemon::started(child, self.socket(), self.path().join(".git/memo-test-daemon.log"))
    }

    /// `memo share --no-daemon`; with a daemon running, the ticket holds
    /// its addresses.
    pub fn share(&self) -> String {
        let out = self.memo(&["share", "--no-daemon", "--json"]);
        assert!(out.status.success(), "memo share: {out:?}");
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        answer["ticket"].as_str().unwrap().to_string()
    }

    pub fn join(&self, ticket: &str) {
        let out = self.memo(&["join", "--no-daemon", ticket]);
        assert!(out.status.success(), "memo join: {out:?}");
    }
}

/// Two working copies joined by ticket, their daemons running.
pub struct Pair {
    /// First: the daemons stop before their directories go.
    _daemons: [Daemon; 2],
    pub a: WorkingCopy,
    pub b: WorkingCopy,
}

impl Pair {
    pub fn new() -> Pair {
        let (a, b) = (WorkingCopy::new(), WorkingCopy::new());
        a.share();
        let daemon_a = a.start_daemon();
        b.join(&a.share());
        let daemon_b = b.start_daemon();
        Pair { _daemons: [daemon_a, daemon_b], a, b }
    }
}

/// Runs `git` in `dir` (as a test user, unsigned), asserting it succeeds.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A configuration file that does not exist: tests ignore the user's.
pub const NO_CONFIG: &str = "/nonexistent/memo-test-config";

/// `memo` run in `dir`, on loopback, without mDNS, catching up every second.
pub fn memo_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memo"));
    command
        .current_dir(dir)
        .env_remove("MEMO_STORE")
        .env("MEMO_CONFIG", NO_CONFIG)
        .env("MEMO_MDNS", "off")
        .env("MEMO_LISTEN", "/ip4/127.0.0.1/tcp/0")
        .env("MEMO_CATCHUP_INTERVAL", "1");
    command
}

/// A running `memo daemon`, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// The daemon `child`, once it answers on `socket`.
    pub fn started(child: Child, socket: PathBuf, log: PathBuf) -> Daemon {
        let daemon = Daemon { child, socket, log };
        daemon.wait_until_up();
        daemon
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + PATIENCE;
        while !control::is_running(&self.socket) {
            assert!(Instant::now() < deadline, "the daemon did not start: {}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn call(&self, method: &str, params: Value) -> Value {
        control::call(&self.socket, method, params).unwrap_or_else(|e| panic!("{method}: {e}\n{}", self.log_text()))
    }

    /// Makes `count` seeded local changes.
    pub fn edit(&self, seed: u64, count: u64) {
        self.call("debug.stream", serde_json::json!({ "seed": seed, "count": count }));
    }

    /// The tree's digest and the units of work held.
    pub fn state(&self) -> (String, u64) {
        let tree = self.call("debug.tree", Value::Null);
        let status = self.call("status", Value::Null);
        (tree["digest"].as_str().unwrap().to_string(), status["node"]["units"].as_u64().unwrap())
    }

    /// Kills the process at once (SIGKILL): no clean shutdown.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until every daemon shows the same tree and holds the same units
/// of work, and returns that state.
pub fn converge(daemons: &[&Daemon]) -> (String, u64) {
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        let states: Vec<_> = daemons.iter().map(|d| d.state()).collect();
        if states.windows(2).all(|w| w[0] == w[1]) {
            return states[0].clone();
        }
        assert!(Instant::now() < deadline, "no convergence: {states:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
