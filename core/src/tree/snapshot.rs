//! Snapshots: a whole [`WorkTree`] in one block of bytes, so that a node
//! starts by loading one block instead of replaying its history operation
//! by operation through the causal buffer.
//!
//! # Format (version [`SNAPSHOT_VERSION`])
//!
//! | bytes | content |
//! |---|---|
//! | 4 | magic `MEMS` |
//! | 4 | format version, u32 little-endian |
//! | 8 | the first 8 bytes of SHA-256 over the body |
//! | rest | the body, postcard |
//!
//! The body holds the tree's own numbers (timeline, lineage, version,
//! Lamport clock), its operation log with each text edit only as a
//! reference (file, unit range), each text file's edits as one compact
//! history ([`crate::encoding::encode_history`]: merged runs in columns,
//! compressed), and the operations still waiting in the causal buffer.
//!
//! A reader refuses a newer version ([`SnapshotError::NewerVersion`]) and
//! any body whose checksum does not match, so that a torn or garbled
//! snapshot is an error, never a silently different tree.
//!
//! # Why this design
//!
//! Two designs were weighed. Serialising every field (the move log, the
//! entries, each text CRDT's list and runs) loads fastest but ties the
//! format to internal structures that change often, and every field
//! would need its own hostile-input checks. Storing the operations
//! themselves keeps the format as stable as the wire format and reuses
//! every check of [`WorkTree::apply`]; what makes it fast is that
//!
//! - text edits, nearly every operation of a working copy, are stored as
//!   the file's history, whose runs (a word typed, a line deleted) load as
//!   one operation each instead of one per keystroke, and are a few bytes
//!   per run instead of ~40 per keystroke;
//! - the log is a causal order, so loading integrates each operation at
//!   once, without the causal buffer (an operation that is not ready is a
//!   corrupt snapshot);
//! - the derived state (the view) is not stored: it is computed again
//!   when first asked for.
//!
//! Loading checks every operation as [`WorkTree::apply`] does, so a hostile
//! snapshot gives an error, never a panic.

use super::entry::Kind;
use super::ids::{EntryId, TimelineId};
use super::op::{base_to_wire, InvalidTreeOp, TreeOp, TreeOpKind};
use super::{BaseSnapshot, Logged, WorkTree};
use crate::causal::{self, Bounds};
use crate::encoding::{decode_history, DecodeError};
use crate::id::{IdRange, Lamport, ReplicaId};
use crate::text::{TextOp, MAX_SEQ};
use crate::version::VersionVector;
use foldhash::HashMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::Arc;

/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"MEMS";
/// The snapshot format this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;
const HEADER_LEN: usize = 16;

/// Why a snapshot could not be loaded. The caller can always fall back to
/// replaying the operations the snapshot was made from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("not a Memo snapshot (no `MEMS` magic)")]
    NotASnapshot,
    #[error("snapshot format {found} is newer than this Memo reads ({SNAPSHOT_VERSION}): upgrade Memo")]
    NewerVersion { found: u32 },
    #[error("snapshot checksum mismatch: the snapshot is torn or corrupt")]
    Checksum,
    #[error("malformed snapshot: {0}")]
    Malformed(#[from] DecodeError),
    #[error("snapshot operation {range:?} does not apply: {reason}")]
    Invalid { range: IdRange, reason: InvalidTreeOp },
    #[error("snapshot operation {0:?} is not in causal order")]
    NotReady(IdRange),
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl From<postcard::Error> for SnapshotError {
    fn from(e: postcard::Error) -> Self {
        SnapshotError::Malformed(e.into())
    }
}

#[derive(Serialize, Deserialize)]
struct Body {
    timeline: TimelineId,
    lineage: Vec<(TimelineId, VersionVector)>,
    version: VersionVector,
    clock: Lamport,
    log: Vec<LogEntry>,
    /// Each edited text file's history, in its CRDT's order.
    texts: Vec<(EntryId, Vec<u8>)>,
    /// Operations waiting for dependencies ([`TreeOp::encode`]).
    pending: Vec<Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
enum LogEntry {
    /// A tree operation ([`TreeOp::encode`]).
    Op(Vec<u8>),
    /// Text edits of `file` covering `range`: in the file's history.
    Edit { file: EntryId, range: IdRange },
}

impl WorkTree {
    /// The whole replica as a snapshot (see `tree/snapshot.rs`).
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut edited = Vec::new();
        let log = self
            .log
            .iter()
            .map(|logged| match logged {
                Logged::Op(op) => LogEntry::Op(op.encode()),
                Logged::Edit { file, range } => {
                    edited.push(*file);
                    LogEntry::Edit { file: *file, range: *range }
                }
            })
            .collect();
        edited.sort_unstable();
        edited.dedup();
        let texts = edited
            .into_iter()
            .filter_map(|file| match &self.entries.get(&file)?.kind {
                Kind::Text { text, .. } => Some((file, text.encode_history())),
                _ => None,
            })
            .collect();
        let body = Body {
            timeline: self.timeline,
            lineage: self.lineage.clone(),
            version: self.version.clone(),
            clock: self.clock,
            log,
            texts,
            pending: self.pending.ops().map(TreeOp::encode).collect(),
        };
        Self::seal_snapshot(&postcard::to_allocvec(&body).expect("encoding into a Vec"))
    }

    /// A snapshot of the given body bytes: the header and checksum put
    /// around them. For tests and fuzzing of the body decoder, which a
    /// checksum would otherwise keep random bytes away from.
    #[doc(hidden)]
    pub fn seal_snapshot(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&SNAPSHOT_MAGIC);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
        out.extend_from_slice(&checksum(body));
        out.extend_from_slice(body);
        out
    }

    /// Loads a snapshot made by [`WorkTree::encode_snapshot`] as replica
    /// `replica` on `base` (the base the snapshot's tree had). Never
    /// panics: garbage, a torn snapshot or a hostile one is an error.
    pub fn decode_snapshot(
        replica: ReplicaId,
        base: Arc<dyn BaseSnapshot>,
        bytes: &[u8],
    ) -> Result<WorkTree, SnapshotError> {
        if bytes.len() < HEADER_LEN || bytes[..4] != SNAPSHOT_MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        if version > SNAPSHOT_VERSION {
            return Err(SnapshotError::NewerVersion { found: version });
        }
        let body = &bytes[HEADER_LEN..];
        if checksum(body) != bytes[8..HEADER_LEN] {
            return Err(SnapshotError::Checksum);
        }
        let body: Body = postcard::from_bytes(body)?;
        let mut tree = WorkTree::new(replica, base);
        tree.timeline = body.timeline;
        tree.lineage = body.lineage;
        let mut texts: HashMap<EntryId, VecDeque<TextOp>> = HashMap::default();
        for (file, history) in &body.texts {
            if texts.insert(*file, decode_history(history)?.into()).is_some() {
                return Err(SnapshotError::Inconsistent("a text file has two histories"));
            }
        }
        for entry in body.log {
            match entry {
                LogEntry::Op(bytes) => tree.load_op(TreeOp::decode(&bytes)?)?,
                LogEntry::Edit { file, range } => {
                    let queue = texts.get_mut(&file).ok_or(SnapshotError::Inconsistent("an edit without history"))?;
                    // A history merges an author's adjacent edits into one
                    // run even where the log has other edits between them:
                    // apply only the part this log entry covers.
                    let mut units = 0;
                    while let Some(front) = queue.front_mut().filter(|t| range.contains(t.id)) {
                        let take = front.units().min(range.end() - front.id.seq);
                        let text = match take < front.units() {
                            true => {
                                let mut part = front.clone();
                                part.truncate(take);
                                front.trim_front(take);
                                part
                            }
                            false => queue.pop_front().expect("a front"),
                        };
                        let kind = TreeOpKind::Edit { file, edit: base_to_wire(text.kind) };
                        let timeline = tree.timeline_of(IdRange::new(text.id.replica, text.id.seq, take));
                        units += take;
                        tree.load_op(TreeOp { id: text.id, lamport: text.lamport, timeline, kind })?;
                    }
                    if units != range.len {
                        return Err(SnapshotError::Inconsistent("the log and a history disagree"));
                    }
                }
            }
        }
        if texts.values().any(|queue| !queue.is_empty()) {
            return Err(SnapshotError::Inconsistent("a history holds edits the log lacks"));
        }
        if tree.version != body.version {
            return Err(SnapshotError::Inconsistent("the operations do not make up its version"));
        }
        // A clock past what operations may carry would overflow local stamps.
        if body.clock >= MAX_SEQ {
            return Err(SnapshotError::Inconsistent("a Lamport clock beyond 2^48"));
        }
        tree.clock = tree.clock.max(body.clock);
        let bounds = tree.pending.bounds();
        tree.set_pending_bounds(Bounds::UNBOUNDED);
        for bytes in body.pending {
            let op = TreeOp::decode(&bytes)?;
            let range = op.range();
            tree.apply(op).map_err(|_| SnapshotError::NotReady(range))?;
        }
        tree.set_pending_bounds(bounds);
        Ok(tree)
    }

    /// Applies one operation of a snapshot: checked as [`WorkTree::apply`]
    /// checks it, but it must be ready (the log is a causal order).
    fn load_op(&mut self, op: TreeOp) -> Result<(), SnapshotError> {
        let range = op.range();
        let invalid = |reason| SnapshotError::Invalid { range, reason };
        op.validate().map_err(invalid)?;
        if op.timeline != self.timeline_of(range) {
            return Err(SnapshotError::Inconsistent("an operation of another timeline"));
        }
        if self.version.contains_range(&range) || !causal::is_ready(&op, &self.version) {
            return Err(SnapshotError::NotReady(range));
        }
        self.integrate(op).map_err(invalid)
    }
}

fn checksum(body: &[u8]) -> [u8; 8] {
    Sha256::digest(body)[..8].try_into().expect("SHA-256 has 32 bytes")
}
