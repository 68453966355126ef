//! Reading a working tree: entries and their status against the base,
//! contents, history, timelines.

use super::entry::{Bytes, Kind};
use super::ids::{EntryId, TimelineId};
use super::local::TreeError;
use super::op::{base_to_wire, TreeOp, TreeOpKind};
use super::view::Shown;
use super::{is_text, Logged, WorkTree};
use crate::id::{OpId, ReplicaId};
use crate::text::TextOp;
use crate::version::VersionVector;
use foldhash::{HashMap, HashSet};
use std::collections::VecDeque;

/// What kind of entry a path shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// A file; whether it is text or binary is decided by its content.
    File,
    Symlink,
    /// A value of a binary file that lost to a concurrent write.
    ConflictCopy,
}

/// An entry against the base snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Unchanged,
    /// Not in the base.
    New,
    /// Its content or executable bit was changed (even if back to the same).
    Modified,
    /// At another path than in the base.
    Renamed {
        from: String,
        modified: bool,
    },
    /// In the base, no longer shown (listed at its base path).
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    pub path: String,
    pub id: EntryId,
    pub kind: EntryKind,
    pub executable: bool,
    pub status: Status,
}

/// The content of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Dir,
    Text(String),
    Binary(Vec<u8>),
    Symlink(String),
}

impl WorkTree {
    /// Every shown path (directories included, the top one not), sorted.
    pub fn paths(&self) -> Vec<String> {
        self.view().iter().into_iter().map(|(path, _)| path).collect()
    }

    /// Every shown entry with its status, then the base entries no longer
    /// shown, with status [`Status::Deleted`].
    pub fn entries(&self) -> Vec<EntryInfo> {
        let view = self.view();
        let shown = view.iter();
        let shown_ids: HashSet<EntryId> = shown
            .iter()
            .filter_map(|(_, s)| match s {
                Shown::Entry(id) => Some(*id),
                Shown::ConflictCopy(..) => None,
            })
            .collect();
        let mut infos: Vec<EntryInfo> = shown.iter().map(|(path, s)| self.info(path, *s)).collect();
        let mut deleted: Vec<EntryInfo> = self
            .entries
            .iter()
            .filter(|(id, e)| e.base_path.is_some() && **id != EntryId::Root && !shown_ids.contains(id))
            .map(|(id, e)| EntryInfo {
                path: e.base_path.clone().expect("filtered"),
                id: *id,
                kind: kind_of(&e.kind),
                executable: e.kind.executable().is_some_and(|x| x.value),
                status: Status::Deleted,
            })
            .collect();
        deleted.sort_by(|a, b| a.path.cmp(&b.path));
        infos.extend(deleted);
        infos
    }

    fn info(&self, path: &str, shown: Shown) -> EntryInfo {
        let (id, copy) = match shown {
            Shown::Entry(id) => (id, false),
            Shown::ConflictCopy(id, _) => (id, true),
        };
        let entry = &self.entries[&id];
        let status = match (&entry.base_path, copy) {
            (None, _) | (_, true) => Status::New,
            (Some(from), false) if from != path => Status::Renamed { from: from.clone(), modified: entry.modified },
            _ if entry.modified => Status::Modified,
            _ => Status::Unchanged,
        };
        EntryInfo {
            path: path.to_string(),
            id,
            kind: if copy { EntryKind::ConflictCopy } else { kind_of(&entry.kind) },
            executable: entry.kind.executable().is_some_and(|x| x.value),
            status,
        }
    }

    /// The entry shown at `path` with its kind, bit and status (one entry
    /// of [`WorkTree::entries`], without listing the others).
    pub fn entry_info(&self, path: &str) -> Option<EntryInfo> {
        self.view().get(path).map(|shown| self.info(path, shown))
    }

    /// The entry shown at `path`.
    pub fn entry_at(&self, path: &str) -> Option<EntryId> {
        match self.view().get(path) {
            Some(Shown::Entry(id)) => Some(id),
            _ if path.is_empty() => Some(EntryId::Root),
            _ => None,
        }
    }

    /// Where `entry` is shown now.
    pub fn path_of(&self, entry: EntryId) -> Option<String> {
        self.view().path(entry)
    }

    /// The content shown at `path` (a base file is read from the base).
    pub fn read(&self, path: &str) -> Result<Content, TreeError> {
        let missing = || TreeError::NotFound(path.into());
        let (id, value) = match self.view().get(path) {
            Some(Shown::Entry(id)) => (id, None),
            Some(Shown::ConflictCopy(id, value)) => (id, Some(value)),
            None if path.is_empty() => return Ok(Content::Dir),
            None => return Err(missing()),
        };
        let bytes = |bytes: &Bytes| match bytes {
            Bytes::Inline(bytes) => Ok(bytes.clone()),
            Bytes::Base(blob) => self.base.read(blob).ok_or(TreeError::Invalid(super::InvalidTreeOp::MissingBase(id))),
        };
        Ok(match &self.entries[&id].kind {
            Kind::Dir => Content::Dir,
            Kind::Text { text, .. } => Content::Text(text.text()),
            Kind::Unread { blob, .. } => {
                let content = bytes(&Bytes::Base(blob.clone()))?;
                match is_text(&content) {
                    true => Content::Text(String::from_utf8(content).expect("checked")),
                    false => Content::Binary(content),
                }
            }
            Kind::Binary { content, .. } => {
                let value = value.map_or(Some(content.winner()), |v| content.get(v));
                Content::Binary(bytes(value.ok_or_else(missing)?)?)
            }
            Kind::Symlink { target } => {
                Content::Symlink(String::from_utf8_lossy(&bytes(target.winner())?).into_owned())
            }
        })
    }

    /// The text of text file `file` as it was at `version`: what a host
    /// that last wrote the file out at `version` holds (the node's base for
    /// merging an edit made on disk meanwhile). It replays the file's
    /// history, so it costs more than [`WorkTree::read_text`].
    pub fn text_at(&self, file: EntryId, version: &VersionVector) -> Result<String, TreeError> {
        let not_text = || TreeError::NotAText(format!("{file:?}"));
        match self.entries.get(&file).map(|e| &e.kind) {
            Some(Kind::Text { text, .. }) => Ok(text.text_at(version)),
            Some(Kind::Unread { blob, .. }) => {
                let content = self.base.read(blob).ok_or(super::InvalidTreeOp::MissingBase(file))?;
                String::from_utf8(content).map_err(|_| not_text())
            }
            Some(_) => Err(not_text()),
            None => Err(TreeError::NotFound(format!("{file:?}"))),
        }
    }

    /// The text of the text file at `path`.
    pub fn read_text(&self, path: &str) -> Result<String, TreeError> {
        match self.read(path)? {
            Content::Text(text) => Ok(text),
            _ => Err(TreeError::NotAText(path.into())),
        }
    }

    /// The commit map: each Git commit recorded ([`WorkTree::record_commit`],
    /// by any replica) with the version it holds and who recorded it, in
    /// the order applied.
    pub fn commits(&self) -> Vec<(Vec<u8>, VersionVector, crate::id::OpId)> {
        self.log
            .iter()
            .filter_map(|logged| match logged {
                Logged::Op(TreeOp { id, kind: TreeOpKind::Commit { commit, version }, .. }) => {
                    Some((commit.clone(), version.clone(), *id))
                }
                _ => None,
            })
            .collect()
    }

    /// Where the working copy's HEAD is, as every replica that applied the
    /// same operations agrees; `None` until a commit or checkout is
    /// recorded (HEAD is then the base).
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// Takes `head` if it is later than the current one.
    pub(super) fn move_head(&mut self, head: Head) {
        if self.head.as_ref().is_none_or(|current| current.stamp() < head.stamp()) {
            self.head = Some(head);
        }
    }

    /// Every applied operation that `version` lacks, in an order that a
    /// replica at `version` can apply directly (a causal order).
    pub fn ops_since(&self, version: &VersionVector) -> Vec<TreeOp> {
        // Each text file's edits, in the order its CRDT applied them, which
        // is the order of the log restricted to that file.
        let mut edits: HashMap<EntryId, VecDeque<TextOp>> = HashMap::default();
        let mut ops = Vec::new();
        for logged in &self.log {
            match logged {
                Logged::Op(op) if !version.contains(op.id) => ops.push(op.clone()),
                Logged::Op(_) => {}
                Logged::Edit { file, range } => {
                    let queue = edits.entry(*file).or_insert_with(|| match &self.entries[file].kind {
                        Kind::Text { text, .. } => text.ops_since(version).into(),
                        _ => VecDeque::new(),
                    });
                    while let Some(text) = queue.front().filter(|t| range.contains(t.id)) {
                        let edit = TreeOpKind::Edit { file: *file, edit: base_to_wire(text.kind.clone()) };
                        let timeline = self.timeline_of(text.range());
                        ops.push(TreeOp { id: text.id, lamport: text.lamport, timeline, kind: edit });
                        queue.pop_front();
                    }
                }
            }
        }
        ops
    }

    /// A replica holding exactly the operations of `version` (those not
    /// causally closed under it are left out): the tree as it was then.
    pub fn at(&self, version: &VersionVector) -> WorkTree {
        self.rebuild(version, self.replica)
    }

    /// The tree at `version`, as a replica named `replica`.
    fn rebuild(&self, version: &VersionVector, replica: ReplicaId) -> WorkTree {
        let mut past = WorkTree::new(replica, self.base.clone());
        past.timeline = self.timeline;
        past.lineage = self.lineage.clone();
        for mut op in self.ops_since(&VersionVector::new()) {
            let included = version.get(op.id.replica).saturating_sub(op.id.seq).min(op.units());
            if included == 0 {
                continue;
            }
            if let TreeOpKind::Edit { edit, .. } = &mut op.kind {
                let mut text = TextOp { id: op.id, lamport: op.lamport, kind: edit.clone() };
                text.truncate(included);
                *edit = text.kind;
            }
            // Operations not closed under `version` wait, and are dropped.
            let _ = past.apply(op);
        }
        past
    }

    /// Where `entry` was shown at `version`.
    pub fn path_at(&self, version: &VersionVector, entry: EntryId) -> Option<String> {
        self.at(version).path_of(entry)
    }

    /// Forks the tree as it was at `version` into a new timeline. The
    /// history up to `version` is shared; what is done after belongs to the
    /// new timeline only, made by `replica` (a fresh id for this machine in
    /// that timeline, so that no (replica, seq) pair is used twice).
    pub fn fork(&self, version: &VersionVector, timeline: TimelineId, replica: ReplicaId) -> WorkTree {
        let mut fork = self.rebuild(version, replica);
        for (_, inherited) in &mut fork.lineage {
            inherited.meet(version);
        }
        fork.lineage.push((self.timeline, version.clone()));
        fork.timeline = timeline;
        fork
    }
}

fn kind_of(kind: &Kind) -> EntryKind {
    match kind {
        Kind::Dir => EntryKind::Dir,
        Kind::Symlink { .. } => EntryKind::Symlink,
        Kind::Unread { .. } | Kind::Text { .. } | Kind::Binary { .. } => EntryKind::File,
    }
}

/// Where the working copy's HEAD is: the commit of the commit-map entry or
/// checkout with the greatest stamp, so that concurrent checkouts end on
/// one commit everywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub commit: Vec<u8>,
    /// The branch a checkout named (empty for a detached HEAD); `None` for
    /// a commit, which moves the branch that was checked out.
    pub branch: Option<String>,
    /// The operation that moved it here, and its Lamport stamp.
    pub op: OpId,
    pub lamport: crate::id::Lamport,
}

impl Head {
    pub(super) fn new(op: &TreeOp, commit: &[u8], branch: Option<&String>) -> Head {
        Head { commit: commit.to_vec(), branch: branch.cloned(), op: op.id, lamport: op.lamport }
    }

    fn stamp(&self) -> (crate::id::Lamport, crate::id::ReplicaId) {
        (self.lamport, self.op.replica)
    }
}
