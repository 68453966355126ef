//! The durable operation store: one RocksDB database per working copy.
//!
//! Every operation the node knows, local or remote, is written here before
//! anything else sees it (the visible tree, an editor, a peer): an
//! operation is *acknowledged* when [`Store::append`] returns, and by then
//! its write-ahead log record is synced to disk. A `kill -9` or a power cut
//! after that loses nothing.
//!
//! # Layout (format version [`FORMAT_VERSION`])
//!
//! Column families:
//!
//! | family | key | value |
//! |---|---|---|
//! | `ops` | replica id (16 bytes) ‖ first seq (8 bytes, big-endian) | [`TreeOp::encode`] |
//! | `arrival` | arrival index (8 bytes, big-endian) | the `ops` key of the op stored then |
//! | `meta` | a name (ASCII) | see below |
//! | `snapshots` | arrivals covered `n` (8 bytes, big-endian) | [`WorkTree::encode_snapshot`] of the tree holding arrivals `0..n` |
//! | `commits` | (empty for now) | a Git commit id mapped to the version vector it was made at |
//!
//! The `ops` key sorts one replica's operations together in sequence
//! order, so "every operation of replica R from sequence N on" is one range
//! scan ([`Store::ops_of`], what catch-up serves). The `arrival` family
//! keeps the order operations were stored in, which is an order the tree
//! accepted them in: replaying in it ([`Store::all_ops`]) needs almost no
//! causal buffering, where the `ops` order (replica by replica) would
//! buffer nearly everything.
//!
//! `meta` holds `format` (u32, big-endian), `replica` (this working copy's
//! replica id, drawn at random when the store is made) and `next_seq`
//! (u64, big-endian: the sequence number this replica uses next). `next_seq`
//! is written in the same atomic batch as the local operations that move
//! it, so it is never behind an acknowledged operation and never goes
//! backwards: a restarted replica never reuses a (replica, seq) pair.
//!
//! # Corruption
//!
//! A stored operation that does not decode, decodes to an operation other
//! than the one its key names, or is not byte for byte the encoding of
//! what it decodes to, is an error naming its key
//! ([`StoreError::CorruptOp`]) when it is read: start-up stops rather than
//! build a tree that silently lacks it. (Skipping it would leave a hole in
//! its author's sequence that every later operation of that author waits
//! on.) Damage to RocksDB's own files is caught by its block checksums
//! ([`StoreError::Db`]).
//!
//! # Snapshots
//!
//! Every [`Store::snapshot_interval`] stored operations (and on a clean
//! shutdown) the node writes a snapshot of its tree ([`Store::put_snapshot`])
//! keyed by the number of arrivals it covers, in one synced batch that also
//! deletes the older ones: a crash leaves either the old snapshot or the
//! new one. The snapshot itself carries a format version and a checksum
//! ([`memo_core::tree::SnapshotError`]), so a torn or garbled one is
//! detected: start-up then warns and replays every operation, which are
//! all still here (snapshots never replace operations: peers catching up
//! and `ops_of` need them).
//!
//! `commits` is created now so that adding its content does not change
//! the format: it is the commit-to-version map the Git issue fills
//! (MISSION F5).

#[cfg(doc)]
use memo_core::WorkTree;
use memo_core::{DecodeError, ReplicaId, Seq, TreeOp, VersionVector};
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The storage format this build writes and reads. A store written with a
/// larger number is refused ([`StoreError::NewerFormat`]).
pub const FORMAT_VERSION: u32 = 1;

const CF_OPS: &str = "ops";
const CF_ARRIVAL: &str = "arrival";
const CF_META: &str = "meta";
const CF_SNAPSHOTS: &str = "snapshots";
const CF_COMMITS: &str = "commits";
const CF_TIMES: &str = "times";
const FAMILIES: [&str; 6] = [CF_OPS, CF_ARRIVAL, CF_META, CF_SNAPSHOTS, CF_COMMITS, CF_TIMES];

const META_FORMAT: &[u8] = b"format";
const META_REPLICA: &[u8] = b"replica";
const META_NEXT_SEQ: &[u8] = b"next_seq";

/// How many stored operations make a new snapshot due, by default: a
/// start-up then replays at most this many operations one by one.
pub const DEFAULT_SNAPSHOT_INTERVAL: u64 = 10_000;

/// Why the store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "{path}: written by a newer Memo (store format {found}; this Memo reads up to {supported}): \
         upgrade Memo to open it"
    )]
    NewerFormat { path: PathBuf, found: u32, supported: u32 },
    #[error("{path}: not a Memo store ({reason}); choose an empty or new directory for the store")]
    NotAStore { path: PathBuf, reason: String },
    #[error(
        "stored operation {key} is corrupt ({reason}); restore the store from a backup, or move it \
         away and let the node fetch the operations from its peers again"
    )]
    CorruptOp { key: OpKey, reason: String },
    #[error("store metadata `{name}` is corrupt ({reason}); restore the store from a backup")]
    CorruptMeta { name: &'static str, reason: String },
    #[error("{path}: {source}; check the store's directory and its permissions")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("could not draw a random replica id from the operating system: {0}")]
    Random(getrandom::Error),
    #[error("{path}: the store is in use by another process (is another `memo` running on this working copy?)")]
    Locked { path: PathBuf },
    #[error("RocksDB: {0}")]
    Db(#[from] rocksdb::Error),
}

/// The `ops` key of an operation: its author and first sequence number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpKey {
    pub replica: ReplicaId,
    pub seq: Seq,
}

impl OpKey {
    pub const LEN: usize = 24;

    pub fn of(op: &TreeOp) -> Self {
        Self { replica: op.id.replica, seq: op.id.seq }
    }

    pub fn to_bytes(self) -> [u8; Self::LEN] {
        let mut key = [0; Self::LEN];
        key[..16].copy_from_slice(self.replica.as_bytes());
        key[16..].copy_from_slice(&self.seq.to_be_bytes());
        key
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::LEN] = bytes.try_into().ok()?;
        let (replica, seq) = bytes.split_at(16);
        Some(Self {
            replica: ReplicaId::from_bytes(replica.try_into().ok()?),
            seq: u64::from_be_bytes(seq.try_into().ok()?),
        })
    }
}

impl fmt::Debug for OpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.replica, self.seq)
    }
}

impl fmt::Display for OpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} (key {})", self.replica, self.seq, hex(&self.to_bytes()))
    }
}

use memo_core::hex::encode as hex;

/// The operation store of one working copy.
///
/// One process at a time: RocksDB locks the directory, and a second
/// [`Store::open`] fails with [`StoreError::Db`].
pub struct Store {
    /// Shared with [`StoreReader`]s, which read on other threads.
    db: Arc<DB>,
    path: PathBuf,
    replica: ReplicaId,
    /// Mirrors `meta/next_seq`.
    next_seq: Seq,
    /// The arrival index the next stored operation gets.
    next_arrival: u64,
    /// How many arrivals the newest snapshot covers (0 without one).
    snapshot_covers: u64,
    snapshot_interval: u64,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("replica", &self.replica)
            .field("next_seq", &self.next_seq)
            .field("next_arrival", &self.next_arrival)
            .field("snapshot_covers", &self.snapshot_covers)
            .finish()
    }
}

impl Store {
    /// Opens the store at `path`, making a new one (with a new random
    /// replica id) if `path` does not exist or is an empty directory.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if is_absent_or_empty(&path) {
            create(&path)?;
        }
        let existing = DB::list_cf(&Options::default(), &path)
            .map_err(|error| not_a_store(&path, format!("no RocksDB database here: {error}")))?;
        let db = open_db(&path, &existing)?;
        let (replica, next_seq) = read_meta(&db, &path)?;
        let next_arrival = next_arrival(&db)?;
        let snapshot_covers = newest_snapshot_key(&db)?.unwrap_or(0);
        let snapshot_interval = DEFAULT_SNAPSHOT_INTERVAL;
        Ok(Store { db: Arc::new(db), path, replica, next_seq, next_arrival, snapshot_covers, snapshot_interval })
    }

    /// This working copy's replica id (drawn when the store was made).
    pub fn replica_id(&self) -> ReplicaId {
        self.replica
    }

    /// The first sequence number no acknowledged local operation has used:
    /// a replica restarted on this store starts there.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `ops` (local and remote alike) in one atomic batch and syncs
    /// the write-ahead log: when this returns `Ok`, they survive any crash.
    ///
    /// An operation already stored (same author and first sequence number)
    /// is skipped: duplicates from the network cost nothing, and the first
    /// version stored wins over a different one under the same id (which
    /// only a broken or hostile peer sends). A failed
    /// append stores none of `ops`; the node must then stop rather than go
    /// on, because the tree already holds local operations the store lacks.
    pub fn append(&mut self, ops: &[TreeOp]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        let mut in_batch = HashSet::new();
        let (mut next_arrival, mut next_seq) = (self.next_arrival, self.next_seq);
        for op in ops {
            let key = OpKey::of(op);
            if !in_batch.insert(key) || self.contains(key)? {
                continue;
            }
            batch.put_cf(self.cf(CF_OPS), key.to_bytes(), op.encode());
            batch.put_cf(self.cf(CF_ARRIVAL), next_arrival.to_be_bytes(), key.to_bytes());
            next_arrival += 1;
            if key.replica == self.replica {
                next_seq = next_seq.max(op.range().end());
            }
        }
        if next_seq != self.next_seq {
            batch.put_cf(self.cf(CF_META), META_NEXT_SEQ, next_seq.to_be_bytes());
        }
        self.db.write_opt(batch, &synced())?;
        (self.next_arrival, self.next_seq) = (next_arrival, next_seq);
        Ok(())
    }

    /// Notes that the replica held `version` at `unix_seconds` (the time
    /// index behind `memo show --at <time>`): one entry per second, the
    /// last write of a second standing for it. Not synced: a crash loses
    /// at most the last second's entry, which the next write redoes.
    pub fn note_time(&mut self, unix_seconds: u64, version: &VersionVector) -> Result<(), StoreError> {
        let value = postcard::to_allocvec(version).expect("a version always serializes");
        Ok(self.db.put_cf(self.cf(CF_TIMES), unix_seconds.to_be_bytes(), value)?)
    }

    /// The version the replica held at the end of second `unix_seconds`,
    /// as [`Store::note_time`] noted it; `None` before the first entry.
    pub fn version_at(&self, unix_seconds: u64) -> Result<Option<VersionVector>, StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_TIMES));
        iter.seek_for_prev(unix_seconds.to_be_bytes());
        match iter.value() {
            Some(value) => postcard::from_bytes(value)
                .map(Some)
                .map_err(|e| StoreError::CorruptMeta { name: "times", reason: e.to_string() }),
            None => Ok(iter.status().map(|()| None)?),
        }
    }

    /// Every entry of the time index ([`Store::note_time`]), oldest first.
    pub fn times(&self) -> Result<Vec<(u64, VersionVector)>, StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_TIMES));
        iter.seek_to_first();
        let mut times = Vec::new();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let corrupt = |reason: String| StoreError::CorruptMeta { name: "times", reason };
            let second =
                u64::from_be_bytes(key.try_into().map_err(|_| corrupt(format!("a key of {} bytes", key.len())))?);
            times.push((second, postcard::from_bytes(value).map_err(|e| corrupt(e.to_string()))?));
            iter.next();
        }
        iter.status()?;
        Ok(times)
    }

    /// Whether an operation with this key is stored.
    pub fn contains(&self, key: OpKey) -> Result<bool, StoreError> {
        Ok(self.db.get_pinned_cf(self.cf(CF_OPS), key.to_bytes())?.is_some())
    }

    /// Every stored operation of `replica` that covers a unit at or after
    /// `from_seq`, in sequence order (the first may start before
    /// `from_seq`: an edit takes several units). One range scan.
    pub fn ops_of(&self, replica: ReplicaId, from_seq: Seq) -> Result<Vec<TreeOp>, StoreError> {
        Ok(self.reader().ops_of_bounded(replica, from_seq, usize::MAX)?.0)
    }

    /// A handle that reads stored operations from another thread (e.g.
    /// [`tokio::task::spawn_blocking`]) while this store goes on writing.
    /// It keeps the database open until it is dropped.
    pub fn reader(&self) -> StoreReader {
        StoreReader { db: Arc::clone(&self.db) }
    }

    /// Every stored operation in the order it was stored: an order in which
    /// a fresh `WorkTree` accepts them with little buffering.
    pub fn all_ops(&self) -> Result<Vec<TreeOp>, StoreError> {
        let mut ops = Vec::with_capacity(self.next_arrival as usize);
        self.for_each_op(|op| ops.push(op))?;
        Ok(ops)
    }

    /// Calls `f` with every stored operation in arrival order, without
    /// holding them all in memory.
    pub fn for_each_op(&self, f: impl FnMut(TreeOp)) -> Result<(), StoreError> {
        self.for_each_op_from(0, f)
    }

    /// Calls `f` with every operation stored at arrival index `from` or
    /// later, in arrival order: the tail after a snapshot.
    pub fn for_each_op_from(&self, from: u64, mut f: impl FnMut(TreeOp)) -> Result<(), StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_ARRIVAL));
        iter.seek(from.to_be_bytes());
        while let Some(value) = iter.value() {
            let key = parse_key(value)?;
            let bytes = self.db.get_pinned_cf(self.cf(CF_OPS), value)?;
            let bytes = bytes.ok_or_else(|| corrupt(key, "listed in the arrival log but missing"))?;
            f(decode_op(key, &bytes)?);
            iter.next();
        }
        Ok(iter.status()?)
    }

    /// The version the stored operations make up: for each replica, the
    /// units `0..n` stored without a gap. A scan of every operation: the
    /// running node asks its `WorkTree` instead.
    pub fn version(&self) -> Result<VersionVector, StoreError> {
        let mut version = VersionVector::new();
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_OPS));
        iter.seek_to_first();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let key = parse_key(key)?;
            // Keys sort by sequence within a replica: an operation that
            // starts past the counted units leaves a gap, and the later
            // ones of that replica cannot count.
            if key.seq <= version.get(key.replica) {
                let end = decode_op(key, value)?.range().end();
                version.set(key.replica, version.get(key.replica).max(end));
            }
            iter.next();
        }
        iter.status()?;
        Ok(version)
    }

    /// Stores `snapshot`, the tree holding exactly the first `covers`
    /// stored operations, and drops older snapshots, in one synced batch.
    pub fn put_snapshot(&mut self, covers: u64, snapshot: &[u8]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(self.cf(CF_SNAPSHOTS), 0u64.to_be_bytes(), covers.to_be_bytes());
        batch.put_cf(self.cf(CF_SNAPSHOTS), covers.to_be_bytes(), snapshot);
        self.db.write_opt(batch, &synced())?;
        self.snapshot_covers = covers;
        Ok(())
    }

    /// The newest snapshot and how many arrivals it covers, if any.
    pub fn newest_snapshot(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let mut iter = self.db.raw_iterator_cf(self.cf(CF_SNAPSHOTS));
        iter.seek_to_last();
        iter.status()?;
        match (iter.key(), iter.value()) {
            (Some(key), Some(value)) => Ok(Some((u64::from_be_bytes(fixed("snapshot key", key)?), value.to_vec()))),
            _ => Ok(None),
        }
    }

    /// How many stored operations make a new snapshot due.
    pub fn snapshot_interval(&self) -> u64 {
        self.snapshot_interval
    }

    /// Sets how many stored operations make a new snapshot due (at least 1).
    pub fn set_snapshot_interval(&mut self, ops: u64) {
        self.snapshot_interval = ops.max(1);
    }

    /// Whether [`Store::snapshot_interval`] operations were stored since
    /// the newest snapshot.
    pub fn snapshot_due(&self) -> bool {
        self.next_arrival.saturating_sub(self.snapshot_covers) >= self.snapshot_interval
    }

    /// How many operations are stored.
    pub fn len(&self) -> u64 {
        self.next_arrival
    }

    pub fn is_empty(&self) -> bool {
        self.next_arrival == 0
    }

    /// Writes raw bytes under an `ops` key, bypassing every check: for
    /// corruption tests only.
    #[doc(hidden)]
    pub fn put_raw_op(&mut self, key: OpKey, value: &[u8]) -> Result<(), StoreError> {
        Ok(self.db.put_cf_opt(self.cf(CF_OPS), key.to_bytes(), value, &synced())?)
    }

    /// Flushes the memory tables and compacts every family, so that the
    /// files on disk show the steady-state size: for benchmarks.
    #[doc(hidden)]
    pub fn compact(&self) -> Result<(), StoreError> {
        for family in FAMILIES {
            self.db.flush_cf(self.cf(family))?;
            self.db.compact_range_cf(self.cf(family), None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    /// Writes a raw `meta` value: for format tests only.
    #[doc(hidden)]
    pub fn put_raw_meta(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        Ok(self.db.put_cf_opt(self.cf(CF_META), name.as_bytes(), value, &synced())?)
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        // Every family in FAMILIES is opened (or made) by `open_db`.
        self.db.cf_handle(name).expect("the store opens all its column families")
    }
}

/// Reads stored operations on any thread ([`Store::reader`]).
#[derive(Clone)]
pub struct StoreReader {
    db: Arc<DB>,
}

impl fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreReader").field("path", &self.db.path()).finish()
    }
}

impl StoreReader {
    /// As [`Store::ops_of`], but at most `limit` operations; the flag says
    /// whether the scan stopped at the limit with more of them left.
    pub fn ops_of_bounded(
        &self,
        replica: ReplicaId,
        from_seq: Seq,
        limit: usize,
    ) -> Result<(Vec<TreeOp>, bool), StoreError> {
        let db = &self.db;
        let ops_family = db.cf_handle(CF_OPS).expect("the store opens all its column families");
        let mut iter = db.raw_iterator_cf(ops_family);
        // Start at the last operation that begins at or before `from_seq`:
        // it may cover `from_seq`.
        iter.seek_for_prev(OpKey { replica, seq: from_seq }.to_bytes());
        if !iter.valid() {
            iter.seek(OpKey { replica, seq: 0 }.to_bytes());
        }
        let mut ops = Vec::new();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            let key = parse_key(key)?;
            if key.replica > replica {
                break;
            }
            if key.replica == replica {
                let op = decode_op(key, value)?;
                if op.range().end() > from_seq {
                    if ops.len() == limit {
                        return Ok((ops, true));
                    }
                    ops.push(op);
                }
            }
            iter.next();
        }
        iter.status()?;
        Ok((ops, false))
    }
}

/// Write options that sync the write-ahead log before returning.
fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

/// Makes a new store at `path` (absent or an empty directory): built
/// beside it under another name, then renamed into place, so that a crash
/// while making it leaves either no store or a whole one, never a database
/// without its metadata.
fn create(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: path.into(), source };
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = PathBuf::from(staging);
    // A leftover of a creation that crashed: never acknowledged anything.
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io)?;
    }
    let db = open_db(&staging, &[])?;
    initialise(&db, path)?;
    drop(db);
    std::fs::rename(&staging, path).map_err(io)?;
    // The rename itself must survive a crash: sync the directory holding it.
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(parent).and_then(|dir| dir.sync_all()).map_err(io)
}

fn is_absent_or_empty(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Opens the database with our families and any others it has (a newer
/// format may have added some: opening must not fail before the format
/// check can say so).
fn open_db(path: &Path, existing: &[String]) -> Result<DB, StoreError> {
    if !existing.is_empty() && !existing.iter().any(|f| f == CF_META) {
        return Err(not_a_store(path, format!("a RocksDB database without Memo's `{CF_META}` column family")));
    }
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    let mut names: Vec<String> = FAMILIES.iter().map(|f| f.to_string()).collect();
    let others = existing.iter().filter(|f| !FAMILIES.contains(&f.as_str()) && *f != "default");
    names.extend(others.cloned());
    let descriptors = names.into_iter().map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
    DB::open_cf_descriptors(&options, path, descriptors).map_err(|error| {
        // RocksDB reports a held lock only in its message: "lock hold by
        // current process", or "While lock file: <dir>/LOCK: Resource
        // temporarily unavailable" when another process holds it.
        let message = error.to_string();
        match message.contains("lock hold by") || message.contains("While lock file") {
            true => StoreError::Locked { path: path.into() },
            false => StoreError::Db(error),
        }
    })
}

/// Writes the metadata of a new store: format, a new replica id, sequence 0.
fn initialise(db: &DB, path: &Path) -> Result<(), StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(StoreError::Random)?;
    let replica = ReplicaId::from_random_bytes(bytes);
    let meta = db.cf_handle(CF_META).expect("opened above");
    let mut batch = WriteBatch::default();
    batch.put_cf(meta, META_FORMAT, FORMAT_VERSION.to_be_bytes());
    batch.put_cf(meta, META_REPLICA, replica.as_bytes());
    batch.put_cf(meta, META_NEXT_SEQ, 0u64.to_be_bytes());
    db.write_opt(batch, &synced())?;
    tracing::info!(path = %path.display(), %replica, "made a new store");
    Ok(())
}

/// Checks the format and reads the replica id and next sequence number.
fn read_meta(db: &DB, path: &Path) -> Result<(ReplicaId, Seq), StoreError> {
    let meta = db.cf_handle(CF_META).expect("opened above");
    let get = |name: &[u8]| db.get_cf(meta, name);
    let format = get(META_FORMAT)?.ok_or_else(|| not_a_store(path, "no format version in its metadata".into()))?;
    let format = u32::from_be_bytes(fixed("format", &format)?);
    if format > FORMAT_VERSION {
        return Err(StoreError::NewerFormat { path: path.into(), found: format, supported: FORMAT_VERSION });
    }
    let missing = |name| StoreError::CorruptMeta { name, reason: "missing".into() };
    let replica = get(META_REPLICA)?.ok_or_else(|| missing("replica"))?;
    let replica = ReplicaId::from_bytes(fixed("replica", &replica)?);
    let next_seq = get(META_NEXT_SEQ)?.ok_or_else(|| missing("next_seq"))?;
    Ok((replica, u64::from_be_bytes(fixed("next_seq", &next_seq)?)))
}

/// How many arrivals the newest snapshot covers, if there is one.
fn newest_snapshot_key(db: &DB) -> Result<Option<u64>, StoreError> {
    let mut iter = db.raw_iterator_cf(db.cf_handle(CF_SNAPSHOTS).expect("opened above"));
    iter.seek_to_last();
    iter.status()?;
    // A garbled key only delays the next snapshot: start-up checks it.
    Ok(iter.key().and_then(|key| Some(u64::from_be_bytes(key.try_into().ok()?))))
}

/// The arrival index after the last stored one.
fn next_arrival(db: &DB) -> Result<u64, StoreError> {
    let mut iter = db.raw_iterator_cf(db.cf_handle(CF_ARRIVAL).expect("opened above"));
    iter.seek_to_last();
    iter.status()?;
    match iter.key() {
        None => Ok(0),
        Some(key) => Ok(u64::from_be_bytes(fixed("arrival index", key)?) + 1),
    }
}

fn fixed<const N: usize>(name: &'static str, bytes: &[u8]) -> Result<[u8; N], StoreError> {
    bytes.try_into().map_err(|_| StoreError::CorruptMeta { name, reason: format!("{} bytes, not {N}", bytes.len()) })
}

fn not_a_store(path: &Path, reason: String) -> StoreError {
    StoreError::NotAStore { path: path.into(), reason }
}

fn parse_key(bytes: &[u8]) -> Result<OpKey, StoreError> {
    OpKey::from_bytes(bytes).ok_or_else(|| StoreError::CorruptMeta {
        name: "operation key",
        reason: format!("{} bytes ({}), not {}", bytes.len(), hex(bytes), OpKey::LEN),
    })
}

fn corrupt(key: OpKey, reason: impl Into<String>) -> StoreError {
    StoreError::CorruptOp { key, reason: reason.into() }
}

/// Decodes a stored operation and checks that it is the one its key names
/// and that its bytes are exactly its encoding: a garbled value that still
/// happens to decode is refused rather than replayed as another operation.
fn decode_op(key: OpKey, bytes: &[u8]) -> Result<TreeOp, StoreError> {
    let op = TreeOp::decode(bytes).map_err(|e: DecodeError| corrupt(key, e.to_string()))?;
    if OpKey::of(&op) != key {
        return Err(corrupt(key, format!("it holds operation {:?}", OpKey::of(&op))));
    }
    if op.encode() != bytes {
        return Err(corrupt(key, "its bytes are not the encoding of the operation they decode to"));
    }
    Ok(op)
}
