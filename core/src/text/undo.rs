//! Undo registers: for every unit that an undo or redo has touched, whether
//! it is undone, decided by the latest (Lamport, replica) stamp.
//!
//! Undo state is a last-writer-wins register per unit rather than a toggle,
//! so that two concurrent undos of one edit both leave it undone instead of
//! cancelling out, and a later redo restores it.

use super::list::Id;
use crate::id::{ReplicaId, Seq};
use std::collections::{BTreeMap, VecDeque};

/// Who decided a register: compared as (Lamport, replica).
pub(crate) type Stamp = (u64, ReplicaId);

#[derive(Clone, Copy, Debug)]
struct Register {
    len: u64,
    stamp: Stamp,
    undone: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct UndoRegisters {
    /// Non-overlapping intervals keyed by their first unit.
    intervals: BTreeMap<Id, Register>,
}

impl UndoRegisters {
    /// Sets units `id..id + len` to `undone` where `stamp` is newer than
    /// what decided them so far. Returns the pieces whose state flipped.
    pub fn set(&mut self, id: Id, len: u64, stamp: Stamp, undone: bool) -> Vec<(Id, u64)> {
        self.split_at(id);
        self.split_at(id.plus(len));
        let mut flipped = Vec::new();
        let mut at = id;
        let end = id.seq() + len;
        while at.seq() < end {
            let next_start = self
                .intervals
                .range(at..)
                .next()
                .filter(|(k, _)| k.replica() == at.replica() && k.seq() < end)
                .map(|(k, _)| *k);
            match next_start {
                Some(start) if start == at => {
                    let reg = self.intervals.get_mut(&at).expect("just found");
                    if stamp > reg.stamp {
                        if reg.undone != undone {
                            flipped.push((at, reg.len));
                        }
                        reg.stamp = stamp;
                        reg.undone = undone;
                    }
                    at = at.plus(reg.len);
                }
                // A gap: never touched, so active and older than any stamp.
                gap_end => {
                    let len = gap_end.map_or(end, |s| s.seq()) - at.seq();
                    self.intervals.insert(at, Register { len, stamp, undone });
                    if undone {
                        flipped.push((at, len));
                    }
                    at = at.plus(len);
                }
            }
        }
        flipped
    }

    /// Makes an interval start at `at` if one covers it.
    fn split_at(&mut self, at: Id) {
        let Some((&start, reg)) = self.intervals.range_mut(..at).next_back() else {
            return;
        };
        if start.replica() != at.replica() || start.seq() + reg.len <= at.seq() {
            return;
        }
        let tail_len = start.seq() + reg.len - at.seq();
        reg.len -= tail_len;
        let tail = Register { len: tail_len, ..*reg };
        self.intervals.insert(at, tail);
    }
}

/// This replica's own edits, newest last, for `undo_last` / `redo_last`:
/// ranges of its units. A run of typing (or of backspacing) that the log
/// stores as one run is one step, as in editors; the oldest steps are
/// forgotten past [`UndoStack::LIMIT`].
#[derive(Clone, Debug, Default)]
pub(crate) struct UndoStack {
    undo: VecDeque<(Seq, u64)>,
    redo: Vec<(Seq, u64)>,
}

impl UndoStack {
    pub const LIMIT: usize = 10_000;

    /// Records a new local edit; `continues` says whether it continues the
    /// previous one (same run of typing), which then grows instead.
    #[inline]
    pub fn record(&mut self, seq: Seq, len: u64, continues: bool) {
        self.redo.clear();
        if let Some(last) = self.undo.back_mut().filter(|last| continues && last.0 + last.1 == seq) {
            last.1 += len;
            return;
        }
        self.push_undo((seq, len));
    }

    /// Makes the two most recent steps one (a replace: delete and insert).
    pub fn merge_last_two(&mut self) {
        if let (Some(last), Some(prev)) = (self.undo.pop_back(), self.undo.back_mut()) {
            prev.1 = last.0 + last.1 - prev.0;
        }
    }

    fn push_undo(&mut self, step: (Seq, u64)) {
        if self.undo.len() == Self::LIMIT {
            self.undo.pop_front();
        }
        self.undo.push_back(step);
    }

    pub fn pop_undo(&mut self) -> Option<(Seq, u64)> {
        self.undo.pop_back()
    }

    pub fn pop_redo(&mut self) -> Option<(Seq, u64)> {
        self.redo.pop()
    }

    pub fn undone(&mut self, step: (Seq, u64)) {
        self.redo.push(step);
    }

    pub fn redone(&mut self, step: (Seq, u64)) {
        self.push_undo(step);
    }
}
