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
