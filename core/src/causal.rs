//! Causal delivery: operations may arrive in any order, duplicated or late.
//! Those not yet causally ready wait here, in a bounded buffer, until what
//! they depend on has been applied.

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
#[error("{limit} operations already wait for missing dependencies; dropped {range:?} (it will be fetched again)")]
pub struct BufferFull {
    pub limit: usize,
    pub range: IdRange,
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
    limit: usize,
}

#[derive(Debug)]
struct Pending<O> {
    op: O,
    range: IdRange,
    dependencies: Vec<IdRange>,
}

impl<O> Pending<O> {
    fn first_missing(&self, seen: &VersionVector) -> Option<(ReplicaId, Seq)> {
        first_missing(&self.range, &self.dependencies, seen)
    }
}

impl<O: CausalOp> CausalBuffer<O> {
    /// The default bound on waiting operations.
    pub const DEFAULT_LIMIT: usize = 100_000;

    pub fn new(limit: usize) -> Self {
        Self { pending: HashMap::new(), blocked_on: BTreeMap::new(), woken: Vec::new(), limit }
    }

    /// Changes the bound; operations already waiting stay.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn len(&self) -> usize {
        self.pending.len()
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
        if self.pending.len() >= self.limit {
            return Err(BufferFull { limit: self.limit, range });
        }
        let pending = Pending { dependencies: op.dependencies(), op, range };
        self.file(key, &pending, seen);
        self.pending.insert(key, pending);
        Ok(())
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
            let Some(pending) = self.pending.remove(&key) else {
                continue;
            };
            if pending.range.end() <= seen.get(pending.range.replica) {
                continue;
            }
            if pending.first_missing(seen).is_none() {
                return Some(pending.op);
            }
            self.file(key, &pending, seen);
            self.pending.insert(key, pending);
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
