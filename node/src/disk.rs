//! The working copy on disk, kept in step with the replica in both
//! directions (MISSION F21, F22, rules 6 and 7; issue 6).
//!
//! A [`DiskSync`] owns a working copy's directory and what it last knew of
//! each path there: the entry it shows, its size, mtime and inode, and a
//! hash of its content. That record is the line between the user's writes
//! and the node's:
//!
//! - **Disk to tree** ([`DiskSync::ingest`], [`DiskSync::rescan`]): a path
//!   whose stat differs from the record is read again; a real change
//!   becomes local operations through [`Replica::change`] (stored before
//!   they are returned, to be gossiped). Text files become character edits
//!   (module `text`); binary files and symlinks whole values; a `mv` a move,
//!   matched by inode or else by content; creates and deletes tree
//!   operations. A file still being written waits until it is stable (same
//!   stat before and after a read, last written [`DiskConfig::settle`] ago);
//!   a file that suddenly reads empty waits [`DiskConfig::empty_grace`]
//!   (VS Code truncates before it writes). Waiting paths are read again by
//!   the next call: the caller calls again after `settle` while
//!   [`SyncReport::waiting`] is not zero.
//! - **Tree to disk** ([`DiskSync::materialize`], after remote operations
//!   were applied): each affected path is first checked against the
//!   record, and a user's change found there is ingested first (the CRDT
//!   merges it with the remote one), then the merged entry is written
//!   through a temporary file in the same directory, renamed into place.
//!   Writes never follow a link, never leave the root and never enter
//!   `.git/`; remote names are checked before any disk access. The record is
//!   updated with what the node wrote, so its own writes never come back as
//!   operations.
//! - **Start-up** (the first `rescan`): the record is rebuilt by comparing
//!   disk and tree. With [`DiskConfig::state_file`], the node remembers the
//!   tree version the disk last reflected: a file equal to its text then is
//!   stale (written now), one that differs was edited while the node was
//!   down (merged), and an entry missing from disk that existed then was
//!   deleted (deleted).
//! - **Guards**: a root that is gone, not a directory or without `.git`
//!   (an unmounted disk), or a scan that finds the root emptied while the
//!   node knew [`DiskConfig::mass_delete_guard`] entries or more, stops
//!   with [`DiskError::RootGone`] / [`DiskError::RootEmptied`] instead of
//!   replicating a mass delete.
//!
//! The [`Watcher`] turns file-system events into hints for `ingest`
//! (module `watch`); which paths are replicated at all is module `rules`
//! (`.gitignore`, `.git/info/exclude`, tracked files).
//!
//! Text or binary is decided by content: valid UTF-8 without NUL, at most
//! [`DiskConfig::max_text_bytes`] (8 MiB by default), is text; anything
//! else a binary file, replicated whole (at most
//! [`memo_core::tree::MAX_CONTENT_BYTES`]; larger files are skipped with a
//! warning).
//!
//! Left out for now (each a known limit, not an accident):
//! - Unix only (permissions, inodes, symlinks are read the Unix way).
//! - A check-then-rename race of microseconds remains: a user's write
//!   landing between the node's last check of a file and its rename is
//!   overwritten (its previous content was ingested).
//! - An edit of a conflict copy is not replicated (write to the file
//!   itself); a directory a peer deleted that still holds ignored files
//!   stays on disk.
//! - Moves made while the node was down are seen as a delete and a create.
//! - Case-insensitive file systems: a case-only clash is resolved by
//!   skipping the later name (in byte order), with a warning; found by a
//!   probe at start-up or set in [`DiskConfig::case_insensitive`].

mod files;
mod ingest;
mod materialize;
mod names;
pub mod rules;
pub mod text;
mod watch;

pub use names::is_editor_temp;
pub use watch::{Batch, WatchConfig, Watcher};

use crate::replica::Replica;
use crate::store::StoreError;
use files::{Hash, Stat};
use memo_core::tree::{EntryId, EntryKind};
use memo_core::{TreeOp, VersionVector};
use rules::IgnoreRules;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How a [`DiskSync`] reads and writes the working copy.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DiskConfig {
    /// Largest file replicated as text (a text CRDT); larger UTF-8 files
    /// are binary files.
    pub max_text_bytes: usize,
    /// How long a file must be unchanged before it is read as a change.
    pub settle: Duration,
    /// How long a file that became empty must stay empty to be replicated.
    pub empty_grace: Duration,
    /// A scan that finds the root empty while at least this many entries
    /// were known stops instead of deleting them.
    pub mass_delete_guard: usize,
    /// Where to remember the tree version the disk last reflected (for
    /// start-up); `None` to remember nothing.
    pub state_file: Option<PathBuf>,
    /// The replica is new, so the disk holds its base: without a state
    /// file, start-up takes the disk as reflecting version zero (peers'
    /// operations that arrived before the first scan are written, not
    /// reverted) instead of trusting the disk over the tree.
    pub new_replica: bool,
    /// Whether the file system folds letter case; `None` to probe.
    pub case_insensitive: Option<bool>,
    /// Whether file writes are synced before they are renamed into place.
    pub sync_writes: bool,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            max_text_bytes: 8 << 20,
            settle: Duration::from_millis(50),
            empty_grace: Duration::from_secs(1),
            mass_delete_guard: 10,
            state_file: None,
            new_replica: false,
            case_insensitive: None,
            sync_writes: true,
        }
    }
}

impl DiskConfig {
    /// No waiting for files to settle (tests that write whole files).
    pub fn without_settle(mut self) -> Self {
        self.settle = Duration::ZERO;
        self
    }

    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// See [`DiskConfig::new_replica`].
    pub fn with_new_replica(mut self, new: bool) -> Self {
        self.new_replica = new;
        self
    }

    pub fn with_settle(mut self, settle: Duration, empty_grace: Duration) -> Self {
        self.settle = settle;
        self.empty_grace = empty_grace;
        self
    }

    pub fn with_case_insensitive(mut self, folds: bool) -> Self {
        self.case_insensitive = Some(folds);
        self
    }

    pub fn with_max_text_bytes(mut self, bytes: usize) -> Self {
        self.max_text_bytes = bytes;
        self
    }
}

/// Why the disk and the tree could not be brought in step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiskError {
    #[error(
        "the working copy {0} is gone, is not a directory, or has no .git (an unmounted disk?): the node stops \
         rather than replicate a mass delete; remount or restore it, then start the node again"
    )]
    RootGone(PathBuf),
    #[error(
        "the working copy {root} was emptied ({known} known entries vanished at once): the node stops rather \
         than replicate a mass delete; restore the files (or remount the disk) and start the node again"
    )]
    RootEmptied { root: PathBuf, known: usize },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// A local change was made on the tree but not stored: the node must
    /// stop (see [`crate::replica::ChangeError::Store`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DiskError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> DiskError {
        let path = path.into();
        move |source| DiskError::Io { path, source }
    }
}

/// What one call did.
#[derive(Debug, Default)]
#[must_use]
pub struct SyncReport {
    /// Local operations made from changes on disk, stored and acknowledged:
    /// gossip them.
    pub ops: Vec<TreeOp>,
    /// Paths written on disk (files, links, directories made, moved or
    /// removed).
    pub written: usize,
    /// Paths still being written by someone: call again after
    /// [`DiskConfig::settle`].
    pub waiting: usize,
}

impl SyncReport {
    fn absorb(&mut self, other: SyncReport) {
        self.ops.extend(other.ops);
        self.written += other.written;
    }
}

/// What a known path shows: an entry, or a conflict copy of a binary file
/// (named by its path alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ident {
    Entry(EntryId),
    Copy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    Text,
    Binary,
    Symlink,
}

/// What the disk and the tree last agreed on at one path.
#[derive(Clone, Debug)]
struct Known {
    ident: Ident,
    kind: Kind,
    /// The stat of what the node last read or wrote there.
    stat: Stat,
    /// The hash of that content (file bytes or link target).
    hash: Hash,
    /// Whether the file was written so shortly before the node recorded it
    /// that a later write could leave the same stat (timestamps have a
    /// granularity): its content is compared, not only its stat (Git's
    /// "racily clean" entries).
    racy: bool,
    /// The tree version at which the tree's content was that content: the
    /// base of a three-way merge when both changed since.
    version: Arc<VersionVector>,
    /// The text on disk, when it is not the tree's text at `version` (a
    /// merge on ingest, not written back yet).
    text_base: Option<Arc<str>>,
}

impl Known {
    /// A record stamped with no version yet (the caller stamps it).
    fn new(ident: Ident, kind: Kind, stat: Stat, hash: Hash) -> Known {
        Known { ident, kind, stat, hash, racy: stat.is_recent(), version: Arc::default(), text_base: None }
    }

    /// The record with a new stat (and whether it is racy, as of now).
    fn with_stat(self, stat: Stat) -> Known {
        Known { stat, racy: stat.is_recent(), ..self }
    }

    /// Whether what is on disk at `rel` may differ from this record.
    fn may_differ(&self, found: &files::Found) -> bool {
        self.racy || found.stat() != Some(self.stat) || self.stat == Stat::UNKNOWN
    }

    fn executable(&self) -> bool {
        self.stat.executable()
    }
}

/// The working copy's directory kept in step with its replica (see the
/// module documentation).
#[derive(Debug)]
pub struct DiskSync {
    root: PathBuf,
    config: DiskConfig,
    rules: IgnoreRules,
    /// By relative `/`-separated path; parents sort before children.
    known: BTreeMap<String, Known>,
    /// Paths seen changing, not stable yet: read again by the next call.
    waiting: BTreeSet<String>,
    /// Entries whose tree content may differ from the disk's: written by
    /// the next call.
    dirty: BTreeSet<EntryId>,
    /// The tree's shape changed in a way not written out yet.
    needs_reconcile: bool,
    case_insensitive: bool,
    /// The tree version the disk reflected when the node last stopped (from
    /// the state file), until the start-up scan has used it.
    synced_before: Option<VersionVector>,
    started: bool,
}

impl DiskSync {
    /// Opens the working copy at `root` (which must exist and hold `.git`).
    /// Nothing is read or written until the first [`DiskSync::rescan`].
    pub fn open(root: impl AsRef<Path>, config: DiskConfig) -> Result<DiskSync, DiskError> {
        let given = root.as_ref();
        let root = given.canonicalize().map_err(|_| DiskError::RootGone(given.to_path_buf()))?;
        let case_insensitive = match config.case_insensitive {
            Some(folds) => folds,
            None => probe_case_folding(&root),
        };
        let remembered = config.state_file.as_deref().and_then(load_state);
        let synced_before = remembered.or_else(|| config.new_replica.then(VersionVector::new));
        let sync = DiskSync {
            rules: IgnoreRules::load(&root),
            root,
            config,
            known: BTreeMap::new(),
            waiting: BTreeSet::new(),
            dirty: BTreeSet::new(),
            needs_reconcile: false,
            case_insensitive,
            synced_before,
            started: false,
        };
        sync.check_root()?;
        Ok(sync)
    }

    /// The working copy's directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &DiskConfig {
        &self.config
    }

    /// How many paths wait to be stable.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Reads the whole working copy and turns every difference with the
    /// tree into local operations, then writes what the tree has that the
    /// disk lacks. The first call is the start-up scan (see the module
    /// documentation); later ones catch what the watcher missed.
    pub fn rescan(&mut self, replica: &mut Replica) -> Result<SyncReport, DiskError> {
        self.rules.reload(".git/index");
        self.rules.reload(".git/info/exclude");
        if !self.started {
            self.adopt(replica)?;
        }
        let mut report = self.ingest_scopes(replica, vec![String::new()], true)?;
        self.finish(replica, &mut report)?;
        Ok(report)
    }

    /// Reads again what `hints` point at (paths in the working copy,
    /// absolute or relative to the root; a directory with everything
    /// inside), and turns what changed into local operations.
    pub fn ingest(&mut self, replica: &mut Replica, hints: &[PathBuf]) -> Result<SyncReport, DiskError> {
        if !self.started {
            return self.rescan(replica);
        }
        let mut scopes = Vec::new();
        for hint in hints {
            let Some(rel) = self.relative(hint) else { continue };
            if self.rules.reload(&rel) && rel.starts_with(".git/") {
                // The tracked set or the excludes changed: what they
                // decide is seen by a rescan of everything.
                scopes.push(String::new());
            } else if !rel.split('/').any(|part| part.eq_ignore_ascii_case(".git")) {
                scopes.push(rel);
            }
        }
        let mut report = self.ingest_scopes(replica, scopes, false)?;
        self.finish(replica, &mut report)?;
        Ok(report)
    }

    /// Writes to disk what `applied` (remote operations just applied to
    /// `replica`) changed. A user's change found in the way is ingested
    /// first: its operations are in the report, to be gossiped.
    pub fn materialize(&mut self, replica: &mut Replica, applied: &[TreeOp]) -> Result<SyncReport, DiskError> {
        if !self.started {
            return self.rescan(replica);
        }
        self.note_applied(applied);
        let mut report = SyncReport::default();
        self.finish(replica, &mut report)?;
        Ok(report)
    }

    /// Writes out what is pending, then remembers the version reached.
    fn finish(&mut self, replica: &mut Replica, report: &mut SyncReport) -> Result<(), DiskError> {
        // Twice at most: writing a content can find the tree's shape
        // changed by a user's edit ingested on the way.
        for _ in 0..2 {
            if self.needs_reconcile {
                self.reconcile(replica, report)?;
            }
            self.flush_dirty(replica, report)?;
        }
        report.waiting = self.waiting.len();
        if self.waiting.is_empty() && self.dirty.is_empty() && !self.needs_reconcile {
            self.save_state(replica.tree().version());
        }
        Ok(())
    }

    /// A path in the working copy as a relative `/`-separated string;
    /// `None` for paths outside it or not UTF-8.
    fn relative(&self, path: &Path) -> Option<String> {
        let rel = match path.is_absolute() {
            true => path.strip_prefix(&self.root).ok()?,
            false => path,
        };
        let mut parts = Vec::new();
        for part in rel.components() {
            match part {
                std::path::Component::Normal(name) => parts.push(name.to_str()?),
                std::path::Component::CurDir => {}
                _ => return None,
            }
        }
        Some(parts.join("/"))
    }

    fn abs(&self, rel: &str) -> PathBuf {
        match rel.is_empty() {
            true => self.root.clone(),
            false => self.root.join(rel),
        }
    }

    /// The root must still be a directory holding `.git`.
    fn check_root(&self) -> Result<(), DiskError> {
        let ok = matches!(files::lstat(&self.root), Ok(Some(files::Found::Dir(_))))
            && std::fs::symlink_metadata(self.root.join(".git")).is_ok();
        match ok {
            true => Ok(()),
            false => Err(DiskError::RootGone(self.root.clone())),
        }
    }

    /// Known paths at or under `rel`.
    fn known_under(&self, rel: &str) -> Vec<String> {
        if rel.is_empty() {
            return self.known.keys().cloned().collect();
        }
        let prefix = format!("{rel}/");
        let mut under: Vec<String> = self.known.contains_key(rel).then(|| rel.to_string()).into_iter().collect();
        under.extend(
            self.known.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(k, _)| k.clone()),
        );
        under
    }

    /// Moves the record of `from` and everything under it to `to`.
    fn rekey(&mut self, from: &str, to: &str) {
        for old in self.known_under(from) {
            let known = self.known.remove(&old).expect("listed");
            self.known.insert(format!("{to}{}", &old[from.len()..]), known);
        }
    }

    /// Forgets `rel` and everything under it.
    fn forget(&mut self, rel: &str) {
        for old in self.known_under(rel) {
            self.known.remove(&old);
        }
    }

    fn save_state(&self, version: &VersionVector) {
        let Some(path) = &self.config.state_file else { return };
        let bytes = postcard::to_allocvec(version).expect("a version vector encodes");
        let (dir, name) = (path.parent().unwrap_or(Path::new(".")), path.file_name().and_then(|n| n.to_str()));
        if let Err(error) = files::write_atomic(dir, name.unwrap_or("disk-state"), &bytes, 0o644, false) {
            tracing::warn!(path = %path.display(), %error, "cannot remember the synced version");
        }
    }
}

fn load_state(path: &Path) -> Option<VersionVector> {
    let bytes = std::fs::read(path).ok()?;
    match postcard::from_bytes(&bytes) {
        Ok(version) => Some(version),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "unreadable disk state: start-up trusts the disk");
            None
        }
    }
}

/// Whether the file system at `root` folds letter case: a probe file is
/// made and looked for under another case.
fn probe_case_folding(root: &Path) -> bool {
    let probe = root.join(".memo-write-CaseProbe");
    if std::fs::write(&probe, b"").is_err() {
        return false;
    }
    let folds = root.join(".memo-write-caseprobe").exists();
    let _ = std::fs::remove_file(&probe);
    folds
}

/// What kind of record an entry of the tree makes.
fn kind_of(kind: EntryKind, text: bool) -> Kind {
    match kind {
        EntryKind::Dir => Kind::Dir,
        EntryKind::Symlink => Kind::Symlink,
        EntryKind::File if text => Kind::Text,
        EntryKind::File | EntryKind::ConflictCopy => Kind::Binary,
    }
}

/// The parent and the last component of a relative path.
fn split(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

fn join(dir: &str, name: &str) -> String {
    match dir.is_empty() {
        true => name.to_string(),
        false => format!("{dir}/{name}"),
    }
}
