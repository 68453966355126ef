//! The operation log: every applied operation, in the order it was applied
//! (a causal order), stored compactly. Consecutive operations of one
//! replica that continue each other (typing, backspacing) share an entry.

use super::list::Id;

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

#[derive(Debug, Default)]
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
                            for (id, len) in run.ranges() {
                                push_target(targets, id, len);
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
        self.by_replica[replica].push(self.entries.len() as u32);
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

/// Characters a delete took, in the order it took them: `len` ids up from
/// `first`, or down from it when `descending`. Backspacing takes one
/// character after another leftwards: one descending run, not one range
/// per keystroke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TargetRun {
    first: Id,
    len: u32,
    descending: bool,
}

impl TargetRun {
    /// The run as ascending ranges in unit order (a descending run is one
    /// range per character).
    pub fn ranges(self) -> impl Iterator<Item = (Id, u64)> {
        let singles = if self.descending { self.len } else { 0 };
        let ascending = (!self.descending).then_some((self.first, self.len as u64));
        ascending
            .into_iter()
            .chain((0..singles).map(move |i| (Id::new(self.first.replica(), self.first.seq() - i as u64), 1)))
    }

    /// The ids of units `from..from + len` of this run, as one range.
    fn slice(self, from: u32, len: u32) -> (Id, u64) {
        match self.descending {
            false => (self.first.plus(from as u64), len as u64),
            true => (Id::new(self.first.replica(), self.first.seq() - (from + len - 1) as u64), len as u64),
        }
    }
}

/// Target runs from ascending ranges.
pub(crate) fn target_runs(ranges: &[(Id, u64)]) -> Vec<TargetRun> {
    let mut runs = Vec::with_capacity(ranges.len());
    for &(id, len) in ranges {
        push_target(&mut runs, id, len);
    }
    runs
}

/// Appends the targets `id..id + len`, growing the last run when they
/// continue it (rightwards, or one character leftwards).
pub(crate) fn push_target(runs: &mut Vec<TargetRun>, id: Id, len: u64) {
    if let Some(last) = runs.last_mut() {
        let fits = last.len as u64 + len <= u32::MAX as u64;
        if fits && !last.descending && last.first.plus(last.len as u64) == id {
            last.len += len as u32;
            return;
        }
        // The lowest id of a descending run (or of a single character).
        let lowest = match last.descending {
            true => last.first.seq() + 1 - last.len as u64,
            false => last.first.seq(),
        };
        if fits
            && (last.descending || last.len == 1)
            && len == 1
            && last.first.replica() == id.replica()
            && id.seq() + 1 == lowest
        {
            last.descending = true;
            last.len += 1;
            return;
        }
    }
    let mut rest = len;
    let mut at = id;
    while rest > 0 {
        let take = rest.min(u32::MAX as u64);
        runs.push(TargetRun { first: at, len: take as u32, descending: false });
        at = at.plus(take);
        rest -= take;
    }
}

/// The targets of units `from..from + len` of a delete entry, as ranges.
pub(crate) fn slice_targets(runs: &[TargetRun], mut from: u64, mut len: u64) -> Vec<(Id, u64)> {
    let mut out = Vec::new();
    for &run in runs {
        if len == 0 {
            break;
        }
        if from >= run.len as u64 {
            from -= run.len as u64;
            continue;
        }
        let take = (run.len as u64 - from).min(len);
        out.push(run.slice(from as u32, take as u32));
        from = 0;
        len -= take;
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Units as single ids, in order.
    fn singles(ranges: impl IntoIterator<Item = (Id, u64)>) -> Vec<Id> {
        ranges.into_iter().flat_map(|(id, len)| (0..len).map(move |i| id.plus(i))).collect()
    }

    proptest! {
        #[test]
        fn target_runs_keep_units_in_order(
            steps in prop::collection::vec((0u32..2, 0u64..40, 1u64..4), 1..60),
            from in 0u64..80,
            len in 0u64..80,
        ) {
            let ranges: Vec<(Id, u64)> = steps.iter().map(|&(r, seq, n)| (Id::new(r, seq), n)).collect();
            let mut runs = Vec::new();
            for &(id, n) in &ranges {
                push_target(&mut runs, id, n);
            }
            let expected = singles(ranges.iter().copied());
            prop_assert_eq!(singles(runs.iter().flat_map(|r| r.ranges())), expected.clone());
            let mut sliced = singles(slice_targets(&runs, from, len));
            sliced.sort();
            let mut want: Vec<Id> = expected.iter().copied().skip(from as usize).take(len as usize).collect();
            want.sort();
            prop_assert_eq!(sliced, want);
        }
    }
}
