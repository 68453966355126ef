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
    let upstream = WorkingCopy::new();
    std::fs::write(upstream.path().join("README.md"), "# Project\n").unwrap();
    git(upstream.path(), &["add", "-A"]);
    git(upstream.path(), &["commit", "-q", "-m", "base"]);
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
