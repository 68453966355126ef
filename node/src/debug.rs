//! Test support shared by the `memo debug-append-stream` subcommand and
//! the crash tests: a seeded stream of local operations that a child
//! process writes to a store, and that the parent replays in memory.
//!
//! Each step is decided by the seed and the replica's next sequence
//! number only, so a process restarted on a store continues exactly the
//! stream a process that never crashed would have made.

use crate::replica::{ChangeError, RecoveryError, Replica};
use memo_core::tree::{Content, EmptyBase};
use memo_core::{Seq, TreeOp, WorkTree};
use std::convert::Infallible;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// SplitMix64: a few lines, deterministic everywhere, good enough to pick
/// test operations (the binary needs no `rand` for it).
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// The stream of `seed` at step `step`.
    pub fn new(seed: u64, step: u64) -> Self {
        Rng(seed ^ step.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &'a [String]) -> Option<&'a str> {
        (!items.is_empty()).then(|| items[self.below(items.len())].as_str())
    }
}

/// The next step of the stream `seed` on `tree`: one local change, made
/// and returned as operations (one or a few).
pub fn step(tree: &mut WorkTree, seed: u64) -> Vec<TreeOp> {
    let seq = tree.version().get(tree.replica());
    let mut rng = Rng::new(seed, seq);
    let (dirs, texts, all) = classify(tree);
    let dir = rng.pick(&dirs).unwrap_or("").to_string();
    let join = |dir: &str, name: String| if dir.is_empty() { name } else { format!("{dir}/{name}") };
    let made = match rng.below(10) {
        0 => tree.create_dir(&join(&dir, format!("d{seq}"))).map(|op| vec![op]),
        1 | 2 => tree.create_text(&join(&dir, format!("f{seq}.txt")), &format!("text {seq}\n")),
        3 => rng
            .pick(&all)
            .map(str::to_string)
            .map_or(Ok(Vec::new()), |from| tree.rename(&from, &join(&dir, format!("m{seq}"))).map(|op| vec![op])),
        4 if rng.below(3) == 0 => {
            rng.pick(&all).map(str::to_string).map_or(Ok(Vec::new()), |path| tree.delete(&path).map(|op| vec![op]))
        }
        _ => match rng.pick(&texts).map(str::to_string) {
            Some(path) => edit(tree, &path, &mut rng),
            None => Ok(Vec::new()),
        },
    };
    match made {
        Ok(ops) if !ops.is_empty() => ops,
        // Nothing to edit or move, or a move into itself: make a file.
        _ => tree.create_text(&format!("g{seq}.txt"), "x").expect("a fresh name at the top is free"),
    }
}

/// Shown directories (the top one as ""), text files, and every entry.
fn classify(tree: &WorkTree) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut dirs, mut texts, mut all) = (vec![String::new()], Vec::new(), Vec::new());
    for path in tree.paths() {
        match tree.read(&path) {
            Ok(Content::Dir) => dirs.push(path.clone()),
            Ok(Content::Text(_)) => texts.push(path.clone()),
            _ => {}
        }
        all.push(path);
    }
    (dirs, texts, all)
}

/// A typing-like edit: insert a few characters, or delete some.
fn edit(tree: &mut WorkTree, path: &str, rng: &mut Rng) -> Result<Vec<TreeOp>, memo_core::tree::TreeError> {
    let len = tree.read_text(path)?.chars().count();
    let at = rng.below(len + 1);
    match rng.below(4) {
        0 if len > 0 => {
            let end = (at + 1 + rng.below(5)).min(len);
            tree.edit_text(path, at.min(end), end, "")
        }
        _ => tree.edit_text(path, at, at, ["a", "bc", "def\n", "é"][rng.below(4)]),
    }
}

/// Applies the stream `seed` to the store at `path` until this replica's
/// next sequence number reaches `until`, and writes to `out` each
/// acknowledged sequence number (the next one, after each append). A
/// snapshot is written every `snapshot_every` stored operations and at
/// the end.
pub fn append_stream(
    path: &Path,
    seed: u64,
    until: Seq,
    snapshot_every: u64,
    out: &mut impl Write,
) -> Result<(), StreamError> {
    let mut replica = Replica::open(path, Arc::new(EmptyBase))?;
    replica.set_snapshot_interval(snapshot_every);
    while replica.store().next_seq() < until {
        replica.change(|tree| Ok::<_, Infallible>(step(tree, seed))).map_err(|e| match e {
            ChangeError::Store(e) => e,
            ChangeError::Refused(never) => match never {},
        })?;
        writeln!(out, "{}", replica.store().next_seq())?;
        out.flush()?;
    }
    replica.close()?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("writing the acknowledged sequence numbers: {0}")]
    Io(#[from] std::io::Error),
}

/// A digest of what `tree` shows: every path with its kind and content,
/// in path order. Two replicas with the same digest show the same tree.
pub fn digest(tree: &WorkTree) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for path in tree.paths() {
        hasher.update(path.as_bytes());
        match tree.read(&path) {
            Ok(Content::Dir) => hasher.update(b"\0dir\0"),
            Ok(Content::Text(text)) => hasher.update([b"\0text\0".as_slice(), text.as_bytes()].concat()),
            Ok(Content::Binary(bytes)) => hasher.update([b"\0binary\0".as_slice(), &bytes].concat()),
            Ok(Content::Symlink(target)) => hasher.update([b"\0link\0".as_slice(), target.as_bytes()].concat()),
            Err(error) => hasher.update(format!("\0unreadable {error}\0")),
        }
        hasher.update(b"\n");
    }
    memo_core::hex::encode(&hasher.finalize())
}
