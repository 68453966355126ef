//! The base snapshot: the commit a working tree starts from.
//!
//! Memo never sends what Git already holds. Every replica loads the same
//! commit through [`BaseSnapshot`] (the node implements it with libgit2),
//! and the base entries get identities derived from their paths
//! ([`EntryId::derive`], generation 0), their characters from their blob
//! ([`super::base_text_replica`]). So operations on base files name base
//! content without carrying it, and a file's content is read only when a
//! file is edited or read.

use super::ids::{BlobId, EntryId};
use std::fmt;

/// The entries and contents of a commit, handed to the core.
pub trait BaseSnapshot: fmt::Debug + Send + Sync {
    /// Every entry of the tree, in any order. Directories that hold
    /// something may be left out: they are implied by their entries.
    fn entries(&self) -> Vec<BaseEntry>;
    /// The content of a blob of this snapshot; `None` if it is missing,
    /// which makes every operation on that file fail until it is there.
    fn read(&self, blob: &BlobId) -> Option<Vec<u8>>;
}

/// One entry of a base snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseEntry {
    /// Relative, `/`-separated, e.g. `src/main.rs`.
    pub path: String,
    pub kind: BaseKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseKind {
    Dir,
    /// A file: text or binary is decided by its content, when it is read.
    File {
        blob: BlobId,
        executable: bool,
    },
    Symlink {
        target: String,
    },
}

/// No base: a working tree that starts empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmptyBase;

impl BaseSnapshot for EmptyBase {
    fn entries(&self) -> Vec<BaseEntry> {
        Vec::new()
    }

    fn read(&self, _: &BlobId) -> Option<Vec<u8>> {
        None
    }
}

/// A base held in memory: for tests, examples and light clients.
#[derive(Debug, Default, Clone)]
pub struct MemoryBase {
    entries: Vec<BaseEntry>,
    blobs: std::collections::HashMap<BlobId, Vec<u8>>,
}

impl MemoryBase {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file; its blob id is derived from its content, as Git's is.
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        let content = content.into();
        let blob = MemoryBase::blob_id(&content);
        self.entries
            .push(BaseEntry { path: path.into(), kind: BaseKind::File { blob: blob.clone(), executable: false } });
        self.blobs.insert(blob, content);
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.entries.push(BaseEntry { path: path.into(), kind: BaseKind::Symlink { target: target.into() } });
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        self.entries.push(BaseEntry { path: path.into(), kind: BaseKind::Dir });
        self
    }

    /// A content-derived id (SHA-256 here; Git's is SHA-1 of a header and
    /// the content, but any id that names the content works).
    pub fn blob_id(content: &[u8]) -> BlobId {
        use sha2::{Digest, Sha256};
        BlobId(Sha256::digest(content)[..20].to_vec())
    }
}

impl BaseSnapshot for MemoryBase {
    fn entries(&self) -> Vec<BaseEntry> {
        self.entries.clone()
    }

    fn read(&self, blob: &BlobId) -> Option<Vec<u8>> {
        self.blobs.get(blob).cloned()
    }
}

/// Whether content is replicated as text: valid UTF-8 without NUL.
pub fn is_text(content: &[u8]) -> bool {
    !content.contains(&0) && std::str::from_utf8(content).is_ok()
}

/// Splits a path into its directory part and its last component.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    }
}

/// The derived id of every base entry, its parent's, and its name, parents
/// first (directories implied by a path are added).
pub(crate) fn placed_entries(entries: &[BaseEntry]) -> Vec<(EntryId, EntryId, String, Option<&BaseEntry>)> {
    let mut ids: std::collections::BTreeMap<&str, (EntryId, Option<&BaseEntry>)> = Default::default();
    for entry in entries {
        let path = entry.path.trim_matches('/');
        let mut dir = split_path(path).0;
        while !dir.is_empty() && !ids.contains_key(dir) {
            ids.insert(dir, (EntryId::Root, None));
            dir = split_path(dir).0;
        }
        ids.insert(path, (EntryId::Root, Some(entry)));
    }
    // Parents sort before their children ("a" < "a/b"), so a parent's id
    // is known when its children's are derived.
    let mut placed = Vec::with_capacity(ids.len());
    let mut known: foldhash::HashMap<&str, EntryId> = Default::default();
    for (path, (_, entry)) in ids {
        let (dir, name) = split_path(path);
        let parent = if dir.is_empty() { EntryId::Root } else { known[dir] };
        let id = EntryId::derive(parent, name, 0);
        known.insert(path, id);
        placed.push((id, parent, name.to_string(), entry));
    }
    placed
}
