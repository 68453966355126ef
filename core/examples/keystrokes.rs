//! Per-keystroke costs of the local paths: `cargo run --release -p memo-core --example keystrokes`.
use memo_core::{ReplicaId, TextDoc};
use std::time::Instant;

fn main() {
    let n = 200_000;
    let mut doc = TextDoc::new(ReplicaId::from_u128(1));
    let t = Instant::now();
    for i in 0..n {
        drop(doc.insert(i, "a").unwrap());
    }
    eprintln!("typing on: {:.1} ns/keystroke", t.elapsed().as_nanos() as f64 / n as f64);
    let t = Instant::now();
    for i in (0..n).rev() {
        drop(doc.delete(i, i + 1).unwrap());
    }
    eprintln!("backspace: {:.1} ns/keystroke", t.elapsed().as_nanos() as f64 / n as f64);
    let mut doc = TextDoc::new(ReplicaId::from_u128(1));
    doc.insert(0, &"x".repeat(100_000)).unwrap();
    let t = Instant::now();
    for i in 0..n / 2 {
        // Type a char, backspace it, type it again: a typo fixed.
        let p = 50_000 + i % 1000;
        drop(doc.insert(p, "a").unwrap());
        drop(doc.delete(p, p + 1).unwrap());
    }
    eprintln!("type+backspace in the middle: {:.1} ns/pair", t.elapsed().as_nanos() as f64 / (n / 2) as f64);
}
