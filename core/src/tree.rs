//! The working-tree CRDT: one replica of a whole working copy.
//!
//! A [`WorkTree`] holds directories, text files (a [`TextCrdt`] each),
//! binary files and symlinks (multi-value registers), and executable bits
//! (last writer wins). Every change is a [`TreeOp`]; all of them, text
//! edits included, are numbered in one sequence per replica, ordered by one
//! Lamport clock and counted by one [`VersionVector`], and wait in one
//! causal buffer. The parts:
//!
//! - `structure`: where each entry stands, decided by moves in stamp
//!   order (Kleppmann et al. 2021: no cycle, the same tree everywhere);
//! - `view`: which entries show and under which names (deletes remove
//!   only what their author saw; name conflicts get deterministic names);
//! - `base`: the Git commit a tree starts from ([`BaseSnapshot`]), whose
//!   content is never sent; `ids`: the derived identities that make this
//!   work;
//! - `local` (edits made here), `remote` (applying operations), `query`
//!   (listing, reading, history), `session` (editors' sessions on text
//!   files and anchors, bound to a file rather than a path), `snapshot`
//!   (the whole replica in one block of bytes, for a fast start).
//!
//! Policies, each tested in `core/tests/tree_scenarios.rs`:
//! - *delete against edit, rename or move*: the change wins; the entry
//!   stays where the change put it (a delete removes only what it saw);
//! - *delete of a directory against a create inside it*: the new file
//!   stays, and so does the directory that holds it;
//! - *two moves of one entry*: the later stamp wins; *moves into each
//!   other*: the one that would close a cycle has no effect;
//! - *two creates of one name*: both stay, the later one renamed;
//!   *two `mkdir` of one name*: one directory.
//!
//! ```
//! use memo_core::tree::{WorkTree, EmptyBase};
//! use memo_core::ReplicaId;
//! use std::sync::Arc;
//! let mut a = WorkTree::new(ReplicaId::from_u128(1), Arc::new(EmptyBase));
//! let mut b = WorkTree::new(ReplicaId::from_u128(2), Arc::new(EmptyBase));
//! let mut ops = vec![a.create_dir("src").unwrap()];
//! ops.extend(a.create_text("src/main.rs", "fn main() {}\n").unwrap());
//! for op in ops {
//!     b.apply(op).unwrap();
//! }
//! let rename = b.rename("src/main.rs", "src/lib.rs").unwrap();
//! let edit = a.edit_text("src/main.rs", 0, 0, "// hi\n").unwrap();
//! a.apply(rename).unwrap();
//! for op in edit {
//!     b.apply(op).unwrap();
//! }
//! assert_eq!(a.read_text("src/lib.rs").unwrap(), "// hi\nfn main() {}\n");
//! assert_eq!(a.paths(), b.paths());
//! ```

mod base;
mod entry;
mod ids;
mod local;
mod op;
mod query;
mod remote;
mod session;
mod snapshot;
mod structure;
mod view;
mod wire;

pub use base::{is_text, BaseEntry, BaseKind, BaseSnapshot, EmptyBase, MemoryBase};
pub use ids::{base_text_replica, BlobId, EntryId, TimelineId};
pub use local::TreeError;
pub use op::{check_name, InvalidTreeOp, NewEntry, TreeOp, TreeOpKind, ValueId, MAX_CONTENT_BYTES, MAX_NAME_BYTES};
pub use query::{Content, EntryInfo, EntryKind, Head, Status};
pub use remote::TreeApplyError;
pub use snapshot::{SnapshotError, SNAPSHOT_MAGIC, SNAPSHOT_VERSION};

use crate::causal::{Bounds, CausalBuffer};
use crate::id::{IdRange, Lamport, OpId, ReplicaId, Seq};
use crate::text::TextCrdt;
use crate::version::VersionVector;
use entry::{Bytes, Entry, Kind, Lww, Register, BASE_STAMP};
use foldhash::HashMap;
use std::sync::Arc;
use structure::{Place, Structure};
use view::{View, ViewRef};

/// One replica of a working copy.
///
/// A `WorkTree` is `Send` but not `Sync` (it caches its view): share one
/// between threads behind a `Mutex`.
#[derive(Debug)]
pub struct WorkTree {
    replica: ReplicaId,
    timeline: TimelineId,
    /// The timelines this one was forked from, oldest first, each with the
    /// version it was forked at: their operations up to there are ours.
    lineage: Vec<(TimelineId, VersionVector)>,
    version: VersionVector,
    /// This replica's next sequence number.
    next_seq: Seq,
    clock: Lamport,
    pending: CausalBuffer<TreeOp>,
    /// Every applied operation, in the order applied (a causal order);
    /// text edits by reference to their file's log.
    log: Vec<Logged>,
    structure: Structure,
    entries: HashMap<EntryId, Entry>,
    base: Arc<dyn BaseSnapshot>,
    /// The visible tree, computed as far as asked for since the changes.
    view: View,
    /// Where the working copy's HEAD is ([`WorkTree::head`]).
    head: Option<Head>,
}

/// An entry of the operation log.
#[derive(Debug, Clone)]
enum Logged {
    Op(TreeOp),
    /// Units of text edits of one file, kept in that file's text CRDT.
    Edit {
        file: EntryId,
        range: IdRange,
    },
}

impl WorkTree {
    /// A replica of the main timeline starting from `base`.
    pub fn new(replica: ReplicaId, base: Arc<dyn BaseSnapshot>) -> Self {
        let mut tree = Self {
            replica,
            timeline: TimelineId::MAIN,
            lineage: Vec::new(),
            version: VersionVector::new(),
            next_seq: 0,
            clock: 0,
            pending: CausalBuffer::new(Bounds::DEFAULT),
            log: Vec::new(),
            structure: Structure::default(),
            entries: HashMap::default(),
            base,
            view: View::default(),
            head: None,
        };
        tree.load_base();
        tree
    }

    fn load_base(&mut self) {
        self.entries.insert(EntryId::Root, Entry::new(Kind::Dir, Some(String::new())));
        let base_entries = self.base.entries();
        for (id, parent, name, entry) in base::placed_entries(&base_entries) {
            let kind = match entry.map(|e| &e.kind) {
                None | Some(BaseKind::Dir) => Kind::Dir,
                Some(BaseKind::File { blob, executable }) => {
                    Kind::Unread { blob: blob.clone(), executable: Lww::base(*executable) }
                }
                Some(BaseKind::Symlink { target }) => Kind::Symlink {
                    target: Register::new(ValueId::Base, BASE_STAMP, Bytes::Inline(target.clone().into_bytes())),
                },
            };
            let path = entry.map(|e| e.path.trim_matches('/').to_string());
            let path = path.or_else(|| Some(self.base_dir_path(parent, &name)));
            self.entries.insert(id, Entry::new(kind, path));
            self.structure.place_base(id, Place { parent, name: name.into(), stamp: BASE_STAMP });
        }
        // Nothing was shown before: nothing to forget.
        self.structure.take_moved();
    }

    fn base_dir_path(&self, parent: EntryId, name: &str) -> String {
        match self.entries.get(&parent).and_then(|e| e.base_path.as_deref()) {
            Some("") | None => name.to_string(),
            Some(dir) => format!("{dir}/{name}"),
        }
    }

    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    pub fn timeline(&self) -> TimelineId {
        self.timeline
    }

    /// The operations applied here.
    pub fn version(&self) -> &VersionVector {
        &self.version
    }

    /// The Lamport clock: above every stamp seen here.
    pub fn clock(&self) -> Lamport {
        self.clock
    }

    /// The timeline an operation covering `range` belongs to here: one
    /// inherited from a timeline this one was forked from, or this one.
    fn timeline_of(&self, range: IdRange) -> TimelineId {
        let inherited = self.lineage.iter().find(|(_, version)| version.contains_range(&range));
        inherited.map_or(self.timeline, |(timeline, _)| *timeline)
    }

    /// Sets how much may wait for its dependencies ([`Bounds::DEFAULT`]
    /// unless set).
    pub fn set_pending_bounds(&mut self, bounds: Bounds) {
        self.pending.set_bounds(bounds);
    }

    /// How many operations wait for their dependencies, and the bytes
    /// they hold.
    pub fn pending_size(&self) -> (usize, usize) {
        (self.pending.len(), self.pending.bytes())
    }

    fn view(&self) -> ViewRef<'_> {
        ViewRef { view: &self.view, structure: &self.structure, entries: &self.entries }
    }

    /// Whether the cached view equals one computed afresh (for tests of the
    /// cache's invalidation).
    #[doc(hidden)]
    pub fn view_is_fresh(&self) -> bool {
        let fresh = self.view.emptied();
        ViewRef { view: &fresh, ..self.view() }.iter() == self.view().iter()
    }

    /// Makes the view forget what the moves since the last call changed.
    fn forget_moves(&mut self) {
        for (entry, old_parent) in self.structure.take_moved() {
            self.view.forget_move(&self.structure, entry, old_parent);
        }
    }

    /// The text CRDT of a text file, reading a base file first if needed.
    fn text_crdt(&mut self, file: EntryId) -> Result<&mut TextCrdt, InvalidTreeOp> {
        self.read_base(file)?;
        match self.entries.get_mut(&file).map(|e| &mut e.kind) {
            Some(Kind::Text { text, .. }) => Ok(text),
            Some(_) => Err(InvalidTreeOp::NotAText(file)),
            None => Err(InvalidTreeOp::UnknownEntry(file)),
        }
    }

    /// Turns an unread base file into a text or binary file, by content.
    fn read_base(&mut self, file: EntryId) -> Result<(), InvalidTreeOp> {
        let Some(Entry { kind: Kind::Unread { blob, executable }, .. }) = self.entries.get(&file) else {
            return Ok(());
        };
        let (blob, executable) = (blob.clone(), *executable);
        let content = self.base.read(&blob).ok_or(InvalidTreeOp::MissingBase(file))?;
        let kind = match is_text(&content) {
            true => {
                let text = std::str::from_utf8(&content).expect("is_text checks UTF-8");
                let crdt = TextCrdt::with_base(self.replica, base_text_replica(&blob), text);
                Kind::Text { text: Box::new(crdt), executable }
            }
            false => Kind::Binary { content: Register::new(ValueId::Base, BASE_STAMP, Bytes::Base(blob)), executable },
        };
        self.entries.get_mut(&file).expect("checked above").kind = kind;
        Ok(())
    }

    /// Records that `op` (applied) changed `entry`.
    fn touch(&mut self, entry: EntryId, id: OpId, units: u64, modified: bool) {
        if let Some(e) = self.entries.get_mut(&entry) {
            e.touch(id, units);
            e.modified |= modified;
        }
    }

    /// Marks the units `id..id + units` applied.
    fn advance(&mut self, id: OpId, lamport: Lamport, units: u64) {
        self.version.set(id.replica, id.seq + units);
        if id.replica == self.replica {
            self.next_seq = id.seq + units;
        }
        self.clock = self.clock.max(lamport + units);
    }

    /// Appends an applied operation to the log, merging consecutive edits
    /// of one file by one author.
    fn log_op(&mut self, op: &TreeOp) {
        let TreeOpKind::Edit { file, .. } = op.kind else {
            self.log.push(Logged::Op(op.clone()));
            return;
        };
        let range = op.range();
        if let Some(Logged::Edit { file: last, range: last_range }) = self.log.last_mut() {
            if *last == file && last_range.replica == range.replica && last_range.end() == range.seq {
                last_range.len += range.len;
                return;
            }
        }
        self.log.push(Logged::Edit { file, range });
    }
}
