//! The editing traces (shared/traces) replayed into memo-core.

use memo_core::{ReplicaId, TextDoc, VersionVector};
use memo_traces::{load, replay_concurrent, replay_sequential, traces_dir};

fn traces_or_skip() -> bool {
    match traces_dir() {
        Ok(_) => true,
        Err(message) => {
            // CI always has them: there, their absence is a failure.
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("SKIPPED: {message}");
            false
        }
    }
}

#[test]
fn every_sequential_trace_replays_to_its_end_content() {
    if !traces_or_skip() {
        return;
    }
    let mut names = memo_traces::list("sequential").unwrap();
    names.extend(memo_traces::list("sequential/ascii_only").unwrap());
    assert!(names.len() >= 8, "expected the sequential traces, found {names:?}");
    for name in names {
        let trace = load(&name).unwrap();
        let doc = replay_sequential(&trace);
        assert!(doc.text() == trace.end_content, "{name}: replay differs from endContent");
        // A fresh replica that receives every operation has the same text.
        let mut remote = TextDoc::new(ReplicaId::from_u128(99));
        for op in doc.ops_since(&VersionVector::new()) {
            remote.apply(op).unwrap();
        }
        assert!(remote.text() == trace.end_content, "{name}: remote merge differs");
    }
}

#[test]
fn concurrent_traces_converge_to_end_content() {
    if !traces_or_skip() {
        return;
    }
    // These three have no concurrent inserts at one position, so every
    // correct list CRDT reaches their endContent exactly.
    for name in ["concurrent/friendsforever", "concurrent/clownschool", "concurrent/egwalker-A1-node_nodecc"] {
        let trace = load(name).unwrap();
        let replay = replay_concurrent(&trace);
        for (agent, doc) in replay.docs.iter().enumerate() {
            assert!(doc.text() == trace.end_content, "{name}: agent {agent} differs from endContent");
            assert!(doc.waiting().is_empty());
        }
    }
}
