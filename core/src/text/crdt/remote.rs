//! Remote operations: integration into the item list (FugueMax) and undo.

use super::TextCrdt;
use crate::id::{IdRange, OpId, ReplicaId};
use crate::text::list::{Id, ItemList, Key, Run, Visibility};
use crate::text::log::{self, Entry, EntryKind};
use crate::text::undo::Stamp;
use crate::text::{CompactString, InvalidOp, TextChange, TextOp, TextOpKind};
use std::cmp::Ordering;

impl TextCrdt {
    /// Applies an operation that the host has checked: it is valid
    /// ([`TextOp::validate`]), causally ready (what it refers to, and its
    /// author's earlier units in this document, are applied; an undo or
    /// redo may come after its author's later edits, as an editor's
    /// [`crate::text::TextSession`] gets its own undos) and none of its
    /// units is applied yet (the host trims those). Appends the exact
    /// changes of the visible text to `changes`.
    ///
    /// An operation that refers to units that are not this document's (a
    /// character it lacks, an edit not in its log) changes nothing and
    /// returns why.
    pub fn integrate(&mut self, op: TextOp, changes: &mut Vec<TextChange>) -> Result<(), InvalidOp> {
        self.typing = None;
        let id = Id::new(self.intern(op.id.replica)?, op.id.seq);
        let units = op.units();
        let mut shown = Vec::new();
        let kind = match op.kind {
            TextOpKind::Insert { left, right, text } => {
                self.integrate_insert(id, units, (left, right), op.id.replica, text, changes)?
            }
            TextOpKind::Delete { targets } => self.integrate_delete(&targets, &mut shown)?,
            TextOpKind::Undo { edits, undone } => {
                self.integrate_undo(&edits, undone, (op.lamport, op.id.replica), &mut shown)?
            }
            TextOpKind::Opaque { kind, body, .. } => EntryKind::Opaque { kind, body },
        };
        self.changes_from(shown, changes);
        self.log.push(Entry { id, lamport: op.lamport, units, kind });
        Ok(())
    }

    fn integrate_insert(
        &mut self,
        id: Id,
        units: u64,
        (left, right): (Option<OpId>, Option<OpId>),
        author: ReplicaId,
        text: CompactString,
        changes: &mut Vec<TextChange>,
    ) -> Result<EntryKind, InvalidOp> {
        let (left, right) = (self.local_id(left)?, self.local_id(right)?);
        let at = self.integration_point(left, right, author)?;
        let content = self.list.push_content(&text);
        let run = Run { id, len: units as u32, left, right, content: content.0, deletes: 0, undone: false };
        let key = self.list.insert_before(at, run);
        changes.push(TextChange { pos: self.list.visible_before(key), delete: 0, insert: text });
        Ok(EntryKind::Insert { left, right, content })
    }

    fn integrate_delete(&mut self, targets: &[IdRange], shown: &mut Vec<Visibility>) -> Result<EntryKind, InvalidOp> {
        let targets = self.local_ranges(targets)?;
        // The effect does not depend on the order: check and apply
        // contiguous ranges (a run of backspaces is one), and log the
        // targets in the order of the units.
        let mut ranges = targets.clone();
        ranges.sort_unstable();
        let mut merged: Vec<(Id, u64)> = Vec::with_capacity(ranges.len());
        for range in ranges {
            log::push_range(&mut merged, range);
        }
        if let Some(&(id, _)) = merged.iter().find(|&&(id, len)| !self.are_chars(id, len)) {
            return Err(InvalidOp::NotACharacter(self.op_id(id)));
        }
        for &(target, len) in &merged {
            self.list.update(target, len, |run| run.deletes += 1, shown);
        }
        Ok(EntryKind::Delete { targets: log::target_runs(&targets) })
    }

    fn integrate_undo(
        &mut self,
        edits: &[IdRange],
        undone: bool,
        stamp: Stamp,
        shown: &mut Vec<Visibility>,
    ) -> Result<EntryKind, InvalidOp> {
        let edits = self.local_ranges(edits)?;
        // Only this document's edits: with a sequence shared between
        // documents, causal readiness alone does not say that.
        if let Some(&(id, _)) = edits.iter().find(|&&(id, len)| !self.are_edits(id, len)) {
            return Err(InvalidOp::NotAnEdit(self.op_id(id)));
        }
        for &(edit, len) in &edits {
            for (piece, piece_len) in self.undo.set(edit, len, stamp, undone) {
                self.apply_undo(piece, piece_len, undone, shown);
            }
        }
        Ok(EntryKind::Undo { edits, undone })
    }

    /// Makes the effects of units `id..id + len` undone or active again.
    fn apply_undo(&mut self, id: Id, len: u64, undone: bool, shown: &mut Vec<Visibility>) {
        let mut at = id;
        let end = id.seq() + len;
        while at.seq() < end {
            let entry = self.log.find(at).expect("undo of applied units").clone();
            let from = at.seq() - entry.id.seq();
            let take = (entry.units - from).min(end - at.seq());
            match &entry.kind {
                EntryKind::Insert { .. } => self.list.update(at, take, |run| run.undone = undone, shown),
                EntryKind::Delete { targets } => {
                    for (target, n) in log::slice_targets(targets, from, take) {
                        match undone {
                            true => self.list.update(target, n, |run| run.deletes -= 1, shown),
                            false => self.list.update(target, n, |run| run.deletes += 1, shown),
                        }
                    }
                }
                // Undoing an undo is a redo, said with `undone: false`.
                EntryKind::Undo { .. } | EntryKind::Opaque { .. } => {}
            }
            at = at.plus(take);
        }
    }

    fn changes_from(&self, shown: Vec<Visibility>, changes: &mut Vec<TextChange>) {
        changes.extend(shown.into_iter().map(|v| match v {
            Visibility::Hidden { pos, len } => TextChange { pos, delete: len, insert: CompactString::default() },
            Visibility::Shown { pos, content: (start, end) } => {
                TextChange { pos, delete: 0, insert: self.list.content((start, end)).into() }
            }
        }));
    }

    /// Where an insert between `left` and `right` goes: before the returned
    /// key (`None`: at the end). This is FugueMax in list form (YjsMod):
    /// scan from `left` towards `right`, skipping items that belong to
    /// subtrees ordered before the new one. See Gentle & Kleppmann, and
    /// Joseph Gentle's reference-crdts `integrateYjsMod`.
    fn integration_point(
        &self,
        left: Option<Id>,
        right: Option<Id>,
        author: ReplicaId,
    ) -> Result<Option<Key>, InvalidOp> {
        let key_of = |id: Id| self.list.key_of(id).ok_or(InvalidOp::NotACharacter(self.op_id(id)));
        let left_key = left.map(key_of).transpose()?;
        let right_key = right.map(key_of).transpose()?;
        if let (Some(l), Some(r), Some(left), Some(right)) = (left_key, right_key, left, right) {
            if l >= r {
                return Err(InvalidOp::OriginsOutOfOrder { left: self.op_id(left), right: self.op_id(right) });
            }
        }
        let mut cursor = match left_key {
            Some(key) => self.list.next_key(key),
            None => self.list.first_key(),
        };
        let mut dest = cursor;
        let mut scanning = false;
        while let Some(key) = cursor {
            if !scanning {
                dest = cursor;
            }
            if Some(key) == right_key {
                break;
            }
            let run = self.list.run_at(key);
            let other_left = match key.off {
                0 => run.left.map(|id| self.list.key_of(id).expect("origin applied")),
                _ => Some(key.prev()),
            };
            let other_right = run.right.map(|id| self.list.key_of(id).expect("origin applied"));
            match ItemList::cmp_left(other_left, left_key) {
                Ordering::Less => break,
                Ordering::Equal => match ItemList::cmp_right(other_right, right_key) {
                    Ordering::Less => scanning = true,
                    Ordering::Equal if author < self.replicas.id(run.id.replica()) => break,
                    _ => scanning = false,
                },
                Ordering::Greater => {}
            }
            // The run's other characters all have their left origin inside
            // this run, after `left`: they are skipped too, unless `right`
            // is among them.
            cursor = match ItemList::same_run_ahead(key, right_key).filter(|r| *r != key) {
                Some(right) => Some(right),
                None => self.list.next_run(key),
            };
        }
        if cursor.is_none() && !scanning {
            dest = None;
        }
        Ok(dest)
    }
}
