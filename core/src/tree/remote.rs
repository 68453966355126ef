//! Applying operations: causal delivery, then each kind's effect.

use super::entry::{Bytes, Entry, Kind, Lww, Register};
use super::ids::{EntryId, TimelineId};
use super::op::{base_from_wire, InvalidTreeOp, NewEntry, TreeOp, TreeOpKind, ValueId};
use super::structure::{Place, Stamp};
use super::{Head, WorkTree};
use crate::causal::{BufferFull, CausalOp, Waiting};
use crate::id::IdRange;
use crate::text::{TextCrdt, TextOp};

/// A remote operation that was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeApplyError {
    #[error("invalid operation {range:?}: {reason}")]
    Invalid { range: IdRange, reason: InvalidTreeOp },
    #[error("operation {range:?} belongs to {timeline:?}, not to this one")]
    OtherTimeline { range: IdRange, timeline: TimelineId },
    #[error(transparent)]
    BufferFull(#[from] BufferFull),
}

impl CausalOp for TreeOp {
    fn range(&self) -> IdRange {
        TreeOp::range(self)
    }

    fn dependencies(&self) -> Vec<IdRange> {
        TreeOp::dependencies(self)
    }

    fn size(&self) -> usize {
        std::mem::size_of::<TreeOp>() + self.heap_size()
    }
}

impl WorkTree {
    /// Applies an operation from another replica (or a copy of one of ours).
    ///
    /// It may arrive in any order, more than once, or late: a duplicate is a
    /// no-op, and one whose dependencies are missing waits (see
    /// [`WorkTree::waiting`]) and applies as soon as they arrive, with every
    /// waiting operation it makes ready. Returns how many were applied.
    pub fn apply(&mut self, op: TreeOp) -> Result<usize, TreeApplyError> {
        self.check(&op)?;
        if self.version.contains_range(&op.range()) {
            return Ok(0);
        }
        let mut next = self.pending.admit(op, &self.version)?;
        let (mut applied, mut first_error) = (0, None);
        while let Some(op) = next {
            let range = op.range();
            match self.integrate(op) {
                Ok(()) => {
                    self.pending.applied(range);
                    applied += 1;
                }
                Err(reason) => {
                    first_error.get_or_insert(TreeApplyError::Invalid { range, reason });
                }
            }
            next = self.pending.take_ready(&self.version);
        }
        match first_error {
            Some(error) if applied == 0 => Err(error),
            _ => Ok(applied),
        }
    }

    /// What [`WorkTree::apply`] checks before anything else: that `op` is
    /// well formed and belongs to this timeline. (Its effect may still be
    /// refused when it applies, e.g. a create inside a file.) A node checks
    /// this before it stores an operation.
    pub fn check(&self, op: &TreeOp) -> Result<(), TreeApplyError> {
        op.validate().map_err(|reason| TreeApplyError::Invalid { range: op.range(), reason })?;
        match op.timeline == self.timeline_of(op.range()) {
            true => Ok(()),
            false => Err(TreeApplyError::OtherTimeline { range: op.range(), timeline: op.timeline }),
        }
    }

    /// Whether [`WorkTree::apply`] would take `op` (checked, then applied
    /// or left waiting) rather than refuse it: a node asks before it stores
    /// an operation, so that it never stores one the full causal buffer
    /// then drops (a stored operation is never fetched again).
    pub fn admits(&self, op: &TreeOp) -> Result<(), TreeApplyError> {
        self.check(op)?;
        match self.version.contains_range(&op.range()) {
            true => Ok(()),
            false => Ok(self.pending.admits(op, &self.version)?),
        }
    }

    /// Whether the causal buffer has room for all of `ops`, should every one
    /// of them have to wait: then [`WorkTree::apply`] refuses none of them
    /// for want of room, in any order. A node asks before it stores a batch
    /// of operations in one write.
    pub fn has_room_for(&self, ops: &[TreeOp]) -> bool {
        self.pending.has_room(ops.len(), ops.iter().map(CausalOp::size).sum())
    }

    /// Operations waiting for dependencies, and what each lacks.
    pub fn waiting(&self) -> Vec<Waiting> {
        self.pending.waiting(&self.version)
    }

    /// Applies a causally ready operation, trimming units already applied.
    /// Everything is checked before anything changes.
    pub(super) fn integrate(&mut self, mut op: TreeOp) -> Result<(), InvalidTreeOp> {
        let applied = self.version.get(op.id.replica) - op.id.seq;
        if let (TreeOpKind::Edit { edit, .. }, true) = (&mut op.kind, applied > 0) {
            let mut text = TextOp { id: op.id, lamport: op.lamport, kind: edit.clone() };
            text.trim_front(applied);
            (op.id, op.lamport, *edit) = (text.id, text.lamport, text.kind);
        }
        let stamp = (op.lamport, op.id.replica);
        let units = op.units();
        match &op.kind {
            TreeOpKind::Create { parent, name, entry } => {
                let id = op.entry().expect("a create names its entry");
                self.check_parent(*parent)?;
                match self.entries.get(&id).map(|e| &e.kind) {
                    None => {
                        let kind = self.new_kind(ValueId::Op(op.id), entry, stamp);
                        self.entries.insert(id, Entry::new(kind, None));
                    }
                    Some(Kind::Dir) if matches!(entry, NewEntry::Dir { .. }) => {}
                    Some(_) => return Err(InvalidTreeOp::KindClash(id)),
                }
                self.structure.apply(id, Place { parent: *parent, name: name.as_str().into(), stamp });
                self.touch(id, op.id, units, false);
                self.forget_moves();
                self.view.forget_change(&self.structure, id, false);
            }
            TreeOpKind::Move { entry, parent, name } => {
                self.check_parent(*parent)?;
                self.known_or_dir(*entry)?;
                self.structure.apply(*entry, Place { parent: *parent, name: name.as_str().into(), stamp });
                self.touch(*entry, op.id, units, false);
                // A move that changed no place (it would have made a cycle,
                // or a later one overrides it) still revives a removed entry.
                self.forget_moves();
                self.view.forget_change(&self.structure, *entry, false);
            }
            TreeOpKind::Delete { entry, seen } => {
                self.known_or_dir(*entry)?;
                self.entries.get_mut(entry).expect("known").add_delete(seen.clone());
                self.view.forget_delete(&self.structure, *entry);
            }
            TreeOpKind::Edit { file, edit } => {
                let crdt = self.text_crdt(*file)?;
                let text = op.text_op(base_from_wire(edit.clone(), crdt.base()));
                crdt.integrate(text, &mut Vec::new())?;
                self.touch(*file, op.id, units, true);
                self.view.forget_change(&self.structure, *file, false);
            }
            TreeOpKind::SetContent { entry, content, replaces } => {
                self.set_register(*entry, ValueId::Op(op.id), stamp, content, replaces)?;
                self.touch(*entry, op.id, units, true);
                self.view.forget_change(&self.structure, *entry, true);
            }
            TreeOpKind::SetExecutable { file, executable } => {
                match self.entries.get_mut(file).map(|e| &mut e.kind) {
                    Some(Kind::Unread { executable: bit, .. })
                    | Some(Kind::Text { executable: bit, .. })
                    | Some(Kind::Binary { executable: bit, .. }) => bit.set(*executable, stamp),
                    _ => return Err(InvalidTreeOp::NotAContent(*file)),
                }
                self.touch(*file, op.id, units, true);
                self.view.forget_change(&self.structure, *file, false);
            }
            // The commit map is read from the log (`WorkTree::commits`).
            TreeOpKind::Commit { commit, .. } => self.move_head(Head::new(&op, commit, None)),
            TreeOpKind::Checkout { commit, branch } => self.move_head(Head::new(&op, commit, Some(branch))),
            TreeOpKind::Opaque { .. } => {}
        }
        self.advance(op.id, op.lamport, units);
        self.log_op(&op);
        Ok(())
    }

    /// The state of a new entry; `value` names its first content.
    fn new_kind(&self, value: ValueId, entry: &NewEntry, stamp: Stamp) -> Kind {
        match entry {
            NewEntry::Dir { .. } => Kind::Dir,
            NewEntry::Text { executable } => Kind::Text {
                text: Box::new(TextCrdt::new(self.replica)),
                executable: Lww { value: *executable, stamp },
            },
            NewEntry::Binary { content, executable } => Kind::Binary {
                content: Register::new(value, stamp, Bytes::Inline(content.clone())),
                executable: Lww { value: *executable, stamp },
            },
            NewEntry::Symlink { target } => {
                Kind::Symlink { target: Register::new(value, stamp, Bytes::Inline(target.clone().into_bytes())) }
            }
        }
    }

    /// A parent must be a directory: a known one, the root, or a derived
    /// one not known yet (made by an operation still on its way; its
    /// entries stay out of sight until it arrives).
    fn check_parent(&self, parent: EntryId) -> Result<(), InvalidTreeOp> {
        match (self.entries.get(&parent).map(|e| &e.kind), parent) {
            (Some(Kind::Dir), _) | (None, EntryId::Derived(_)) => Ok(()),
            (Some(_), _) => Err(InvalidTreeOp::NotADirectory(parent)),
            (None, _) => Err(InvalidTreeOp::UnknownEntry(parent)),
        }
    }

    /// Makes sure `entry` is known: a derived id not seen yet is a
    /// directory made by an operation still on its way.
    fn known_or_dir(&mut self, entry: EntryId) -> Result<(), InvalidTreeOp> {
        match (self.entries.contains_key(&entry), entry) {
            (true, _) => Ok(()),
            (false, EntryId::Derived(_)) => {
                self.entries.insert(entry, Entry::new(Kind::Dir, None));
                Ok(())
            }
            (false, _) => Err(InvalidTreeOp::UnknownEntry(entry)),
        }
    }

    fn set_register(
        &mut self,
        entry: EntryId,
        value: ValueId,
        stamp: Stamp,
        content: &[u8],
        replaces: &[ValueId],
    ) -> Result<(), InvalidTreeOp> {
        self.read_base(entry)?;
        let register = match self.entries.get_mut(&entry).map(|e| &mut e.kind) {
            Some(Kind::Binary { content, .. }) => content,
            Some(Kind::Symlink { target }) if std::str::from_utf8(content).is_ok() => target,
            Some(Kind::Symlink { .. }) => return Err(InvalidTreeOp::TargetNotUtf8),
            _ => return Err(InvalidTreeOp::NotAContent(entry)),
        };
        register.set(value, stamp, Bytes::Inline(content.to_vec()), replaces);
        Ok(())
    }
}
