//! The durable store's benchmark: `cargo run -p memo-node --release
//! --example store_bench` prints the table of BENCHMARKS.md's "Durable
//! store" section.
//!
//! - appends per second, one synced append per keystroke and one per
//!   batch of 100 operations;
//! - start-up of a store of 1,000,000 operations (a synthetic stream:
//!   typing, backspacing and cursor jumps over a few files, with 1% tree
//!   operations), from its snapshot and by full replay;
//! - bytes on disk per operation, and the automerge-paper trace stored as
//!   operations against its final text and diamond-types' 106 KB.
//!
//! `STORE_BENCH_OPS` changes the 1,000,000 (for a quick run).

use memo_core::tree::EmptyBase;
use memo_core::{TreeOp, WorkTree};
use memo_node::debug::Rng;
use memo_node::{replica, Store};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A synthetic editing session: someone typing in a few files of a small
/// tree, with now and then a new file, a rename or a new directory.
struct Session {
    rng: Rng,
    dirs: Vec<String>,
    files: Vec<String>,
    /// The file typed in, and the cursor (in characters) and length there.
    current: usize,
    cursor: usize,
    len: usize,
    made: usize,
}

impl Session {
    fn new(tree: &mut WorkTree, out: &mut Vec<TreeOp>) -> Self {
        let mut session = Session {
            rng: Rng::new(42, 0),
            dirs: vec![String::new()],
            files: Vec::new(),
            current: 0,
            cursor: 0,
            len: 0,
            made: 0,
        };
        for dir in ["src", "docs"] {
            out.push(tree.create_dir(dir).unwrap());
            session.dirs.push(dir.into());
        }
        for i in 0..6 {
            session.new_file(tree, out, i);
        }
        session
    }

    fn new_file(&mut self, tree: &mut WorkTree, out: &mut Vec<TreeOp>, n: usize) {
        let dir = self.dirs[self.rng.below(self.dirs.len())].clone();
        let path = if dir.is_empty() { format!("f{n}.txt") } else { format!("{dir}/f{n}.txt") };
        out.extend(tree.create_text(&path, "// new file\n").unwrap());
        self.files.push(path);
        self.current = self.files.len() - 1;
        (self.cursor, self.len) = (12, 12);
    }

    /// Appends the operations of the next action to `out`.
    fn step(&mut self, tree: &mut WorkTree, out: &mut Vec<TreeOp>) {
        self.made += 1;
        let n = self.made;
        match self.rng.below(1000) {
            0..=4 => self.new_file(tree, out, n),
            5..=7 => {
                let i = self.rng.below(self.files.len());
                let dir = &self.dirs[self.rng.below(self.dirs.len())];
                let to = if dir.is_empty() { format!("r{n}.txt") } else { format!("{dir}/r{n}.txt") };
                out.push(tree.rename(&self.files[i], &to).unwrap());
                self.files[i] = to;
            }
            8..=9 => {
                let name = format!("src/d{n}");
                out.push(tree.create_dir(&name).unwrap());
                self.dirs.push(name);
            }
            10..=39 => {
                self.current = self.rng.below(self.files.len());
                self.len = tree.read_text(&self.files[self.current]).unwrap().chars().count();
                self.cursor = self.rng.below(self.len + 1);
            }
            40..=139 if self.cursor > 0 => {
                out.extend(tree.edit_text(&self.files[self.current], self.cursor - 1, self.cursor, "").unwrap());
                (self.cursor, self.len) = (self.cursor - 1, self.len - 1);
            }
            _ => {
                let c = ["e", "t", "a", " ", "o", "\n", "n", "(", "s", "é"][self.rng.below(10)];
                out.extend(tree.edit_text(&self.files[self.current], self.cursor, self.cursor, c).unwrap());
                (self.cursor, self.len) = (self.cursor + 1, self.len + 1);
            }
        }
    }
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn per_second(n: u64, d: Duration) -> String {
    let rate = n as f64 / d.as_secs_f64();
    if rate >= 10_000.0 {
        format!("{:.0}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

/// Appends `ops` in batches of `batch` (one synced write each): the time.
fn append_all(store: &mut Store, ops: &[TreeOp], batch: usize) -> Duration {
    let start = Instant::now();
    for chunk in ops.chunks(batch) {
        store.append(chunk).unwrap();
    }
    start.elapsed()
}

fn session_ops(n: usize) -> (WorkTree, Vec<TreeOp>) {
    let mut tree = WorkTree::new(memo_core::ReplicaId::from_u128(7), Arc::new(EmptyBase));
    let mut ops = Vec::with_capacity(n + 64);
    let mut session = Session::new(&mut tree, &mut ops);
    while ops.len() < n {
        session.step(&mut tree, &mut ops);
    }
    (tree, ops)
}

fn main() {
    let big: usize = std::env::var("STORE_BENCH_OPS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let scratch = tempfile::tempdir().unwrap();
    println!("| measure | result |");
    println!("|---|---:|");

    // Sustained appends.
    let (_, ops) = session_ops(200_000);
    let mut store = Store::open(scratch.path().join("keystrokes")).unwrap();
    let single = 2_000;
    let took = append_all(&mut store, &ops[..single], 1);
    println!("| appends, one synced append per keystroke ({single} ops) | {} ops/s |", per_second(single as u64, took));
    let mut store = Store::open(scratch.path().join("batches")).unwrap();
    let took = append_all(&mut store, &ops, 100);
    let n = ops.len() as u64;
    println!("| appends, 100 ops per synced append ({n} ops) | {} ops/s |", per_second(n, took));
    drop(store);

    // Start-up of a big store.
    let path = scratch.path().join("big");
    let made = Instant::now();
    let (tree, ops) = session_ops(big);
    let generated = made.elapsed();
    let (_, mut store) = replica::open(&path, Arc::new(EmptyBase)).unwrap();
    // The store is a fresh replica: store the session as a peer's operations.
    let stored = append_all(&mut store, &ops, 10_000);
    eprintln!("generated {} ops in {}, stored in {}", ops.len(), ms(generated), ms(stored));
    let n = store.len();
    let start = Instant::now();
    let snapshot = tree.encode_snapshot();
    let encode = start.elapsed();
    let start = Instant::now();
    replica::save_snapshot(&mut store, &tree).unwrap();
    let save = start.elapsed();
    store.compact().unwrap();
    drop(store);
    let bytes = dir_bytes(&path);
    println!(
        "| store of {n} ops: bytes on disk (after compaction) | {:.1} MB, {:.1} bytes/op |",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64
    );
    println!(
        "| its snapshot | {:.2} MB ({:.2} bytes/op); encode {}, encode and store {} |",
        snapshot.len() as f64 / 1e6,
        snapshot.len() as f64 / n as f64,
        ms(encode),
        ms(save)
    );
    let start = Instant::now();
    let loaded = WorkTree::decode_snapshot(tree.replica(), Arc::new(EmptyBase), &snapshot).unwrap();
    println!("| `decode_snapshot` alone (in memory) | {} |", ms(start.elapsed()));
    assert_eq!(loaded.version(), tree.version());
    let start = Instant::now();
    let (from_snapshot, store) = replica::open(&path, Arc::new(EmptyBase)).unwrap();
    println!("| start-up ({n} ops): open + newest snapshot + tail | {} |", ms(start.elapsed()));
    drop(store);
    let start = Instant::now();
    let store = Store::open(&path).unwrap();
    let replayed = replica::rebuild_without_snapshot(&store, Arc::new(EmptyBase)).unwrap();
    println!("| start-up ({n} ops): open + full replay, one op at a time | {} |", ms(start.elapsed()));
    drop(store);
    assert_eq!(from_snapshot.version(), replayed.version());
    assert_eq!(from_snapshot.paths(), replayed.paths());

    // The automerge-paper trace as operations.
    match memo_traces::load("sequential/automerge-paper") {
        Err(message) => eprintln!("automerge-paper skipped: {message}"),
        Ok(trace) => {
            let mut tree = WorkTree::new(memo_core::ReplicaId::from_u128(8), Arc::new(EmptyBase));
            let mut ops = tree.create_text("paper.txt", "").unwrap();
            for patch in trace.txns.iter().flat_map(|txn| &txn.patches) {
                ops.extend(tree.edit_text("paper.txt", patch.pos, patch.pos + patch.del, &patch.ins).unwrap());
            }
            assert!(tree.read_text("paper.txt").unwrap() == trace.end_content);
            let path = scratch.path().join("paper");
            let mut store = Store::open(&path).unwrap();
            append_all(&mut store, &ops, 1_000);
            store.compact().unwrap();
            let snapshot = tree.encode_snapshot();
            replica::save_snapshot(&mut store, &tree).unwrap();
            store.compact().unwrap();
            drop(store);
            let bytes = dir_bytes(&path);
            let text = trace.end_content.len();
            println!(
                "| automerge-paper ({} ops, final text {text} bytes): store on disk, with its snapshot | {:.0} KB, {:.1} bytes/op, {:.1}× the text, {:.1}× diamond-types' 106 KB |",
                ops.len(),
                bytes as f64 / 1e3,
                bytes as f64 / ops.len() as f64,
                bytes as f64 / text as f64,
                bytes as f64 / 106e3
            );
            println!(
                "| automerge-paper: the snapshot alone | {:.0} KB, {:.2} bytes/op, {:.2}× the text, {:.2}× diamond-types |",
                snapshot.len() as f64 / 1e3,
                snapshot.len() as f64 / ops.len() as f64,
                snapshot.len() as f64 / text as f64,
                snapshot.len() as f64 / 106e3
            );
            let start = Instant::now();
            let (loaded, _store) = replica::open(&path, Arc::new(EmptyBase)).unwrap();
            println!("| automerge-paper: start-up from the snapshot | {} |", ms(start.elapsed()));
            assert!(loaded.read_text("paper.txt").unwrap() == trace.end_content);
        }
    }
}
