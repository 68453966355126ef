//! # memo-light
//!
//! Memo's light client (issue 9): a replica of a working copy that lives
//! where no daemon runs, in a browser tab or a Node.js process, and trades
//! operations with the daemons through bundles
//! ([`memo_core::protocol::bundle`]). It is memo-core behind a small
//! virtual-file-system API, [`LightReplica`]: open, read, edit and list
//! files, apply a bundle, take a bundle of what the other side lacks.
//!
//! Everything here is plain safe Rust, tested natively (`light/tests/`).
//! The JavaScript binding is [`abi`]: a handful of exported functions over
//! byte buffers, loaded by Node's (or a browser's) built-in `WebAssembly`
//! API with no npm package; `light/js/memo-light.mjs` wraps it in a class.
//!
//! ```
//! use memo_core::{ReplicaId, WorkTree};
//! use memo_core::protocol::bundle::{self, BundleKey};
//! use memo_core::tree::EmptyBase;
//! use memo_light::LightReplica;
//! use std::sync::Arc;
//! let (wc, secret) = ([1; 16], [2; 32]);
//! // A native replica writes a file and sends it as a bundle.
//! let mut native = WorkTree::new(ReplicaId::from_u128(1), Arc::new(EmptyBase));
//! let ops = native.create_text("notes.txt", "hello").unwrap();
//! let sent = bundle::encode(&wc, &BundleKey::from_secret(&secret), &ops);
//! // The light client takes it, edits, and answers with what it made.
//! let mut light = LightReplica::new(wc, secret, ReplicaId::from_u128(2), Vec::new());
//! light.apply_bundle(&sent).unwrap();
//! light.edit("notes.txt", 5, 5, ", world").unwrap();
//! for op in bundle::decode(&light.take_bundle(), &wc, &BundleKey::from_secret(&secret)).unwrap() {
//!     native.apply(op).unwrap();
//! }
//! assert_eq!(native.read_text("notes.txt").unwrap(), "hello, world");
//! ```

pub mod abi;

use memo_core::protocol::bundle::{self, BundleError, BundleKey};
use memo_core::text::offsets;
use memo_core::ticket::{Ticket, TicketError};
use memo_core::tree::{BaseEntry, BaseKind, BaseSnapshot, BlobId, MemoryBase, TreeError, WorkTree};
use memo_core::{ReplicaId, VersionVector};
use std::collections::HashMap;
use std::sync::Arc;

/// One file of the base snapshot (the commit the working copy stands on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseFile {
    /// Relative, `/`-separated.
    pub path: String,
    /// Git's object id of the blob, as the daemons name it (a Git host's
    /// tree listing gives it); `None` derives one from the content, as
    /// [`MemoryBase`] does (for replicas that all use `MemoryBase`).
    pub blob: Option<Vec<u8>>,
    pub content: Vec<u8>,
}

/// A base made of files given by the host.
#[derive(Debug, Default)]
struct FilesBase {
    entries: Vec<BaseEntry>,
    blobs: HashMap<BlobId, Vec<u8>>,
}

impl FilesBase {
    fn new(files: Vec<BaseFile>) -> Self {
        let mut base = FilesBase::default();
        for file in files {
            let blob = file.blob.map_or_else(|| MemoryBase::blob_id(&file.content), BlobId);
            let kind = BaseKind::File { blob: blob.clone(), executable: false };
            base.entries.push(BaseEntry { path: file.path, kind });
            base.blobs.insert(blob, file.content);
        }
        base
    }
}

impl BaseSnapshot for FilesBase {
    fn entries(&self) -> Vec<BaseEntry> {
        self.entries.clone()
    }

    fn read(&self, blob: &BlobId) -> Option<Vec<u8>> {
        self.blobs.get(blob).cloned()
    }
}

/// Why a light client's call failed. Nothing is changed by a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightError {
    Tree(TreeError),
    Bundle(BundleError),
    Ticket(TicketError),
    /// An offset beyond the end of the text.
    Offset {
        path: String,
        offset: usize,
    },
    /// A version that does not decode ([`LightReplica::version_bytes`]).
    Version,
}

impl std::fmt::Display for LightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LightError::Tree(e) => e.fmt(f),
            LightError::Bundle(e) => e.fmt(f),
            LightError::Ticket(e) => e.fmt(f),
            LightError::Offset { path, offset } => write!(f, "{path}: offset {offset} is beyond the end of the text"),
            LightError::Version => f.write_str("not a version (24 bytes per replica: its id and a count)"),
        }
    }
}

impl std::error::Error for LightError {}

impl From<TreeError> for LightError {
    fn from(e: TreeError) -> Self {
        LightError::Tree(e)
    }
}

impl From<BundleError> for LightError {
    fn from(e: BundleError) -> Self {
        LightError::Bundle(e)
    }
}

/// What [`LightReplica::apply_bundle`] did with a bundle's operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// In the bundle.
    pub operations: usize,
    /// Held here already (a bundle taken twice changes nothing).
    pub known: usize,
    /// Applied, with those they made ready among the waiting ones.
    pub applied: usize,
    /// Not applied: invalid here.
    pub refused: usize,
    /// Waiting for operations still missing, after this bundle.
    pub waiting: usize,
}

/// How offsets into a text are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Unicode scalar values (Rust `char`s), as memo-core counts.
    Chars,
    /// UTF-16 code units, as JavaScript strings count.
    Utf16,
}

/// A replica of a working copy held in memory, exchanging bundles with the
/// other side (a daemon, through `memo bundle export` / `import`, or
/// another light client).
#[derive(Debug)]
pub struct LightReplica {
    tree: WorkTree,
    working_copy: [u8; 16],
    key: BundleKey,
    /// What the other side is known to hold: every version taken in a
    /// bundle, and every operation received in one (its sender holds it,
    /// and so everything of that author before it).
    theirs: VersionVector,
}

impl LightReplica {
    /// A replica named `replica` (a fresh id per client: ids are never to
    /// be shared) of working copy `working_copy` with `secret`, standing on
    /// `base` (empty: no base).
    pub fn new(working_copy: [u8; 16], secret: [u8; 32], replica: ReplicaId, base: Vec<BaseFile>) -> Self {
        let tree = WorkTree::new(replica, Arc::new(FilesBase::new(base)));
        LightReplica { tree, working_copy, key: BundleKey::from_secret(&secret), theirs: VersionVector::new() }
    }

    /// A replica of the working copy a ticket (`memo share`) names.
    pub fn from_ticket(ticket: &str, replica: ReplicaId, base: Vec<BaseFile>) -> Result<Self, LightError> {
        let ticket = Ticket::decode(ticket).map_err(LightError::Ticket)?;
        Ok(LightReplica::new(ticket.working_copy, ticket.secret, replica, base))
    }

    /// The replica inside, to read more than this API shows.
    pub fn tree(&self) -> &WorkTree {
        &self.tree
    }

    /// The text of the text file at `path`, made empty (with its
    /// directories) if it is missing.
    pub fn open(&mut self, path: &str) -> Result<String, LightError> {
        if self.tree.entry_at(path).is_none() {
            self.create(path, "")?;
        }
        self.read(path)
    }

    /// The text of the text file at `path`.
    pub fn read(&self, path: &str) -> Result<String, LightError> {
        Ok(self.tree.read_text(path)?)
    }

    /// Every path shown, directories included, sorted.
    pub fn list(&self) -> Vec<String> {
        self.tree.paths()
    }

    /// Replaces characters `from..to` of the text file at `path` with
    /// `text`; a missing file (and its directories) is made first, when
    /// the range is `0..0`.
    pub fn edit(&mut self, path: &str, from: usize, to: usize, text: &str) -> Result<(), LightError> {
        self.edit_in(path, from, to, text, Encoding::Chars)
    }

    /// [`LightReplica::edit`] with offsets counted in `encoding`.
    pub fn edit_in(
        &mut self,
        path: &str,
        from: usize,
        to: usize,
        text: &str,
        encoding: Encoding,
    ) -> Result<(), LightError> {
        if self.tree.entry_at(path).is_none() {
            if (from, to) != (0, 0) {
                return Err(LightError::Offset { path: path.into(), offset: from.max(to) });
            }
            return self.create(path, text);
        }
        let (from, to) = match encoding {
            Encoding::Chars => (from, to),
            Encoding::Utf16 => {
                let current = self.read(path)?;
                let char_of = |unit| {
                    offsets::utf16_to_char(&current, unit).ok_or(LightError::Offset { path: path.into(), offset: unit })
                };
                (char_of(from)?, char_of(to)?)
            }
        };
        self.tree.edit_text(path, from, to, text)?;
        Ok(())
    }

    /// Makes a text file and the directories above it that are missing.
    fn create(&mut self, path: &str, text: &str) -> Result<(), LightError> {
        // Check the whole path first, so a failure makes nothing.
        let names: Vec<&str> = path.split('/').collect();
        for name in &names {
            memo_core::tree::check_name(name).map_err(|e| LightError::Tree(e.into()))?;
        }
        if text.len() > memo_core::tree::MAX_CONTENT_BYTES {
            return Err(TreeError::TooLarge(text.len()).into());
        }
        let mut dir = String::new();
        for name in &names[..names.len() - 1] {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(name);
            if self.tree.entry_at(&dir).is_none() {
                self.tree.create_dir(&dir)?;
            }
        }
        self.tree.create_text(path, text)?;
        Ok(())
    }

    /// Takes a bundle: checks it was made for this working copy with its
    /// secret (or refuses it whole), then applies its operations.
    pub fn apply_bundle(&mut self, bytes: &[u8]) -> Result<Applied, LightError> {
        let ops = bundle::decode(bytes, &self.working_copy, &self.key)?;
        let mut report = Applied { operations: ops.len(), ..Applied::default() };
        for op in ops {
            let range = op.range();
            if range.end() > self.theirs.get(range.replica) {
                self.theirs.set(range.replica, range.end());
            }
            if self.tree.version().contains_range(&range) {
                report.known += 1;
                continue;
            }
            match self.tree.apply(op) {
                Ok(applied) => report.applied += applied,
                Err(_) => report.refused += 1,
            }
        }
        report.waiting = self.tree.pending_size().0;
        Ok(report)
    }

    /// A bundle of what the other side lacks: every operation held here
    /// that it is not known to hold (see [`LightReplica::apply_bundle`]);
    /// from then on it is taken to hold them.
    pub fn take_bundle(&mut self) -> Vec<u8> {
        let bytes = self.bundle_since(&self.theirs.clone());
        self.theirs.join(self.tree.version());
        bytes
    }

    /// A bundle of every operation that `version` lacks (what
    /// [`LightReplica::version_bytes`] gave, here or on another client;
    /// empty: everything). It changes nothing here.
    pub fn take_bundle_since(&self, version: &[u8]) -> Result<Vec<u8>, LightError> {
        Ok(self.bundle_since(&decode_version(version)?))
    }

    fn bundle_since(&self, version: &VersionVector) -> Vec<u8> {
        bundle::encode(&self.working_copy, &self.key, &self.tree.ops_since(version))
    }

    /// The operations applied here, as bytes for
    /// [`LightReplica::take_bundle_since`]: for each replica, its 16-byte
    /// id and the count of its units applied (8 bytes, little-endian).
    pub fn version_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (replica, count) in self.tree.version().iter() {
            out.extend_from_slice(replica.as_bytes());
            out.extend_from_slice(&count.to_le_bytes());
        }
        out
    }
}

fn decode_version(bytes: &[u8]) -> Result<VersionVector, LightError> {
    if bytes.len() % 24 != 0 {
        return Err(LightError::Version);
    }
    let mut version = VersionVector::new();
    for entry in bytes.chunks_exact(24) {
        let (replica, count) = entry.split_at(16);
        let replica = ReplicaId::from_bytes(replica.try_into().expect("16 bytes"));
        version.set(replica, u64::from_le_bytes(count.try_into().expect("8 bytes")));
    }
    Ok(version)
}
