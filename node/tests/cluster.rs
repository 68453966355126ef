//! The `memo` binary as users run it: real daemon processes in temporary
//! Git working copies on loopback, joined by ticket, editing at once,
//! killed and restarted, and joined late.

mod common;

use common::daemons::{converge, WorkingCopy};

#[test]
fn three_nodes_join_by_ticket_edit_at_once_and_converge() {
    let (a, b, c) = (WorkingCopy::new(), WorkingCopy::new(), WorkingCopy::new());
    a.share();
    let daemon_a = a.start_daemon();
    let ticket = a.share();
    b.join(&ticket);
    c.join(&ticket);
    let (daemon_b, daemon_c) = (b.start_daemon(), c.start_daemon());

    std::thread::scope(|s| {
        for (seed, daemon) in [(1, &daemon_a), (2, &daemon_b), (3, &daemon_c)] {
            s.spawn(move || {
                for _ in 0..10 {
                    daemon.edit(seed, 30);
                }
            });
        }
    });
    let (_, units) = converge(&[&daemon_a, &daemon_b, &daemon_c]);
    assert!(units >= 3 * 300, "every node's edits are there: {units} units");
    // B and C know each other only through A's gossip: each is connected
    // to A, and all three converge anyway.
    let peers = daemon_b.call("peers", serde_json::Value::Null);
    assert!(peers.as_array().unwrap().iter().any(|p| p["connected"] == true && p["found"] == "address"), "{peers}");
}

#[test]
fn a_killed_node_restarts_and_catches_up() {
    let (a, b) = (WorkingCopy::new(), WorkingCopy::new());
    a.share();
    let daemon_a = a.start_daemon();
    b.join(&a.share());
    let daemon_b = b.start_daemon();
    daemon_b.edit(7, 100);
    converge(&[&daemon_a, &daemon_b]);

    daemon_b.kill();
    daemon_a.edit(8, 300);
    let daemon_b = b.start_daemon();
    let (_, units) = converge(&[&daemon_a, &daemon_b]);
    let a_alone = daemon_a.call("status", serde_json::Value::Null)["node"]["units"].as_u64().unwrap();
    assert_eq!(units, a_alone);
    // And B's edits after the restart reach A: the link works both ways.
    daemon_b.edit(9, 50);
    converge(&[&daemon_a, &daemon_b]);
}

#[test]
fn a_node_that_joins_after_ten_thousand_operations_converges() {
    let (a, b) = (WorkingCopy::new(), WorkingCopy::new());
    a.share();
    let daemon_a = a.start_daemon();
    daemon_a.edit(11, 10_000);
    let operations = daemon_a.call("status", serde_json::Value::Null)["node"]["operations"].as_u64().unwrap();
    assert!(operations >= 10_000, "{operations} operations");

    b.join(&a.share());
    let daemon_b = b.start_daemon();
    converge(&[&daemon_a, &daemon_b]);
    let stored = daemon_b.call("status", serde_json::Value::Null)["node"]["operations"].as_u64().unwrap();
    assert_eq!(stored, operations, "the joiner stored every operation");
}

#[test]
fn clones_at_one_commit_start_from_git_and_send_none_of_it() {
    let library = "pub fn answer() -> u32 { 42 }\n".repeat(100);
    let upstream = WorkingCopy::committed(&[("src/lib.rs", &library), ("README", "hello\n")]);
    let (a, b) = (WorkingCopy::clone_of(upstream.path()), WorkingCopy::clone_of(upstream.path()));
    a.share();
    let daemon_a = a.start_daemon();
    b.join(&a.share());
    let daemon_b = b.start_daemon();
    let (digest, _) = converge(&[&daemon_a, &daemon_b]);
    for daemon in [&daemon_a, &daemon_b] {
        let status = daemon.call("status", serde_json::Value::Null);
        assert_eq!(status["node"]["operations"], 0, "the base is Git's, never an operation: {status}");
        assert_eq!(daemon.call("debug.tree", serde_json::Value::Null)["paths"], 3, "src, src/lib.rs, README");
    }
    daemon_b.edit(21, 40);
    let (edited, _) = converge(&[&daemon_a, &daemon_b]);
    assert_ne!(edited, digest);

    // A clean clone at another commit moves to the base as it joins.
    let c = WorkingCopy::clone_of(upstream.path());
    std::fs::write(c.path().join("README"), "changed\n").unwrap();
    common::daemons::git(c.path(), &["commit", "-q", "-am", "elsewhere"]);
    let join = c.memo(&["join", "--no-daemon", &a.share()]);
    assert!(join.status.success(), "{join:?}");
    assert!(String::from_utf8_lossy(&join.stderr).contains("moved to the working copy's base"), "{join:?}");
    assert_eq!(std::fs::read_to_string(c.path().join("README")).unwrap(), "hello\n");

    // One whose local change the move would overwrite is told what to do,
    // and joins nothing.
    let d = WorkingCopy::clone_of(upstream.path());
    std::fs::write(d.path().join("README"), "changed\n").unwrap();
    common::daemons::git(d.path(), &["commit", "-q", "-am", "elsewhere too"]);
    std::fs::write(d.path().join("README"), "draft\n").unwrap();
    let join = d.memo(&["join", "--no-daemon", &a.share()]);
    assert_eq!(join.status.code(), Some(1), "{join:?}");
    assert!(String::from_utf8_lossy(&join.stderr).contains("commit or stash"), "{join:?}");
    assert!(!d.path().join(".git/memo/membership.json").exists());
    assert_eq!(std::fs::read_to_string(d.path().join("README")).unwrap(), "draft\n", "nothing overwritten");
}
