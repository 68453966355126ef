//! Two `memo daemon` processes keep two clones' files in step, as users
//! work: a new file, an edit, an editor's save (write a temporary file,
//! rename it over), a `mv`, a delete, each made with the file system on
//! one side and awaited on the other's disk.

mod common;

use common::daemons::{git, Daemon, WorkingCopy};
use std::path::Path;
use std::time::{Duration, Instant};

/// Two clones of one commit, shared and joined, their daemons running.
fn pair() -> (WorkingCopy, WorkingCopy, Daemon, Daemon, WorkingCopy) {
    let upstream = WorkingCopy::committed(&[("README.md", "# Project\n")]);
    let (a, b) = (WorkingCopy::clone_of(upstream.path()), WorkingCopy::clone_of(upstream.path()));
    a.share();
    let daemon_a = a.start_daemon();
    b.join(&a.share());
    let daemon_b = b.start_daemon();
    (a, b, daemon_a, daemon_b, upstream)
}

/// Waits until `path` under `root` holds `content` (`None`: is absent).
fn wait_for_file(root: &Path, path: &str, content: Option<&str>, daemon: &Daemon) {
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let found = std::fs::read_to_string(root.join(path)).ok();
        if found.as_deref() == content {
            return;
        }
        assert!(Instant::now() < deadline, "{path} is {found:?}, not {content:?}\n{}", daemon.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn files_saved_on_one_clone_reach_the_other() {
    let (a, b, daemon_a, daemon_b, _upstream) = pair();

    std::fs::create_dir_all(a.path().join("src")).unwrap();
    std::fs::write(a.path().join("src/new.rs"), "fn new() {}\n").unwrap();
    wait_for_file(b.path(), "src/new.rs", Some("fn new() {}\n"), &daemon_b);

    std::fs::write(b.path().join("README.md"), "# Project\n\nEdited on b.\n").unwrap();
    wait_for_file(a.path(), "README.md", Some("# Project\n\nEdited on b.\n"), &daemon_a);

    // An editor's save: a temporary file renamed over the original.
    std::fs::write(a.path().join("src/.new.rs.swp"), "swap").unwrap();
    std::fs::write(a.path().join("src/new.rs.tmp~"), "fn new() { 1 }\n").unwrap();
    std::fs::rename(a.path().join("src/new.rs.tmp~"), a.path().join("src/new.rs")).unwrap();
    wait_for_file(b.path(), "src/new.rs", Some("fn new() { 1 }\n"), &daemon_b);

    std::fs::rename(a.path().join("src/new.rs"), a.path().join("src/renamed.rs")).unwrap();
    wait_for_file(b.path(), "src/renamed.rs", Some("fn new() { 1 }\n"), &daemon_b);
    wait_for_file(b.path(), "src/new.rs", None, &daemon_b);

    std::fs::remove_file(b.path().join("src/renamed.rs")).unwrap();
    wait_for_file(a.path(), "src/renamed.rs", None, &daemon_a);
    assert!(!b.path().join("src/.new.rs.swp").exists(), "an editor's swap file is not replicated");

    // Git's own directory is the clone's, never replicated.
    let head_a = std::fs::read_to_string(a.path().join(".git/HEAD")).unwrap();
    assert_eq!(std::fs::read_to_string(b.path().join(".git/HEAD")).unwrap(), head_a);
    let status = daemon_a.call("status", serde_json::Value::Null);
    assert!(status["node"]["operations"].as_u64().unwrap() > 0);
}

/// Waits until `memo history <path> --json` lists at least `steps` steps.
fn history_of(copy: &WorkingCopy, path: &str, steps: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let out = copy.memo(&["history", path, "--json"]);
        if out.status.success() {
            let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let found = history["steps"].as_array().unwrap().clone();
            if found.len() >= steps {
                return found;
            }
        }
        assert!(Instant::now() < deadline, "no history of {path}: {out:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn history_and_show_replay_a_file_across_a_rename() {
    let (a, b, _daemon_a, daemon_b, _upstream) = pair();
    std::fs::write(a.path().join("notes.txt"), "one\n").unwrap();
    wait_for_file(b.path(), "notes.txt", Some("one\n"), &daemon_b);
    std::fs::write(a.path().join("notes.txt"), "one\ntwo\n").unwrap();
    wait_for_file(b.path(), "notes.txt", Some("one\ntwo\n"), &daemon_b);
    std::fs::rename(a.path().join("notes.txt"), a.path().join("renamed.txt")).unwrap();
    wait_for_file(b.path(), "renamed.txt", Some("one\ntwo\n"), &daemon_b);

    // On b, which received it all: the create, the text (both saves: one
    // author typing on at the end is one run), the move.
    let steps = history_of(&b, "renamed.txt", 3);
    let kinds: Vec<&str> = steps.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"create"));
    assert_eq!(kinds.last(), Some(&"move"));
    let show = |version: &str| {
        let out = b.memo(&["show", "renamed.txt", "--at", version]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(show("1"), "", "a new text file is empty until its text");
    assert_eq!(show(&steps.len().to_string()), "one\ntwo\n");
    let current = b.memo(&["show", "renamed.txt"]);
    assert_eq!(String::from_utf8_lossy(&current.stdout), "one\ntwo\n");
    let too_far = b.memo(&["show", "renamed.txt", "--at", "99"]);
    assert_eq!(too_far.status.code(), Some(2), "{too_far:?}");

    // Undo is an operation too: a's latest edit goes, on both disks.
    let undo = a.memo(&["undo", "renamed.txt"]);
    assert!(undo.status.success() && String::from_utf8_lossy(&undo.stderr).contains("undid"), "{undo:?}");
    wait_for_file(b.path(), "renamed.txt", Some("one\n"), &daemon_b);
    wait_for_file(a.path(), "renamed.txt", Some("one\n"), &daemon_b);

    let log = b.memo(&["log", "--json"]);
    let log: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap();
    let touched: Vec<&str> = log["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["paths"].as_array().unwrap())
        .filter_map(|p| p.as_str())
        .collect();
    assert!(touched.contains(&"renamed.txt"), "{log}");
}

#[test]
fn nothing_is_read_while_git_holds_its_index_lock() {
    let (a, b, _daemon_a, daemon_b, _upstream) = pair();
    let lock = a.path().join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    std::fs::write(a.path().join("half.txt"), "written during a checkout\n").unwrap();
    // Not a timing assertion: whatever the delay, nothing may cross while
    // the lock is held; a second is long enough to see it if it would.
    std::thread::sleep(Duration::from_secs(1));
    assert!(!b.path().join("half.txt").exists(), "read while Git held its lock");
    std::fs::remove_file(&lock).unwrap();
    wait_for_file(b.path(), "half.txt", Some("written during a checkout\n"), &daemon_b);
}

#[test]
fn a_commit_on_one_clone_is_mapped_to_its_version_on_the_other() {
    let (a, b, _daemon_a, daemon_b, _upstream) = pair();
    std::fs::write(a.path().join("plan.md"), "step one\n").unwrap();
    wait_for_file(b.path(), "plan.md", Some("step one\n"), &daemon_b);
    git(a.path(), &["add", "-A"]);
    git(a.path(), &["commit", "-q", "-m", "plan"]);
    let sha = String::from_utf8(
        std::process::Command::new("git").args(["rev-parse", "HEAD"]).current_dir(a.path()).output().unwrap().stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let log = b.memo(&["log", "--json"]);
        let log: serde_json::Value = serde_json::from_slice(&log.stdout).unwrap_or_default();
        // Dated by when b reached the version it holds.
        if log["commits"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["commit"] == sha.as_str() && c["time"].is_u64()))
        {
            break;
        }
        assert!(Instant::now() < deadline, "b never learnt of commit {sha}: {log}\n{}", daemon_b.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    // A second later: b's time index has step one in a second of its own.
    std::thread::sleep(Duration::from_millis(1100));
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1;
    // Edits after the commit are not in it.
    std::fs::write(a.path().join("plan.md"), "step one\nstep two\n").unwrap();
    wait_for_file(b.path(), "plan.md", Some("step one\nstep two\n"), &daemon_b);
    let show = b.memo(&["show", "plan.md", "--at", &sha[..12]]);
    assert!(show.status.success(), "{show:?}");
    assert_eq!(String::from_utf8_lossy(&show.stdout), "step one\n", "the file as committed");
    let show = b.memo(&["show", "plan.md", "--at", &format!("@{before}")]);
    assert_eq!(String::from_utf8_lossy(&show.stdout), "step one\n", "the file as it was then: {show:?}");
    let show = b.memo(&["show", "plan.md", "--at", "1970-01-02"]);
    assert_eq!(show.status.code(), Some(1), "nothing then: {show:?}");
}

#[test]
fn a_joiner_is_told_of_its_uncommitted_changes_and_keeps_them() {
    let upstream = WorkingCopy::committed(&[("README.md", "# Project\n")]);
    let (a, b) = (WorkingCopy::clone_of(upstream.path()), WorkingCopy::clone_of(upstream.path()));
    a.share();
    let daemon_a = a.start_daemon();
    std::fs::write(b.path().join("README.md"), "# Project\n\nb's draft\n").unwrap();
    std::fs::write(b.path().join("local.txt"), "only on b\n").unwrap();
    let join = b.memo(&["join", "--no-daemon", &a.share()]);
    assert!(join.status.success(), "{join:?}");
    let told = String::from_utf8_lossy(&join.stderr);
    assert!(told.contains("2 uncommitted change(s)") && told.contains("nothing of them is overwritten"), "{told}");
    let daemon_b = b.start_daemon();
    wait_for_file(a.path(), "local.txt", Some("only on b\n"), &daemon_a);
    wait_for_file(a.path(), "README.md", Some("# Project\n\nb's draft\n"), &daemon_a);
    assert_eq!(std::fs::read_to_string(b.path().join("README.md")).unwrap(), "# Project\n\nb's draft\n");
    drop(daemon_b);
}
