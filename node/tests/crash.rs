//! The crash test, with real processes: a child `memo debug-append-stream`
//! makes a seeded stream of local operations, appends each to its store
//! and prints the sequence number it acknowledged; this test `kill -9`s it
//! at random moments, restarts it, and checks after every kill that each
//! acknowledged operation is in the store and that the rebuilt replica
//! (from its newest snapshot and the operations after it) equals one that
//! never crashed.

use memo_core::tree::{EmptyBase, WorkTree};
use memo_core::Seq;
use memo_node::{debug, replica};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Far beyond what a child reaches before it is killed.
const FOREVER: Seq = 1 << 40;

fn spawn(store: &Path, seed: u64, until: Seq) -> Child {
    Command::new(env!("CARGO_BIN_EXE_memo"))
        .arg("debug-append-stream")
        .arg(store)
        .args([seed.to_string(), until.to_string()])
        // Snapshots often, so that kills also land amid snapshot writes.
        .args(["--snapshot-every", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start memo debug-append-stream")
}

/// Reads the child's acknowledgements until its stdout closes: the highest
/// acknowledged sequence number (0 if none).
fn read_acks(child: &mut Child) -> thread::JoinHandle<Seq> {
    let stdout = child.stdout.take().expect("piped");
    thread::spawn(move || {
        let lines = BufReader::new(stdout).lines().map_while(Result::ok);
        lines.map(|line| line.parse::<Seq>().expect("a sequence number")).max().unwrap_or(0)
    })
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut text).expect("read stderr");
    text
}

/// Checks the store after a crash against the replica that never crashed
/// (advanced in place to the stored sequence), and that nothing
/// acknowledged is missing.
fn check(store: &Path, seed: u64, acked: Seq, reference: &mut Option<WorkTree>, context: &str) {
    let (rebuilt, store) = replica::open(store, Arc::new(EmptyBase)).expect("reopen after the crash");
    let stored = store.next_seq();
    eprintln!("{context}: acknowledged up to {acked}, stored up to {stored}, {} operations", store.len());
    assert!(stored >= acked, "{context}: acknowledged up to {acked}, stored only up to {stored}");
    let reference = reference.get_or_insert_with(|| WorkTree::new(store.replica_id(), Arc::new(EmptyBase)));
    while reference.version().get(store.replica_id()) < stored {
        debug::step(reference, seed);
    }
    assert_eq!(reference.version(), rebuilt.version(), "{context}: version");
    assert_eq!(reference.paths(), rebuilt.paths(), "{context}: paths");
    for path in reference.paths() {
        assert_eq!(reference.read(&path), rebuilt.read(&path), "{context}: {path}");
    }
}

fn crash_test(seed: u64, kills: usize, max_delay_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut reference = None;
    let mut acked = 0;
    for kill in 0..kills {
        let context = format!("seed {seed}, kill {kill}");
        let mut child = spawn(&store, seed, FOREVER);
        let acks = read_acks(&mut child);
        // The first kill while the store is being made, the others during
        // start-up (replay) or, mostly, amid appends.
        let delay = if kill == 0 { rng.gen_range(0..=3) } else { rng.gen_range(0..=max_delay_ms) };
        thread::sleep(Duration::from_millis(delay));
        child.kill().expect("kill -9 the child");
        let status = child.wait().expect("reap the child");
        let stderr = stderr_of(&mut child);
        assert!(status.code().is_none(), "{context}: the child ended by itself ({status}): {stderr}");
        acked = acked.max(acks.join().expect("ack reader"));
        check(&store, seed, acked, &mut reference, &context);
    }
    // A last run that ends by itself: the stream goes on where it stopped.
    let until = acked + 50;
    let mut child = spawn(&store, seed, until);
    let acks = read_acks(&mut child);
    let status = child.wait().expect("wait for the child");
    let stderr = stderr_of(&mut child);
    assert!(status.success(), "seed {seed}, last run: {status}: {stderr}");
    assert!(acks.join().unwrap() >= until);
    check(&store, seed, until, &mut reference, &format!("seed {seed}, end"));
}

#[test]
fn acknowledged_operations_survive_kill_9() {
    crash_test(1, 4, 300);
}

#[test]
#[ignore = "long run (50 kills): cargo test -p memo-node --test crash -- --ignored"]
fn acknowledged_operations_survive_many_kill_9() {
    crash_test(2, 60, 400);
}
