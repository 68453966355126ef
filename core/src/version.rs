//! Version vectors: which operations a replica has seen.

use crate::id::{IdRange, OpId, ReplicaId, Seq};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// For each replica, how many of its units have been seen. Because sequences
/// are contiguous and applied in order, "seen `n` units of R" means exactly
/// the units `0..n`; replicas never seen are absent (count 0).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VersionVector(BTreeMap<ReplicaId, Seq>);

impl VersionVector {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many units of `replica` this vector includes (its next expected seq).
    pub fn get(&self, replica: ReplicaId) -> Seq {
        self.0.get(&replica).copied().unwrap_or(0)
    }

    /// Sets the count for `replica`; a count of 0 removes it.
    #[inline]
    pub fn set(&mut self, replica: ReplicaId, count: Seq) {
        if count == 0 {
            self.0.remove(&replica);
        } else if let Some(entry) = self.0.get_mut(&replica) {
            *entry = count;
        } else {
            self.0.insert(replica, count);
        }
    }

    /// Has this vector seen unit `id`?
    pub fn contains(&self, id: OpId) -> bool {
        id.seq < self.get(id.replica)
    }

    /// Has this vector seen every unit of `range`?
    pub fn contains_range(&self, range: &IdRange) -> bool {
        range.end() <= self.get(range.replica)
    }

    /// Raises every entry to at least `other`'s (the least upper bound).
    pub fn join(&mut self, other: &VersionVector) {
        for (&replica, &count) in &other.0 {
            let entry = self.0.entry(replica).or_insert(0);
            *entry = (*entry).max(count);
        }
    }

    /// Lowers every entry to at most `other`'s (the greatest lower bound).
    pub fn meet(&mut self, other: &VersionVector) {
        self.0.retain(|replica, count| {
            *count = (*count).min(other.get(*replica));
            *count > 0
        });
    }

    /// `Some(Less)` when `self` happened before `other`, `Some(Equal)` when
    /// they are the same, `None` when they are concurrent.
    pub fn partial_cmp(&self, other: &VersionVector) -> Option<Ordering> {
        let (mut less, mut greater) = (false, false);
        for replica in self.0.keys().chain(other.0.keys()) {
            match self.get(*replica).cmp(&other.get(*replica)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Some(Ordering::Equal),
            (true, false) => Some(Ordering::Less),
            (false, true) => Some(Ordering::Greater),
            (true, true) => None,
        }
    }

    /// Does `self` include everything `other` includes?
    pub fn dominates(&self, other: &VersionVector) -> bool {
        matches!(self.partial_cmp(other), Some(Ordering::Greater | Ordering::Equal))
    }

    /// The ranges of units that `self` has and `other` lacks: exactly what a
    /// peer at `other` must be sent to catch up with `self`.
    pub fn missing_from(&self, other: &VersionVector) -> Vec<IdRange> {
        self.0
            .iter()
            .filter(|(replica, count)| other.get(**replica) < **count)
            .map(|(&replica, &count)| {
                let from = other.get(replica);
                IdRange::new(replica, from, count - from)
            })
            .collect()
    }

    /// The replicas and their counts, in replica-id order.
    pub fn iter(&self) -> impl Iterator<Item = (ReplicaId, Seq)> + '_ {
        self.0.iter().map(|(r, c)| (*r, *c))
    }

    /// The total number of units seen.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(ReplicaId, Seq)> for VersionVector {
    fn from_iter<I: IntoIterator<Item = (ReplicaId, Seq)>>(iter: I) -> Self {
        let mut vv = VersionVector::new();
        for (replica, count) in iter {
            vv.set(replica, vv.get(replica).max(count));
        }
        vv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: u128) -> ReplicaId {
        ReplicaId::from_u128(n)
    }

    #[test]
    fn join_meet_compare_and_missing() {
        let a: VersionVector = [(r(1), 3), (r(2), 1)].into_iter().collect();
        let b: VersionVector = [(r(1), 1), (r(3), 2)].into_iter().collect();
        assert_eq!(a.partial_cmp(&b), None);
        let mut j = a.clone();
        j.join(&b);
        assert_eq!(j, [(r(1), 3), (r(2), 1), (r(3), 2)].into_iter().collect());
        assert!(j.dominates(&a) && j.dominates(&b) && !a.dominates(&j));
        let mut m = a.clone();
        m.meet(&b);
        assert_eq!(m, [(r(1), 1)].into_iter().collect());
        assert!(a.contains(OpId::new(r(1), 2)) && !a.contains(OpId::new(r(1), 3)));
        assert_eq!(a.missing_from(&b), vec![IdRange::new(r(1), 1, 2), IdRange::new(r(2), 0, 1)]);
        assert!(a.missing_from(&j).is_empty());
    }
}
