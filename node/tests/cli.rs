//! The `memo` binary as a user runs it: `memo store-info` finds the store
//! of the working copy it is run in, never makes one, and says what to do
//! when there is none.

use std::path::Path;
use std::process::{Command, Output};

fn memo(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_memo"));
    command.args(args).current_dir(dir).env_remove("MEMO_STORE").env("MEMO_CONFIG", common::daemons::NO_CONFIG);
    command.output().unwrap()
}

#[test]
fn store_info_reads_the_working_copys_store_and_never_makes_one() {
    let wc = tempfile::tempdir().unwrap();
    let git = Command::new("git").args(["init", "-q"]).current_dir(wc.path()).status().unwrap();
    assert!(git.success());
    let store = wc.path().join(".git/memo/store");

    let none = memo(wc.path(), &["store-info"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no store at"), "{none:?}");
    assert!(!store.exists(), "looking made a store");

    let stream = memo(wc.path(), &["debug-append-stream", store.to_str().unwrap(), "7", "40"]);
    assert!(stream.status.success(), "{stream:?}");
    std::fs::create_dir_all(wc.path().join("src")).unwrap();
    let info = memo(&wc.path().join("src"), &["store-info", "--json"]);
    assert!(info.status.success(), "{info:?}");
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(json["operations"].as_u64().unwrap() > 0);
    assert_eq!(json["store"].as_str().unwrap(), std::path::absolute(&store).unwrap().to_str().unwrap());

    // --store (or MEMO_STORE) points anywhere.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("store");
    std::fs::rename(&store, &moved).unwrap();
    let info = memo(Path::new("/"), &["store-info", "--store", moved.to_str().unwrap()]);
    assert!(info.status.success(), "{info:?}");
    assert!(String::from_utf8_lossy(&info.stdout).contains("operations"));
}

mod common;

use common::daemons::{memo_command, WorkingCopy};

#[test]
fn status_and_peers_say_what_to_do_before_anything_is_shared() {
    let wc = WorkingCopy::new();
    let status = wc.memo(&["status"]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("not shared") && text.contains("not running"), "{text}");
    let peers = wc.memo(&["peers"]);
    assert_eq!(peers.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&peers.stderr).contains("memo share"), "{peers:?}");
    let join = wc.memo(&["join", "--no-daemon", "memonotaticket"]);
    assert_eq!(join.status.code(), Some(2), "a bad ticket is a usage error: {join:?}");
    assert!(String::from_utf8_lossy(&join.stderr).contains("ticket"), "{join:?}");
    let outside = tempfile::tempdir().unwrap();
    let lost = memo_command(outside.path()).arg("status").output().unwrap();
    assert_eq!(lost.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&lost.stderr).contains("not inside a Git working copy"), "{lost:?}");
}

#[test]
fn share_starts_the_daemon_and_prints_a_ticket_that_join_takes() {
    let a = WorkingCopy::new();
    let share = a.memo(&["share", "--name", "demo"]);
    let stderr = String::from_utf8_lossy(&share.stderr).to_string();
    let pid: u32 = stderr
        .split("pid ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no daemon pid in {stderr}"));
    let _stop = KillOnDrop(pid);
    assert!(share.status.success(), "{share:?}");
    let ticket = String::from_utf8(share.stdout).unwrap().trim().to_string();
    assert!(ticket.starts_with("memo") && !ticket.contains(' '), "stdout is the ticket alone: {ticket}");
    assert!(stderr.contains(&format!("memo join {ticket}")), "the exact command to run: {stderr}");

    let status = a.memo(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["shared"]["name"], "demo");
    assert!(status["daemon"]["node"]["listening"][0].as_str().unwrap().starts_with("/ip4/127.0.0.1/tcp/"));
    // Sharing again keeps the working copy: the same id and secret.
    let again = a.memo(&["share", "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let first = memo_core::ticket::Ticket::decode(&ticket).unwrap();
    let second = memo_core::ticket::Ticket::decode(again["ticket"].as_str().unwrap()).unwrap();
    assert_eq!((first.working_copy, first.secret), (second.working_copy, second.secret));

    // A clone of another working copy refuses the ticket.
    let b = WorkingCopy::new();
    b.memo(&["share", "--no-daemon"]);
    let join = b.memo(&["join", "--no-daemon", &ticket]);
    assert_eq!(join.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&join.stderr).contains("already belongs"), "{join:?}");
}

#[test]
fn up_starts_the_daemon_down_stops_it_and_commands_that_need_it_start_it() {
    let wc = WorkingCopy::new();
    let init = wc.memo(&["init", "--name", "project"]);
    assert!(init.status.success() && String::from_utf8_lossy(&init.stdout).contains("\"project\""), "{init:?}");
    let running = |wc: &WorkingCopy| memo_node::control::is_running(&wc.socket());
    let up = wc.memo(&["up"]);
    assert!(up.status.success(), "{up:?}");
    assert!(running(&wc));
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let status: serde_json::Value = serde_json::from_slice(&wc.memo(&["status", "--json"]).stdout).unwrap();
        if status["daemon"]["scanned"] == true {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the first scan never ended: {status}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let down = wc.memo(&["down"]);
    assert!(down.status.success(), "{down:?}");
    assert!(!running(&wc) && !wc.socket().exists());
    // `memo log` needs the daemon: it starts one.
    let log = wc.memo(&["-q", "log", "--json"]);
    assert!(log.status.success(), "{log:?}");
    assert!(running(&wc));
    assert!(wc.memo(&["down"]).status.success());
    let again = wc.memo(&["down"]);
    assert!(again.status.success() && String::from_utf8_lossy(&again.stderr).contains("no daemon"), "{again:?}");
}

#[test]
fn the_users_configuration_file_sets_defaults_the_environment_overrides() {
    let wc = WorkingCopy::new();
    let config = wc.path().join(".git/test-config");
    let elsewhere = wc.path().join(".git/from-config");
    std::fs::write(&config, format!("# defaults\nMEMO_STORE={}\n", elsewhere.display())).unwrap();
    let run = |env_store: Option<&str>| {
        let mut command = memo_command(wc.path());
        command.arg("store-info").env("MEMO_CONFIG", &config);
        if let Some(store) = env_store {
            command.env("MEMO_STORE", store);
        }
        command.output().unwrap()
    };
    let from_file = run(None);
    assert!(String::from_utf8_lossy(&from_file.stderr).contains("from-config"), "{from_file:?}");
    let from_env = run(Some("/tmp/memo-test-from-env"));
    assert!(String::from_utf8_lossy(&from_env.stderr).contains("memo-test-from-env"), "{from_env:?}");
    std::fs::write(&config, "MEMO_TYPO=1\n").unwrap();
    let wrong = run(None);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("MEMO_TYPO"), "{wrong:?}");
}

/// Stops a daemon started in the background, by pid.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}
