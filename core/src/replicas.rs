//! Interning of replica ids: the CRDTs store a small local index instead of
//! a 16-byte UUID in every run and log entry.

use crate::id::ReplicaId;
use std::cell::Cell;
use std::collections::HashMap;

/// A replica's index in one document's [`ReplicaTable`]: local to this
/// process, never sent.
pub(crate) type LocalReplica = u32;

#[derive(Debug, Default, Clone)]
pub(crate) struct ReplicaTable {
    ids: Vec<ReplicaId>,
    index: HashMap<ReplicaId, LocalReplica>,
    /// The last id looked up: consecutive operations name the same few
    /// replicas, and a comparison is cheaper than hashing.
    last: Cell<Option<(ReplicaId, LocalReplica)>>,
}

impl ReplicaTable {
    /// The local index of `id`, assigning the next one if it is new;
    /// `None` when the table already holds `limit` replicas.
    pub fn intern(&mut self, id: ReplicaId, limit: u32) -> Option<LocalReplica> {
        if let Some(local) = self.get(id) {
            return Some(local);
        }
        if self.ids.len() >= limit as usize {
            return None;
        }
        self.ids.push(id);
        let local = (self.ids.len() - 1) as LocalReplica;
        self.index.insert(id, local);
        Some(local)
    }

    pub fn get(&self, id: ReplicaId) -> Option<LocalReplica> {
        if let Some((_, local)) = self.last.get().filter(|(last, _)| *last == id) {
            return Some(local);
        }
        let local = self.index.get(&id).copied()?;
        self.last.set(Some((id, local)));
        Some(local)
    }

    pub fn id(&self, local: LocalReplica) -> ReplicaId {
        self.ids[local as usize]
    }
}
