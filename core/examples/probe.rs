//! Quick timing of one trace: `cargo run --release -p memo-core --example probe -- sequential/automerge-paper`.
use std::time::Instant;
fn main() {
    let name = std::env::args().nth(1).unwrap_or("sequential/automerge-paper".into());
    let trace = memo_traces::load(&name).unwrap();
    let rss = || {
        std::fs::read_to_string("/proc/self/statm").unwrap().split(' ').nth(1).unwrap().parse::<usize>().unwrap() * 4096
    };
    if !name.starts_with("concurrent") {
        let before = rss();
        let doc = memo_traces::replay_sequential(&trace);
        eprintln!("rss growth {} KiB", (rss() - before) / 1024);
        drop(doc);
    }
    let rounds = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    for _ in 0..rounds {
        if name.starts_with("concurrent") {
            break;
        }
        let t = Instant::now();
        let doc = memo_traces::replay_sequential(&trace);
        eprintln!("warm replay {:?} ({} chars)", t.elapsed(), doc.len());
    }
    if std::env::var_os("ONLY_LOCAL").is_some() {
        return;
    }
    let t = Instant::now();
    let doc = if name.starts_with("concurrent") {
        let mut r = memo_traces::replay_concurrent_with(&trace, &mut |_| {});
        r.converge(0, &mut |_| {});
        r.docs.swap_remove(0)
    } else {
        memo_traces::replay_sequential(&trace)
    };
    eprintln!("replay {:?}, shape (runs, leaves, log entries) {:?}", t.elapsed(), doc.shape());
    assert_eq!(doc.text(), trace.end_content);
    let ops = doc.ops_since(&Default::default());
    let t = Instant::now();
    let mut fresh = memo_core::TextDoc::new(memo_core::ReplicaId::from_u128(77));
    for op in ops {
        fresh.apply(op).unwrap();
    }
    eprintln!("remote merge {:?}", t.elapsed());
    assert_eq!(fresh.text(), trace.end_content);
    let bytes = doc.encode_history();
    eprintln!("history {} bytes", bytes.len());
    let t = Instant::now();
    let loaded = memo_core::TextDoc::decode_history(memo_core::ReplicaId::from_u128(78), &bytes).unwrap();
    eprintln!("decode+load {:?}", t.elapsed());
    assert_eq!(loaded.text(), trace.end_content);
}
