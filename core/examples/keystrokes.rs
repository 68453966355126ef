//! Per-keystroke costs of the local editing paths:
//! `cargo run --release -p memo-core --example keystrokes [typing|backspace|typo]`.
use memo_core::{ReplicaId, TextDoc};
use std::time::Instant;

fn main() {
    let only = std::env::args().nth(1);
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let n = 200_000;
    let mut doc = TextDoc::new(ReplicaId::from_u128(1));
    let t = Instant::now();
    for i in 0..n {
        drop(doc.insert(i, "a").unwrap());
    }
    if wants("typing") {
        eprintln!("typing on: {:.1} ns/keystroke", t.elapsed().as_nanos() as f64 / n as f64);
    }
    if wants("backspace") {
        let t = Instant::now();
        for i in (0..n).rev() {
            drop(doc.delete(i, i + 1).unwrap());
        }
        eprintln!("backspace: {:.1} ns/keystroke", t.elapsed().as_nanos() as f64 / n as f64);
    }
    if wants("typo") {
        let mut doc = TextDoc::new(ReplicaId::from_u128(1));
        doc.insert(0, &"x".repeat(100_000)).unwrap();
        let t = Instant::now();
        for i in 0..n / 2 {
            // A typo fixed somewhere in the middle: type a character, delete it.
            let p = 50_000 + (i * 7919) % 1000;
            drop(doc.insert(p, "a").unwrap());
            drop(doc.delete(p, p + 1).unwrap());
        }
        eprintln!("typo fixed in the middle: {:.1} ns/pair", t.elapsed().as_nanos() as f64 / (n / 2) as f64);
    }
}
