//! Start-up: a working copy's replica rebuilt from its store.
//!
//! For now start-up replays every stored operation into a fresh
//! [`WorkTree`]; the snapshot of issue 4's second part will let it load a
//! saved tree and replay only the operations stored after it.

use crate::store::{Store, StoreError};
use memo_core::causal::CausalBuffer;
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

/// Replays the store into a fresh tree and checks the local sequence.
pub fn rebuild(store: &Store, base: Arc<dyn BaseSnapshot>) -> Result<WorkTree, RecoveryError> {
    let mut tree = WorkTree::new(store.replica_id(), base);
    // Arrival order is nearly causal, but the live tree may have dropped an
    // operation from a full buffer (catch-up fetches it again): the replay
    // must not drop it a second time, so it buffers without a bound.
    tree.set_pending_limit(usize::MAX);
    let mut refused = 0usize;
    store.for_each_op(|op| refused += usize::from(replay(&mut tree, op).is_err()))?;
    tree.set_pending_limit(CausalBuffer::<TreeOp>::DEFAULT_LIMIT);
    if refused > 0 {
        tracing::warn!(refused, "stored operations the tree refused again (it refused them when they arrived)");
    }
    check_local_sequence(store, &tree)?;
    Ok(tree)
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
