//! Times merging a whole trace's history into fresh replicas:
//! `cargo run --release -p memo-core --example merge_probe -- sequential/automerge-paper`.
fn main() {
    let name = std::env::args().nth(1).unwrap_or("sequential/automerge-paper".into());
    let rounds: usize = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(20);
    let trace = memo_traces::load(&name).unwrap();
    let doc = match name.starts_with("concurrent") {
        true => {
            let mut replay = memo_traces::replay_concurrent_with(&trace, &mut |_| {});
            replay.converge(0, &mut |_| {});
            replay.docs.swap_remove(0)
        }
        false => memo_traces::replay_sequential(&trace),
    };
    let ops = doc.ops_since(&Default::default());
    let mut best = std::time::Duration::MAX;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        let mut fresh = memo_core::TextDoc::new(memo_core::ReplicaId::from_u128(77));
        for op in ops.iter().cloned() {
            fresh.apply(op).unwrap();
        }
        best = best.min(t.elapsed());
        assert_eq!(fresh.len(), trace.end_content.chars().count());
    }
    eprintln!("{} ops merged in {:?} (best of {rounds})", ops.len(), best);
}
