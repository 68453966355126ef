//! Local changes, named by path. Each checks everything first and either
//! returns the operations to send or an error and emits nothing.

use super::base::split_path;
use super::entry::{Bytes, Kind};
use super::ids::EntryId;
use super::op::{base_to_wire, check_name, InvalidTreeOp, NewEntry, TreeOp, TreeOpKind, MAX_CONTENT_BYTES};
use super::view::Shown;
use super::WorkTree;
use crate::id::{LocalStamp, OpId};
use crate::text::{TextError, TextOp};

/// A local change that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError {
    #[error("{0}: no such file or directory")]
    NotFound(String),
    #[error("{0}: already exists")]
    Exists(String),
    #[error("{0}: not a directory")]
    NotADirectory(String),
    #[error("{0}: not a text file")]
    NotAText(String),
    #[error("{0}: not a binary file or symlink")]
    NotAContent(String),
    #[error("{0}: not a file")]
    NotAFile(String),
    #[error("{0}: is a conflict copy; write to its file, or delete the copy to drop it")]
    ConflictCopy(String),
    #[error("the top directory cannot be moved or deleted")]
    Root,
    #[error("cannot move {from} into itself ({to})")]
    IntoItself { from: String, to: String },
    #[error("{0} bytes are more than one operation may carry ({MAX_CONTENT_BYTES})")]
    TooLarge(usize),
    #[error(transparent)]
    Invalid(#[from] InvalidTreeOp),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(transparent)]
    Session(#[from] crate::text::SessionError),
}

impl WorkTree {
    /// Makes a directory at `path` (its parent must exist).
    pub fn create_dir(&mut self, path: &str) -> Result<TreeOp, TreeError> {
        let (parent, name) = self.free_path(path)?;
        let generation = (0..).find(|&g| !self.entries.contains_key(&EntryId::derive(parent, name, g)));
        let entry = NewEntry::Dir { generation: generation.expect("some generation is free") };
        Ok(self.emit(TreeOpKind::Create { parent, name: name.into(), entry }))
    }

    /// Makes a text file at `path` holding `text`: a create and the edits
    /// that write the text.
    pub fn create_text(&mut self, path: &str, text: &str) -> Result<Vec<TreeOp>, TreeError> {
        check_size(text.len())?;
        let (parent, name) = self.free_path(path)?;
        let entry = NewEntry::Text { executable: false };
        let mut ops = vec![self.emit(TreeOpKind::Create { parent, name: name.into(), entry })];
        let file = EntryId::Created(ops[0].id);
        if !text.is_empty() {
            ops.extend(self.edit(file, |crdt, stamp| crdt.insert(stamp, 0, text).map(|op| vec![op]))?);
        }
        Ok(ops)
    }

    /// Makes a binary file at `path`.
    pub fn create_binary(&mut self, path: &str, content: Vec<u8>, executable: bool) -> Result<TreeOp, TreeError> {
        check_size(content.len())?;
        let (parent, name) = self.free_path(path)?;
        let entry = NewEntry::Binary { content, executable };
        Ok(self.emit(TreeOpKind::Create { parent, name: name.into(), entry }))
    }

    /// Makes a symlink at `path` pointing to `target` (kept as data: the
    /// core never follows it).
    pub fn create_symlink(&mut self, path: &str, target: &str) -> Result<TreeOp, TreeError> {
        check_size(target.len())?;
        let (parent, name) = self.free_path(path)?;
        let entry = NewEntry::Symlink { target: target.into() };
        Ok(self.emit(TreeOpKind::Create { parent, name: name.into(), entry }))
    }

    /// Renames or moves the entry at `from` to `to` (whose parent must
    /// exist and which must be free).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<TreeOp, TreeError> {
        let entry = self.entry_at_path(from)?;
        let (dir, name) = split_path(to);
        let parent = self.entry_at_path(dir)?;
        self.move_entry(entry, parent, name).map_err(|e| match e {
            TreeError::IntoItself { .. } => TreeError::IntoItself { from: from.into(), to: to.into() },
            TreeError::Exists(_) => TreeError::Exists(to.into()),
            TreeError::NotADirectory(_) => TreeError::NotADirectory(dir.into()),
            other => other,
        })
    }

    /// Moves `entry` into directory `parent` under `name`: [`rename`] by
    /// identity, for callers that keep entry ids (errors name the ids).
    ///
    /// [`rename`]: WorkTree::rename
    pub fn move_entry(&mut self, entry: EntryId, parent: EntryId, name: &str) -> Result<TreeOp, TreeError> {
        check_name(name)?;
        let view = self.view();
        if entry == EntryId::Root {
            return Err(TreeError::Root);
        }
        if !view.shows_entry(entry) {
            return Err(TreeError::NotFound(format!("{entry:?}")));
        }
        if !view.shows_entry(parent) || !matches!(self.entries[&parent].kind, Kind::Dir) {
            return Err(TreeError::NotADirectory(format!("{parent:?}")));
        }
        if view.child(parent, name).is_some() {
            return Err(TreeError::Exists(format!("{parent:?}/{name}")));
        }
        if self.structure.is_inside(parent, entry) {
            return Err(TreeError::IntoItself { from: format!("{entry:?}"), to: format!("{parent:?}/{name}") });
        }
        Ok(self.emit(TreeOpKind::Move { entry, parent, name: name.into() }))
    }

    /// Deletes the entry at `path`, with everything inside a directory.
    /// Deleting a conflict copy drops that value: the file keeps its
    /// current content, and no copy remains.
    pub fn delete(&mut self, path: &str) -> Result<TreeOp, TreeError> {
        match self.view().get(path) {
            _ if path.is_empty() => Err(TreeError::Root),
            Some(Shown::Entry(entry)) => Ok(self.emit(TreeOpKind::Delete { entry, seen: self.version.clone() })),
            Some(Shown::ConflictCopy(entry, _)) => {
                let content = self.content_bytes(entry, path)?;
                self.set_content(entry, path, content)
            }
            None => Err(TreeError::NotFound(path.into())),
        }
    }

    /// Replaces characters `start..end` of the text file at `path` with
    /// `text` (positions in Unicode scalar values).
    pub fn edit_text(&mut self, path: &str, start: usize, end: usize, text: &str) -> Result<Vec<TreeOp>, TreeError> {
        let file = self.entry_at_path(path)?;
        match self.text_crdt(file) {
            Ok(_) => self.edit(file, |crdt, stamp| crdt.replace(stamp, start, end, text)),
            Err(InvalidTreeOp::NotAText(_)) => Err(TreeError::NotAText(path.into())),
            Err(other) => Err(other.into()),
        }
    }

    /// Undoes this replica's latest edit of the text file at `path` that is
    /// not undone yet; `None` if there is none.
    pub fn undo_text(&mut self, path: &str) -> Result<Option<TreeOp>, TreeError> {
        let file = self.entry_at_path(path)?;
        self.text_crdt(file).map_err(|_| TreeError::NotAText(path.into()))?;
        let ops = self.edit(file, |crdt, stamp| {
            Ok::<_, TreeError>(crdt.undo_last(stamp).map(|(op, _)| op).into_iter().collect())
        })?;
        Ok(ops.into_iter().next())
    }

    /// Writes the whole content of the binary file or symlink at `path`
    /// (a symlink's target as UTF-8). It replaces every value shown here,
    /// conflict copies included.
    pub fn write(&mut self, path: &str, content: Vec<u8>) -> Result<TreeOp, TreeError> {
        match self.view().get(path) {
            Some(Shown::Entry(entry)) => self.set_content(entry, path, content),
            Some(Shown::ConflictCopy(..)) => Err(TreeError::ConflictCopy(path.into())),
            None => Err(TreeError::NotFound(path.into())),
        }
    }

    /// Records in the commit map that Git commit `commit` (its object id)
    /// holds the working copy as this replica has it now.
    pub fn record_commit(&mut self, commit: Vec<u8>) -> Result<TreeOp, TreeError> {
        let version = self.version.clone();
        self.emit_checked(TreeOpKind::Commit { commit, version })
    }

    /// Records that this replica's HEAD moved to Git commit `commit` on
    /// `branch` (empty for a detached HEAD): a checkout, a switch, a reset
    /// or a rebase, which the other replicas follow.
    pub fn record_checkout(&mut self, commit: Vec<u8>, branch: String) -> Result<TreeOp, TreeError> {
        self.emit_checked(TreeOpKind::Checkout { commit, branch })
    }

    /// Emits an operation of a kind that needs no tree to check.
    fn emit_checked(&mut self, kind: TreeOpKind) -> Result<TreeOp, TreeError> {
        let op =
            TreeOp { id: OpId::new(self.replica, self.next_seq), lamport: self.clock, timeline: self.timeline, kind };
        op.validate()?;
        Ok(self.emit(op.kind))
    }

    /// Sets or clears the executable bit of the file at `path`.
    pub fn set_executable(&mut self, path: &str, executable: bool) -> Result<TreeOp, TreeError> {
        let file = self.entry_at_path(path)?;
        match self.entries[&file].kind.executable() {
            Some(_) => Ok(self.emit(TreeOpKind::SetExecutable { file, executable })),
            None => Err(TreeError::NotAFile(path.into())),
        }
    }

    fn set_content(&mut self, entry: EntryId, path: &str, content: Vec<u8>) -> Result<TreeOp, TreeError> {
        check_size(content.len())?;
        self.read_base(entry)?;
        let replaces = match &self.entries[&entry].kind {
            Kind::Binary { content, .. } => content.ids(),
            Kind::Symlink { target } if std::str::from_utf8(&content).is_ok() => target.ids(),
            Kind::Symlink { .. } => return Err(InvalidTreeOp::TargetNotUtf8.into()),
            _ => return Err(TreeError::NotAContent(path.into())),
        };
        Ok(self.emit(TreeOpKind::SetContent { entry, content, replaces }))
    }

    /// The bytes of the winning value of a binary file.
    fn content_bytes(&self, entry: EntryId, path: &str) -> Result<Vec<u8>, TreeError> {
        match &self.entries[&entry].kind {
            Kind::Binary { content, .. } => match content.winner() {
                Bytes::Inline(bytes) => Ok(bytes.clone()),
                Bytes::Base(blob) => self.base.read(blob).ok_or(InvalidTreeOp::MissingBase(entry).into()),
            },
            _ => Err(TreeError::NotAContent(path.into())),
        }
    }

    /// A local operation stamped with our next unit, applied.
    fn emit(&mut self, kind: TreeOpKind) -> TreeOp {
        let op =
            TreeOp { id: OpId::new(self.replica, self.next_seq), lamport: self.clock, timeline: self.timeline, kind };
        self.integrate(op.clone()).expect("local operations are checked before they are made");
        op
    }

    /// Runs a local text edit on `file`'s CRDT with our next stamp, then
    /// records the operations it made.
    pub(super) fn edit<E: Into<TreeError>>(
        &mut self,
        file: EntryId,
        make: impl FnOnce(&mut crate::text::TextCrdt, &mut LocalStamp) -> Result<Vec<TextOp>, E>,
    ) -> Result<Vec<TreeOp>, TreeError> {
        let mut stamp = LocalStamp { replica: self.replica, seq: self.next_seq, lamport: self.clock };
        let text_ops = make(self.text_crdt(file)?, &mut stamp).map_err(Into::into)?;
        let mut ops = Vec::with_capacity(text_ops.len());
        for text in text_ops {
            let kind = TreeOpKind::Edit { file, edit: base_to_wire(text.kind) };
            let op = TreeOp { id: text.id, lamport: text.lamport, timeline: self.timeline, kind };
            let units = op.units();
            self.touch(file, op.id, units, true);
            self.view.forget_change(&self.structure, file, false);
            self.advance(op.id, op.lamport, units);
            self.log_op(&op);
            ops.push(op);
        }
        Ok(ops)
    }

    /// The entry shown at `path` (`""` is the top directory).
    fn entry_at_path(&self, path: &str) -> Result<EntryId, TreeError> {
        if path.is_empty() {
            return Ok(EntryId::Root);
        }
        match self.view().get(path) {
            Some(Shown::Entry(entry)) => Ok(entry),
            Some(Shown::ConflictCopy(..)) => Err(TreeError::ConflictCopy(path.into())),
            None => Err(TreeError::NotFound(path.into())),
        }
    }

    /// The directory and name of a path where a new entry may go.
    fn free_path<'p>(&self, path: &'p str) -> Result<(EntryId, &'p str), TreeError> {
        let (dir, name) = split_path(path);
        check_name(name)?;
        let parent = self.entry_at_path(dir)?;
        if !matches!(self.entries[&parent].kind, Kind::Dir) {
            return Err(TreeError::NotADirectory(dir.into()));
        }
        if self.view().get(path).is_some() {
            return Err(TreeError::Exists(path.into()));
        }
        Ok((parent, name))
    }
}

fn check_size(len: usize) -> Result<(), TreeError> {
    match len <= MAX_CONTENT_BYTES {
        true => Ok(()),
        false => Err(TreeError::TooLarge(len)),
    }
}
