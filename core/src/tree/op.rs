//! Working-tree operations: one type for every change of a working copy,
//! numbered in the author's one sequence (a text edit of `n` characters
//! takes `n` units, every other operation one).

use super::ids::{EntryId, TimelineId};
use crate::id::{IdRange, Lamport, OpId, ReplicaId};
use crate::text::{InvalidOp as InvalidTextOp, TextOp, TextOpKind, MAX_SEQ};
use crate::version::VersionVector;
use serde::{Deserialize, Serialize};

/// Longest entry name, in bytes (what Linux, macOS and Windows all accept).
pub const MAX_NAME_BYTES: usize = 255;
/// Largest binary content or symlink target one operation may carry.
pub const MAX_CONTENT_BYTES: usize = 64 << 20;

/// One change of the working tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeOp {
    /// The first unit it takes.
    pub id: OpId,
    pub lamport: Lamport,
    /// The timeline it belongs to.
    pub timeline: TimelineId,
    pub kind: TreeOpKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeOpKind {
    /// Makes an entry named `name` in directory `parent`. A file or
    /// symlink is named by this operation ([`EntryId::Created`]); a
    /// directory by [`EntryId::derive`] from `parent`, `name` and its
    /// generation, so that directories made concurrently are one.
    Create { parent: EntryId, name: String, entry: NewEntry },
    /// Moves `entry` into `parent` under `name` (a rename, a move, or both).
    Move { entry: EntryId, parent: EntryId, name: String },
    /// Removes `entry` (with what is inside, for a directory) as its author
    /// saw it at version `seen`: an entry changed by an operation `seen`
    /// lacks stays (see the module documentation).
    Delete { entry: EntryId, seen: VersionVector },
    /// An edit of a text file; it takes the text operation's units.
    Edit { file: EntryId, edit: TextOpKind },
    /// Sets the content of a binary file or the target of a symlink,
    /// replacing the values its author saw there.
    SetContent { entry: EntryId, content: Vec<u8>, replaces: Vec<ValueId> },
    /// Sets or clears a file's executable bit.
    SetExecutable { file: EntryId, executable: bool },
    /// Records that Git commit `commit` (its object id) holds the working
    /// copy as it was at `version` (the commit map): no effect on the tree.
    Commit { commit: Vec<u8>, version: VersionVector },
    /// Records that the working copy's HEAD moved to Git commit `commit`
    /// (a checkout, a switch, a reset, a rebase) on branch `branch` (empty
    /// for a detached HEAD): no effect on the tree, whose changes travel as
    /// their own operations. With the commit map's entries, the one with
    /// the greatest stamp is the working copy's HEAD ([`super::Head`]).
    Checkout { commit: Vec<u8>, branch: String },
    /// A kind from a newer version of Memo: kept and forwarded, no effect.
    Opaque { kind: u32, units: u64, body: Vec<u8> },
}

/// What a [`TreeOpKind::Create`] makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NewEntry {
    Dir {
        generation: u64,
    },
    /// An empty text file (its text follows as edits).
    Text {
        executable: bool,
    },
    Binary {
        content: Vec<u8>,
        executable: bool,
    },
    Symlink {
        target: String,
    },
}

/// One value of a binary file's or symlink's content register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ValueId {
    /// The content of the base snapshot.
    Base,
    /// The content set by this operation.
    Op(OpId),
}

/// Why a remote operation is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidTreeOp {
    #[error("invalid name {0:?}: {1}")]
    Name(String, &'static str),
    #[error("{0} bytes of content, more than the {MAX_CONTENT_BYTES} one operation may carry")]
    TooLarge(usize),
    #[error("a symlink target must be UTF-8")]
    TargetNotUtf8,
    #[error("operation authored by a base-text identity")]
    BaseAuthor,
    #[error("operation takes no units")]
    Empty,
    #[error("sequence numbers or Lamport stamps beyond 2^48")]
    Overflow,
    #[error("operation depends on its own units or later ones: {0:?}")]
    SelfReference(IdRange),
    #[error("{0:?} is not a directory here")]
    NotADirectory(EntryId),
    #[error("{0:?} is not a text file here")]
    NotAText(EntryId),
    #[error("{0:?} is not a binary file or symlink here")]
    NotAContent(EntryId),
    #[error("{0:?} is not an entry here")]
    UnknownEntry(EntryId),
    #[error("{0:?} cannot be moved or deleted")]
    RootChange(EntryId),
    #[error("{0:?} already exists as another kind of entry")]
    KindClash(EntryId),
    #[error("base text of {0:?} is missing from the base snapshot")]
    MissingBase(EntryId),
    #[error("a commit id of {0} bytes (Git's are 20 or 32)")]
    CommitId(usize),
    #[error("invalid branch name {0:?}")]
    Branch(String),
    #[error(transparent)]
    Text(#[from] InvalidTextOp),
}

impl TreeOp {
    /// The entry this operation makes or changes (`None` for a kind from a
    /// newer Memo).
    pub fn entry(&self) -> Option<EntryId> {
        match &self.kind {
            TreeOpKind::Create { parent, name, entry: NewEntry::Dir { generation } } => {
                Some(EntryId::derive(*parent, name, *generation))
            }
            TreeOpKind::Create { .. } => Some(EntryId::Created(self.id)),
            TreeOpKind::Move { entry, .. }
            | TreeOpKind::Delete { entry, .. }
            | TreeOpKind::SetContent { entry, .. } => Some(*entry),
            TreeOpKind::Edit { file, .. } | TreeOpKind::SetExecutable { file, .. } => Some(*file),
            TreeOpKind::Commit { .. } | TreeOpKind::Checkout { .. } | TreeOpKind::Opaque { .. } => None,
        }
    }

    /// How many units of its author's sequence it takes.
    pub fn units(&self) -> u64 {
        match &self.kind {
            TreeOpKind::Edit { edit, .. } => edit.units(),
            TreeOpKind::Opaque { units, .. } => *units,
            _ => 1,
        }
    }

    pub fn range(&self) -> IdRange {
        IdRange::new(self.id.replica, self.id.seq, self.units())
    }

    /// About how many bytes it holds outside its own struct: what a
    /// bounded buffer counts.
    pub fn heap_size(&self) -> usize {
        match &self.kind {
            TreeOpKind::Create { name, entry, .. } => {
                name.len()
                    + match entry {
                        NewEntry::Binary { content, .. } => content.len(),
                        NewEntry::Symlink { target } => target.len(),
                        NewEntry::Dir { .. } | NewEntry::Text { .. } => 0,
                    }
            }
            TreeOpKind::Move { name, .. } => name.len(),
            TreeOpKind::Delete { seen, .. } => seen.iter().count() * 24,
            TreeOpKind::Edit { edit, .. } => edit.heap_size(),
            TreeOpKind::SetContent { content, replaces, .. } => content.len() + std::mem::size_of_val(&replaces[..]),
            TreeOpKind::SetExecutable { .. } => 0,
            TreeOpKind::Commit { commit, version } => commit.len() + version.iter().count() * 24,
            TreeOpKind::Checkout { commit, branch } => commit.len() + branch.len(),
            TreeOpKind::Opaque { body, .. } => body.len(),
        }
    }

    /// The text operation inside an edit.
    pub(crate) fn text_op(&self, edit: TextOpKind) -> TextOp {
        TextOp { id: self.id, lamport: self.lamport, kind: edit }
    }

    /// The entries it names (whose creation must come first).
    fn entries(&self) -> Vec<EntryId> {
        match &self.kind {
            TreeOpKind::Create { parent, .. } => vec![*parent],
            TreeOpKind::Move { entry, parent, .. } => vec![*entry, *parent],
            TreeOpKind::Delete { entry, .. }
            | TreeOpKind::SetContent { entry, .. }
            | TreeOpKind::Edit { file: entry, .. }
            | TreeOpKind::SetExecutable { file: entry, .. } => vec![*entry],
            TreeOpKind::Commit { .. } | TreeOpKind::Checkout { .. } | TreeOpKind::Opaque { .. } => vec![],
        }
    }

    /// Units that must be applied first, besides the author's earlier ones:
    /// the operations that created the entries it names, the characters a
    /// text edit refers to (except base characters, which every replica
    /// has), the values it replaces, and everything a delete saw.
    pub fn dependencies(&self) -> Vec<IdRange> {
        let one = |id: OpId| IdRange::new(id.replica, id.seq, 1);
        let mut deps: Vec<IdRange> = self.entries().iter().filter_map(EntryId::creator).map(one).collect();
        match &self.kind {
            TreeOpKind::Edit { edit, .. } => {
                deps.extend(edit.dependencies().into_iter().filter(|d| !d.replica.is_base_text()));
            }
            TreeOpKind::SetContent { replaces, .. } => {
                deps.extend(replaces.iter().filter_map(|v| match v {
                    ValueId::Op(id) => Some(one(*id)),
                    ValueId::Base => None,
                }));
            }
            TreeOpKind::Delete { seen: version, .. } | TreeOpKind::Commit { version, .. } => {
                deps.extend(version.iter().map(|(replica, count)| IdRange::new(replica, 0, count)));
            }
            _ => {}
        }
        deps
    }

    /// Checks what can be checked without the tree: names, sizes, author.
    pub fn validate(&self) -> Result<(), InvalidTreeOp> {
        if self.id.replica.is_base_text() {
            return Err(InvalidTreeOp::BaseAuthor);
        }
        let units = self.units();
        if units == 0 {
            return Err(InvalidTreeOp::Empty);
        }
        let in_range = |seq: u64, len: u64| seq < MAX_SEQ && len < MAX_SEQ && seq + len < MAX_SEQ;
        if !in_range(self.id.seq, units) || !in_range(self.lamport, units) {
            return Err(InvalidTreeOp::Overflow);
        }
        for dep in self.dependencies() {
            if !in_range(dep.seq, dep.len) {
                return Err(InvalidTreeOp::Overflow);
            }
            if dep.replica == self.id.replica && dep.end() > self.id.seq {
                return Err(InvalidTreeOp::SelfReference(dep));
            }
        }
        match &self.kind {
            TreeOpKind::Create { name, entry, .. } => {
                check_name(name)?;
                match entry {
                    NewEntry::Binary { content, .. } => check_size(content.len()),
                    NewEntry::Symlink { target } => check_size(target.len()),
                    NewEntry::Dir { .. } | NewEntry::Text { .. } => Ok(()),
                }
            }
            TreeOpKind::Move { entry, name, .. } => {
                check_not_root(*entry)?;
                check_name(name)
            }
            TreeOpKind::Delete { entry, .. } => check_not_root(*entry),
            TreeOpKind::Edit { edit, .. } => Ok(self.text_op(edit.clone()).validate()?),
            TreeOpKind::SetContent { content, .. } => check_size(content.len()),
            TreeOpKind::Commit { commit, .. } => check_commit(commit),
            TreeOpKind::Checkout { commit, branch } => {
                check_commit(commit)?;
                check_branch(branch)
            }
            TreeOpKind::SetExecutable { .. } | TreeOpKind::Opaque { .. } => Ok(()),
        }
    }
}

/// `edit` with its base-text characters named as [`ReplicaId::BASE_TEXT`],
/// as tree operations carry them (the file says which base text).
pub(crate) fn base_to_wire(edit: TextOpKind) -> TextOpKind {
    map_replicas(edit, |r| if r.is_base_text() { ReplicaId::BASE_TEXT } else { r })
}

/// `edit` with [`ReplicaId::BASE_TEXT`] replaced by the id of its file's
/// base text, `base` (left as is when the file has none: the edit then
/// names characters that do not exist, and is refused).
pub(crate) fn base_from_wire(edit: TextOpKind, base: Option<ReplicaId>) -> TextOpKind {
    match base {
        Some(base) => map_replicas(edit, |r| if r == ReplicaId::BASE_TEXT { base } else { r }),
        None => edit,
    }
}

fn map_replicas(edit: TextOpKind, f: impl Fn(ReplicaId) -> ReplicaId) -> TextOpKind {
    let id = |id: OpId| OpId::new(f(id.replica), id.seq);
    let range = |r: &IdRange| IdRange::new(f(r.replica), r.seq, r.len);
    match edit {
        TextOpKind::Insert { left, right, text } => {
            TextOpKind::Insert { left: left.map(id), right: right.map(id), text }
        }
        TextOpKind::Delete { targets } => TextOpKind::Delete { targets: targets.iter().map(range).collect() },
        TextOpKind::Undo { edits, undone } => TextOpKind::Undo { edits: edits.iter().map(range).collect(), undone },
        opaque @ TextOpKind::Opaque { .. } => opaque,
    }
}

fn check_not_root(entry: EntryId) -> Result<(), InvalidTreeOp> {
    match entry {
        EntryId::Root => Err(InvalidTreeOp::RootChange(entry)),
        _ => Ok(()),
    }
}

fn check_commit(commit: &[u8]) -> Result<(), InvalidTreeOp> {
    match [20, 32].contains(&commit.len()) {
        true => Ok(()),
        false => Err(InvalidTreeOp::CommitId(commit.len())),
    }
}

/// A branch name is at most [`MAX_NAME_BYTES`] bytes, without NUL or
/// control characters; whether Git takes it as a ref name is the node's
/// check, before it touches a repository.
fn check_branch(branch: &str) -> Result<(), InvalidTreeOp> {
    match branch.len() <= MAX_NAME_BYTES && !branch.chars().any(char::is_control) {
        true => Ok(()),
        false => Err(InvalidTreeOp::Branch(branch.into())),
    }
}

fn check_size(len: usize) -> Result<(), InvalidTreeOp> {
    match len <= MAX_CONTENT_BYTES {
        true => Ok(()),
        false => Err(InvalidTreeOp::TooLarge(len)),
    }
}

/// A name every replica can write: one path component, not `.git`
/// (never replicated, in any letter case), no NUL, not too long.
pub fn check_name(name: &str) -> Result<(), InvalidTreeOp> {
    let problem = if name.is_empty() {
        Some("empty")
    } else if name == "." || name == ".." {
        Some("a relative path component")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator")
    } else if name.contains('\0') {
        Some("contains NUL")
    } else if name.eq_ignore_ascii_case(".git") {
        Some(".git is never replicated")
    } else if name.len() > MAX_NAME_BYTES {
        Some("longer than 255 bytes")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(InvalidTreeOp::Name(name.into(), problem)),
        None => Ok(()),
    }
}
