//! Causal delivery: operations may arrive in any order, duplicated or late.
//! Those not yet causally ready wait here, in a bounded buffer, until what
//! they depend on has been applied.
//!
//! The buffer is bounded in operations and in bytes ([`Bounds`]), because
//! a peer decides what we are sent: a flood of operations from the far
//! future would otherwise wait here forever. What does not fit is refused
//! ([`BufferFull`]) and must not be kept anywhere else either: the node
//! fetches it again by catch-up, which sends each author's operations in
//! order, so that they apply without waiting.

use crate::id::{IdRange, ReplicaId, Seq};
use crate::version::VersionVector;
use std::collections::{BTreeMap, HashMap};

/// An operation as the causal buffer sees it.
pub trait CausalOp {
    /// The units the operation covers.
    fn range(&self) -> IdRange;
    /// Units that must have been applied first (besides the author's
    /// earlier units, which are implied).
    fn dependencies(&self) -> Vec<IdRange>;
    /// About how many bytes of memory it holds: what [`Bounds::bytes`]
    /// counts.
    fn size(&self) -> usize;
}

/// How much may wait in a [`CausalBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Operations that may wait.
    pub ops: usize,
    /// Bytes they may hold together ([`CausalOp::size`]).
    pub bytes: usize,
}

impl Bounds {
    /// The default: 100,000 operations, 64 MiB. Typing waits in small
    /// operations, so the count rarely binds; the bytes keep a flood of
    /// large ones (binary content) from filling memory. An operation
    /// larger than the byte bound never waits: it applies when catch-up
    /// delivers it after what it depends on.
    pub const DEFAULT: Bounds = Bounds { ops: 100_000, bytes: 64 << 20 };

    /// No bound: for replaying operations already stored, which must not
    /// be dropped.
    pub const UNBOUNDED: Bounds = Bounds { ops: usize::MAX, bytes: usize::MAX };
}

/// Whether `op` can be applied by a replica that has applied `seen`: its
/// author's earlier units and its dependencies are all there.
pub fn is_ready<O: CausalOp>(op: &O, seen: &VersionVector) -> bool {
    first_missing(&op.range(), &op.dependencies(), seen).is_none()
}

/// The first unit an operation covering `range` with `dependencies` still
/// lacks, if any.
fn first_missing(range: &IdRange, dependencies: &[IdRange], seen: &VersionVector) -> Option<(ReplicaId, Seq)> {
    let applied = seen.get(range.replica);
    if range.seq > applied {
        return Some((range.replica, range.seq - 1));
    }
    dependencies.iter().find(|d| !seen.contains_range(d)).map(|d| (d.replica, d.end() - 1))
}

/// The buffer is full: the operation was dropped. Catch-up fetches it again
/// once the missing operations have arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{waiting} operations ({bytes} bytes) already wait for missing dependencies, within {bounds:?}; \
     dropped {range:?} (it will be fetched again)"
)]
pub struct BufferFull {
    pub range: IdRange,
    /// What waited when it was refused.
    pub waiting: usize,
    pub bytes: usize,
    pub bounds: Bounds,
}

/// An operation that waits, and for which units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub range: IdRange,
    pub missing: Vec<IdRange>,
}

/// Waiting operations, each filed under the first unit it lacks, so that
/// applying an operation wakes exactly the ones that waited for it.
#[derive(Debug)]
pub struct CausalBuffer<O> {
    pending: HashMap<(ReplicaId, Seq), Pending<O>>,
    /// A missing unit, and the operations (by start) that wait for it.
    blocked_on: BTreeMap<(ReplicaId, Seq), Vec<(ReplicaId, Seq)>>,
    /// Operations whose awaited unit arrived: to check again.
    woken: Vec<(ReplicaId, Seq)>,
    /// The sum of the waiting operations' sizes.
    bytes: usize,
    bounds: Bounds,
}

#[derive(Debug)]
struct Pending<O> {
    op: O,
    range: IdRange,
    dependencies: Vec<IdRange>,
    size: usize,
}

impl<O> Pending<O> {
    fn first_missing(&self, seen: &VersionVector) -> Option<(ReplicaId, Seq)> {
        first_missing(&self.range, &self.dependencies, seen)
    }
}

impl<O: CausalOp> CausalBuffer<O> {
    pub fn new(bounds: Bounds) -> Self {
        Self { pending: HashMap::new(), blocked_on: BTreeMap::new(), woken: Vec::new(), bytes: 0, bounds }
    }

    /// Changes the bounds; operations already waiting stay.
    pub fn set_bounds(&mut self, bounds: Bounds) {
        self.bounds = bounds;
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// The bytes the waiting operations hold ([`CausalOp::size`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The waiting operations, in no particular order.
    pub fn ops(&self) -> impl Iterator<Item = &O> {
        self.pending.values().map(|pending| &pending.op)
    }

    /// Parks `op` until it is ready (`take_ready` returns it at once if it
    /// already is). A second copy of a waiting operation is a no-op.
    pub fn insert(&mut self, op: O, seen: &VersionVector) -> Result<(), BufferFull> {
        let range = op.range();
        let key = (range.replica, range.seq);
        if self.pending.contains_key(&key) {
            return Ok(());
        }
        self.room_for(&op)?;
        let pending = Pending { dependencies: op.dependencies(), size: op.size(), op, range };
        self.file(key, &pending, seen);
        self.keep(key, pending);
        Ok(())
    }

    /// Whether [`CausalBuffer::admit`] would take `op` given `seen`:
    /// ready, already waiting, or room for it. A node asks before it
    /// stores an operation, so that it never stores what it then drops.
    pub fn admits(&self, op: &O, seen: &VersionVector) -> Result<(), BufferFull> {
        let range = op.range();
        match is_ready(op, seen) || self.pending.contains_key(&(range.replica, range.seq)) {
            true => Ok(()),
            false => self.room_for(op),
        }
    }

    /// Whether `count` more operations of `bytes` in all would fit, should
    /// every one of them have to wait.
    pub fn has_room(&self, count: usize, bytes: usize) -> bool {
        self.pending.len().saturating_add(count) <= self.bounds.ops
            && self.bytes.saturating_add(bytes) <= self.bounds.bytes
    }

    fn room_for(&self, op: &O) -> Result<(), BufferFull> {
        let fits = self.pending.len() < self.bounds.ops && self.bytes.saturating_add(op.size()) <= self.bounds.bytes;
        match fits {
            true => Ok(()),
            false => Err(BufferFull {
                range: op.range(),
                waiting: self.pending.len(),
                bytes: self.bytes,
                bounds: self.bounds,
            }),
        }
    }

    fn keep(&mut self, key: (ReplicaId, Seq), pending: Pending<O>) {
        self.bytes += pending.size;
        self.pending.insert(key, pending);
    }

    fn remove(&mut self, key: &(ReplicaId, Seq)) -> Option<Pending<O>> {
        let pending = self.pending.remove(key)?;
        self.bytes -= pending.size;
        Some(pending)
    }

    fn file(&mut self, key: (ReplicaId, Seq), pending: &Pending<O>, seen: &VersionVector) {
        match pending.first_missing(seen) {
            Some(unit) => self.blocked_on.entry(unit).or_default().push(key),
            None => self.woken.push(key),
        }
    }

    /// Tells the buffer that `range` has been applied: the operations that
    /// waited for one of its units are checked again.
    pub fn applied(&mut self, range: IdRange) {
        if self.pending.is_empty() {
            return;
        }
        let units = (range.replica, range.seq)..(range.replica, range.end());
        let keys: Vec<_> = self.blocked_on.range(units).map(|(unit, _)| *unit).collect();
        for unit in keys {
            let waiters = self.blocked_on.remove(&unit).unwrap_or_default();
            self.woken.extend(waiters);
        }
    }

    /// The operation to integrate first now that `op` has arrived: `op`
    /// itself when `seen` makes it ready (it is never buffered then), or
    /// else, once `op` is parked, a waiting one that is ready.
    pub fn admit(&mut self, op: O, seen: &VersionVector) -> Result<Option<O>, BufferFull> {
        if is_ready(&op, seen) {
            return Ok(Some(op));
        }
        self.insert(op, seen)?;
        Ok(self.take_ready(seen))
    }

    /// Removes and returns an operation that `seen` makes ready: its
    /// author's earlier units and its dependencies have all been applied.
    /// Stale copies (everything already applied) are dropped on the way.
    pub fn take_ready(&mut self, seen: &VersionVector) -> Option<O> {
        while let Some(key) = self.woken.pop() {
            let Some(pending) = self.remove(&key) else {
                continue;
            };
            if pending.range.end() <= seen.get(pending.range.replica) {
                continue;
            }
            if pending.first_missing(seen).is_none() {
                return Some(pending.op);
            }
            self.file(key, &pending, seen);
            self.keep(key, pending);
        }
        None
    }

    /// What waits, and for which missing units: for observability.
    pub fn waiting(&self, seen: &VersionVector) -> Vec<Waiting> {
        let mut waiting: Vec<Waiting> = self
            .pending
            .values()
            .map(|p| {
                let mut missing: Vec<IdRange> =
                    p.dependencies.iter().filter(|d| !seen.contains_range(d)).copied().collect();
                let next = seen.get(p.range.replica);
                if p.range.seq > next {
                    missing.push(IdRange::new(p.range.replica, next, p.range.seq - next));
                }
                Waiting { range: p.range, missing }
            })
            .collect();
        waiting.sort_by_key(|w| (w.range.replica, w.range.seq));
        waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` units of replica 1 from `seq`, holding `size` bytes.
    struct Op {
        seq: Seq,
        size: usize,
    }

    impl CausalOp for Op {
        fn range(&self) -> IdRange {
            IdRange::new(ReplicaId::from_u128(1), self.seq, 1)
        }
        fn dependencies(&self) -> Vec<IdRange> {
            Vec::new()
        }
        fn size(&self) -> usize {
            self.size
        }
    }

    #[test]
    fn the_buffer_is_bounded_in_operations_and_bytes_and_refuses_what_does_not_fit() {
        let seen = VersionVector::new();
        let mut buffer = CausalBuffer::new(Bounds { ops: 3, bytes: 100 });
        assert!(buffer.insert(Op { seq: 1, size: 60 }, &seen).is_ok());
        assert!(buffer.admits(&Op { seq: 2, size: 50 }, &seen).is_err(), "over the bytes");
        assert!(buffer.insert(Op { seq: 2, size: 50 }, &seen).is_err());
        assert!(buffer.admits(&Op { seq: 0, size: 500 }, &seen).is_ok(), "ready: never waits");
        assert!(buffer.admits(&Op { seq: 1, size: 60 }, &seen).is_ok(), "already waiting");
        assert!(buffer.insert(Op { seq: 2, size: 20 }, &seen).is_ok());
        assert!(buffer.insert(Op { seq: 3, size: 20 }, &seen).is_ok());
        let full = buffer.insert(Op { seq: 4, size: 0 }, &seen).unwrap_err();
        assert_eq!((full.waiting, full.bytes), (3, 100), "over the count");
        assert_eq!((buffer.len(), buffer.bytes()), (3, 100));

        // Once what they wait for is applied, they leave and free their bytes.
        let seen: VersionVector = [(ReplicaId::from_u128(1), 1)].into_iter().collect();
        buffer.applied(IdRange::new(ReplicaId::from_u128(1), 0, 1));
        assert_eq!(buffer.take_ready(&seen).map(|op| op.seq), Some(1));
        assert_eq!((buffer.len(), buffer.bytes()), (2, 40));
    }
}
