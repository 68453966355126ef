//! A working copy's replica and its store, kept in step ([`Replica`]), and
//! start-up: the replica rebuilt from its store.
//!
//! The write path (MISSION rule 8): an operation is stored, its
//! write-ahead log synced, before it changes the tree others read, is
//! reported to an editor, or leaves the node. [`Replica::change`] stores
//! the operations of a local change before returning them (acknowledged:
//! they may now be gossiped); [`Replica::receive`] stores a remote
//! operation before applying it.
//!
//! Start-up loads the store's newest snapshot ([`WorkTree::decode_snapshot`])
//! and replays only the operations stored after it. A snapshot that does
//! not load (torn, garbled, from a newer Memo) is skipped with a warning and
//! every stored operation is replayed instead: the result is the same tree,
//! only slower. [`save_snapshot`] writes a new one; the node calls it when
//! [`Store::snapshot_due`] and on a clean shutdown.

use crate::store::{OpKey, Store, StoreError};
use memo_core::causal::Bounds;
use memo_core::tree::{BaseSnapshot, TreeApplyError};
use memo_core::{IdRange, Seq, TreeOp, WorkTree};
use std::path::Path;
use std::sync::Arc;

/// Why a replica could not be rebuilt from its store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the store promises this replica's operations up to sequence {promised}, but only {rebuilt} \
         units of them apply: operations are missing from the store; restore it from a backup"
    )]
    LostLocalOps { promised: Seq, rebuilt: Seq },
}

/// A remote operation that was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// Malformed, or of another timeline: not stored, nothing changed.
    #[error(transparent)]
    Refused(#[from] TreeApplyError),
    /// Not stored: the node must stop (nothing was applied).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ReceiveError {
    /// A refusal as an inner result; a store failure stays an error.
    fn refusal(self) -> Result<Result<usize, TreeApplyError>, StoreError> {
        match self {
            ReceiveError::Refused(error) => Ok(Err(error)),
            ReceiveError::Store(error) => Err(error),
        }
    }
}

/// A local change that was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangeError<E: std::error::Error + 'static> {
    /// The tree refused it: nothing changed.
    #[error(transparent)]
    Refused(E),
    /// Made on the tree but not stored: the node must stop, since the tree
    /// now holds operations the store lacks (a restart drops them, and
    /// they were never reported or sent).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A working copy's replica with its store (see the module documentation).
#[derive(Debug)]
pub struct Replica {
    tree: WorkTree,
    store: Store,
}

impl Replica {
    /// Opens the store at `path` (making it if new) and rebuilds the
    /// replica it holds on `base` (see [`open`]).
    pub fn open(path: impl AsRef<Path>, base: Arc<dyn BaseSnapshot>) -> Result<Replica, RecoveryError> {
        let (tree, store) = open(path, base)?;
        Ok(Replica { tree, store })
    }

    pub fn tree(&self) -> &WorkTree {
        &self.tree
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Makes a local change with `make` (any [`WorkTree`] change, which
    /// checks it and returns its operations), stores the operations, and
    /// returns them acknowledged. Writes a snapshot when one is due.
    pub fn change<E: std::error::Error + 'static>(
        &mut self,
        make: impl FnOnce(&mut WorkTree) -> Result<Vec<TreeOp>, E>,
    ) -> Result<Vec<TreeOp>, ChangeError<E>> {
        let ops = make(&mut self.tree).map_err(ChangeError::Refused)?;
        self.store.append(&ops)?;
        self.note_time()?;
        self.snapshot_if_due()?;
        Ok(ops)
    }

    /// Takes an operation from a peer: checks it, stores it, then applies
    /// it (it may wait for others, as in [`WorkTree::apply`]). A copy of an
    /// operation already stored changes nothing. Returns how many
    /// operations were applied.
    ///
    /// An operation that would wait while the tree's causal buffer is full
    /// is refused before it is stored ([`WorkTree::admits`]): stored, it
    /// would never be fetched again, yet apply only at the next start-up.
    pub fn receive(&mut self, op: TreeOp) -> Result<usize, ReceiveError> {
        self.tree.admits(&op)?;
        if self.store.contains(OpKey::of(&op))? {
            return Ok(0);
        }
        self.store.append(std::slice::from_ref(&op))?;
        let applied = self.tree.apply(op);
        self.note_time()?;
        self.snapshot_if_due()?;
        // Refused when applied (e.g. a create inside a file): stored all the
        // same, since storing comes first; replay refuses it again.
        Ok(applied?)
    }

    /// Takes a batch of operations from a peer (a catch-up response) as
    /// [`Replica::receive`] takes each, but stores the new ones in one
    /// synced write: a batch of a thousand would otherwise cost a thousand
    /// syncs. One result per operation, in order; the outer error: the
    /// store failed, and nothing of the batch was applied. When the causal
    /// buffer might not hold them all, they are taken one at a time.
    pub fn receive_all(&mut self, ops: Vec<TreeOp>) -> Result<Vec<Result<usize, TreeApplyError>>, StoreError> {
        if !self.tree.has_room_for(&ops) {
            return ops
                .into_iter()
                .map(|op| self.receive(op).map_or_else(ReceiveError::refusal, |n| Ok(Ok(n))))
                .collect();
        }
        let mut results = Vec::with_capacity(ops.len());
        let mut fresh = Vec::with_capacity(ops.len());
        for op in ops {
            match self.tree.check(&op) {
                Err(error) => results.push(Err(error)),
                Ok(()) if self.store.contains(OpKey::of(&op))? => results.push(Ok(0)),
                Ok(()) => {
                    results.push(Ok(0));
                    fresh.push((results.len() - 1, op));
                }
            }
        }
        let new: Vec<TreeOp> = fresh.iter().map(|(_, op)| op.clone()).collect();
        self.store.append(&new)?;
        for (index, op) in fresh {
            // Refused when applied: stored all the same (see `receive`).
            results[index] = self.tree.apply(op);
        }
        self.note_time()?;
        self.snapshot_if_due()?;
        Ok(results)
    }

    /// Notes the tree's version now in the store's time index (what
    /// `memo show --at <time>` reads): the time this replica applied an
    /// operation, its own or a peer's.
    fn note_time(&mut self) -> Result<(), StoreError> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        self.store.note_time(now.map_or(0, |since| since.as_secs()), self.tree.version())
    }

    /// Sets how much may wait in the tree's causal buffer.
    pub fn set_pending_bounds(&mut self, bounds: Bounds) {
        self.tree.set_pending_bounds(bounds);
    }

    /// Sets how many stored operations make a snapshot due.
    pub fn set_snapshot_interval(&mut self, ops: u64) {
        self.store.set_snapshot_interval(ops);
    }

    /// Writes a snapshot now, e.g. at a clean shutdown.
    pub fn snapshot(&mut self) -> Result<(), StoreError> {
        save_snapshot(&mut self.store, &self.tree)
    }

    fn snapshot_if_due(&mut self) -> Result<(), StoreError> {
        match self.store.snapshot_due() {
            true => self.snapshot(),
            false => Ok(()),
        }
    }

    /// Closes the replica cleanly: a snapshot, so the next start-up replays
    /// nothing.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.snapshot()
    }
}

/// Opens the store at `path` (making it if new) and rebuilds the replica
/// it holds on `base`: every stored operation applied to a fresh tree with
/// the store's replica id.
///
/// The tree's next sequence number then equals the store's
/// [`Store::next_seq`]: both are the end of the last stored local
/// operation, so no (replica, seq) pair is used twice.
pub fn open(path: impl AsRef<Path>, base: Arc<dyn BaseSnapshot>) -> Result<(WorkTree, Store), RecoveryError> {
    let store = Store::open(path)?;
    let tree = rebuild(&store, base)?;
    Ok((tree, store))
}

/// Loads the newest snapshot (if one loads), replays the operations stored
/// after it, and checks the local sequence.
pub fn rebuild(store: &Store, base: Arc<dyn BaseSnapshot>) -> Result<WorkTree, RecoveryError> {
    let (mut tree, from) = match load_snapshot(store, base.clone())? {
        Some((tree, covers)) => (tree, covers),
        None => (WorkTree::new(store.replica_id(), base), 0),
    };
    // Arrival order is nearly causal, but the live tree may have dropped an
    // operation from a full buffer (catch-up fetches it again): the replay
    // must not drop it a second time, so it buffers without a bound.
    tree.set_pending_bounds(Bounds::UNBOUNDED);
    let mut refused = 0usize;
    store.for_each_op_from(from, |op| refused += usize::from(replay(&mut tree, op).is_err()))?;
    tree.set_pending_bounds(Bounds::DEFAULT);
    if refused > 0 {
        tracing::warn!(refused, "stored operations the tree refused again (it refused them when they arrived)");
    }
    check_local_sequence(store, &tree)?;
    Ok(tree)
}

/// Replays every stored operation into a fresh tree, ignoring snapshots:
/// what start-up falls back to (for tests and benchmarks).
pub fn rebuild_without_snapshot(store: &Store, base: Arc<dyn BaseSnapshot>) -> Result<WorkTree, RecoveryError> {
    let mut tree = WorkTree::new(store.replica_id(), base);
    tree.set_pending_bounds(Bounds::UNBOUNDED);
    store.for_each_op(|op| drop(replay(&mut tree, op)))?;
    tree.set_pending_bounds(Bounds::DEFAULT);
    check_local_sequence(store, &tree)?;
    Ok(tree)
}

/// The newest snapshot as a tree, with how many arrivals it covers; `None`
/// (after a warning) if there is none or it does not load.
fn load_snapshot(store: &Store, base: Arc<dyn BaseSnapshot>) -> Result<Option<(WorkTree, u64)>, StoreError> {
    let (covers, bytes) = match store.newest_snapshot() {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(None),
        Err(StoreError::CorruptMeta { reason, .. }) => {
            tracing::warn!(%reason, "unreadable snapshot key: replaying every stored operation");
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    if covers > store.len() {
        tracing::warn!(covers, stored = store.len(), "snapshot covers more than is stored: replaying every operation");
        return Ok(None);
    }
    match WorkTree::decode_snapshot(store.replica_id(), base, &bytes) {
        Ok(tree) => Ok(Some((tree, covers))),
        Err(error) => {
            tracing::warn!(%error, covers, "snapshot does not load: replaying every stored operation");
            Ok(None)
        }
    }
}

/// Writes a snapshot of `tree`, which must hold exactly the operations
/// stored so far (each applied or refused, as they were stored).
pub fn save_snapshot(store: &mut Store, tree: &WorkTree) -> Result<(), StoreError> {
    store.put_snapshot(store.len(), &tree.encode_snapshot())
}

/// Applies one stored operation. The tree refuses the same operations it
/// refused when they arrived (a hostile or mismatched peer's): they are
/// stored, because storing comes first, and skipped again here.
fn replay(tree: &mut WorkTree, op: TreeOp) -> Result<usize, TreeApplyError> {
    let range: IdRange = op.range();
    tree.apply(op).inspect_err(|error| tracing::warn!(?range, %error, "stored operation refused on replay"))
}

/// The rebuilt tree must have applied every acknowledged local operation:
/// otherwise its next sequence number would reuse theirs.
fn check_local_sequence(store: &Store, tree: &WorkTree) -> Result<(), RecoveryError> {
    let rebuilt = tree.version().get(store.replica_id());
    match rebuilt < store.next_seq() {
        true => Err(RecoveryError::LostLocalOps { promised: store.next_seq(), rebuilt }),
        false => Ok(()),
    }
}
