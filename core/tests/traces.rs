//! The editing traces (shared/traces) replayed into memo-core.

use memo_core::{ReplicaId, TextDoc, VersionVector};
use memo_traces::{load, replay_sequential, traces_dir};

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
        // The encoded history loads back to the same document.
        let loaded = TextDoc::decode_history(ReplicaId::from_u128(98), &doc.encode_history()).unwrap();
        assert!(loaded.text() == trace.end_content, "{name}: history round trip differs");
        assert_eq!(loaded.version(), doc.version());
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
        // Each catch-up batch is delivered reversed and rotated: the worst
        // order for a causal buffer (dependencies arrive last).
        let mut scramble = |batch: &mut Vec<memo_core::TextOp>| {
            batch.reverse();
            let mid = batch.len() / 3;
            batch.rotate_left(mid);
        };
        let mut replay = memo_traces::replay_concurrent_with(&trace, &mut scramble);
        // A1 has 204 agents: merging the whole history into each would take
        // minutes, so there the three busiest and the last agent converge.
        let agents: Vec<usize> = if replay.docs.len() <= 8 {
            (0..replay.docs.len()).collect()
        } else {
            let mut by_ops: Vec<usize> = (0..replay.docs.len()).collect();
            by_ops.sort_by_key(|&a| std::cmp::Reverse(replay.ops[a].len()));
            by_ops.truncate(3);
            by_ops.push(replay.docs.len() - 1);
            by_ops
        };
        for agent in agents {
            let doc = replay.converge(agent, &mut scramble);
            assert!(doc.text() == trace.end_content, "{name}: agent {agent} differs from endContent");
            assert!(doc.waiting().is_empty(), "{name}: agent {agent} has operations waiting");
        }
    }
}
