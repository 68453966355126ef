//! The operation log: every applied operation, in the order it was applied
//! (a causal order), stored compactly. Consecutive operations of one
//! replica that continue each other (typing, backspacing) share an entry.

use super::list::Id;
use crate::replicas::LocalReplica;
use crate::runs::{self, IdRun};

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub id: Id,
    pub lamport: u64,
    pub units: u64,
    pub kind: EntryKind,
}

#[derive(Clone, Debug)]
pub(crate) enum EntryKind {
    /// `content` is a byte range of the item list's content buffer.
    Insert {
        left: Option<Id>,
        right: Option<Id>,
        content: (u32, u32),
    },
    Delete {
        targets: Vec<TargetRun>,
    },
    Undo {
        edits: Vec<(Id, u64)>,
        undone: bool,
    },
    Opaque {
        kind: u32,
        body: Vec<u8>,
    },
}

#[derive(Clone, Debug, Default)]
pub(crate) struct OpLog {
    entries: Vec<Entry>,
    /// Per replica, its entries' indices in sequence order.
    by_replica: Vec<Vec<u32>>,
}

impl OpLog {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends an operation, merging it into the last entry of the log
    /// when it continues it (then returns true).
    pub fn push(&mut self, entry: Entry) -> bool {
        if let Some(last) = self.entries.last_mut() {
            if continues(last, &entry) {
                last.units += entry.units;
                match (&mut last.kind, entry.kind) {
                    (EntryKind::Insert { content, .. }, EntryKind::Insert { content: more, .. }) => content.1 = more.1,
                    (EntryKind::Delete { targets }, EntryKind::Delete { targets: more }) => {
                        for run in more {
                            for (replica, seq, len) in run.ranges() {
                                runs::push(targets, replica, seq, len);
                            }
                        }
                    }
                    _ => unreachable!("continues() checks the kinds"),
                }
                return true;
            }
        }
        let replica = entry.id.replica() as usize;
        if self.by_replica.len() <= replica {
            self.by_replica.resize_with(replica + 1, Vec::new);
        }
        // Mostly in sequence order; an editor's session gets its own undos
        // after its later edits (see `TextSession`): keep the index sorted.
        let (list, entries) = (&mut self.by_replica[replica], &self.entries);
        let seq = |e: &u32| entries[*e as usize].id.seq();
        let at = match list.last().map(seq) {
            Some(last) if last > entry.id.seq() => list.partition_point(|e| seq(e) < entry.id.seq()),
            _ => list.len(),
        };
        list.insert(at, self.entries.len() as u32);
        self.entries.push(entry);
        false
    }

    /// Appends a delete of `targets`, merging into the last entry without
    /// allocating when it continues it (backspacing; then returns true).
    pub fn push_delete(&mut self, id: Id, lamport: u64, targets: &[(Id, u64)]) -> bool {
        let units = targets.iter().map(|t| t.1).sum();
        if let Some(last @ Entry { kind: EntryKind::Delete { .. }, .. }) = self.entries.last_mut() {
            if last.id.plus(last.units) == id && last.lamport + last.units == lamport {
                last.units += units;
                if let EntryKind::Delete { targets: all } = &mut last.kind {
                    for &(target, len) in targets {
                        push_target(all, target, len);
                    }
                }
                return true;
            }
        }
        self.push(Entry { id, lamport, units, kind: EntryKind::Delete { targets: target_runs(targets) } })
    }

    /// Grows the last entry, an insert, by `units` characters whose content
    /// ends at `content_end` (a run of typing).
    pub fn grow_last_insert(&mut self, units: u64, content_end: u32) {
        let last = self.entries.last_mut().expect("typing follows an insert");
        last.units += units;
        match &mut last.kind {
            EntryKind::Insert { content, .. } => content.1 = content_end,
            _ => unreachable!("typing follows an insert"),
        }
    }

    /// The entry holding unit `id`, if it has been applied.
    pub fn find(&self, id: Id) -> Option<&Entry> {
        let list = self.by_replica.get(id.replica() as usize)?;
        let i = list.partition_point(|&e| self.entries[e as usize].id.seq() <= id.seq());
        let entry = &self.entries[*list.get(i.checked_sub(1)?)? as usize];
        (id.seq() < entry.id.seq() + entry.units).then_some(entry)
    }
}

fn continues(last: &Entry, next: &Entry) -> bool {
    if last.id.plus(last.units) != next.id || last.lamport + last.units != next.lamport {
        return false;
    }
    match (&last.kind, &next.kind) {
        (
            EntryKind::Insert { right, content, .. },
            EntryKind::Insert { left: next_left, right: next_right, content: next_content },
        ) => *next_left == Some(next.id.prev()) && right == next_right && content.1 == next_content.0,
        (EntryKind::Delete { .. }, EntryKind::Delete { .. }) => true,
        _ => false,
    }
}

/// The characters a delete took, in the order it took them (see
/// [`crate::runs`]).
pub(crate) type TargetRun = IdRun<LocalReplica>;

/// Target runs from ranges of characters, in order.
pub(crate) fn target_runs(ranges: &[(Id, u64)]) -> Vec<TargetRun> {
    let mut runs = Vec::with_capacity(ranges.len());
    for &(id, len) in ranges {
        push_target(&mut runs, id, len);
    }
    runs
}

/// Appends the targets `id..id + len`.
pub(crate) fn push_target(runs: &mut Vec<TargetRun>, id: Id, len: u64) {
    runs::push(runs, id.replica(), id.seq(), len);
}

/// The characters taken by units `from..from + len` of a delete entry.
pub(crate) fn slice_targets(runs: &[TargetRun], from: u64, len: u64) -> Vec<(Id, u64)> {
    runs::slice(runs, from, len).into_iter().map(|(replica, seq, len)| (Id::new(replica, seq), len)).collect()
}

/// Appends a range of ids, merging it with the last one when adjacent.
pub(crate) fn push_range(ranges: &mut Vec<(Id, u64)>, (id, len): (Id, u64)) {
    if let Some((last, last_len)) = ranges.last_mut() {
        if last.plus(*last_len) == id {
            *last_len += len;
            return;
        }
    }
    ranges.push((id, len));
}
