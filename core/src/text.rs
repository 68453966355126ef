//! The text CRDT: one replica of a text document.
//!
//! Every character ever inserted keeps its identity (its [`OpId`]) and its
//! place in the item list (module `list`), deleted ones as tombstones.
//! Concurrent inserts at one place are ordered by the FugueMax rule (in
//! its list form, "YjsMod", from Gentle & Kleppmann, "The Art of the Fugue",
//! 2023): a run typed by one replica is never interleaved with another's,
//! whichever direction either of them typed in.
//!
//! Positions in this API count Unicode scalar values (Rust `char`s); the
//! [`offsets`] module converts from UTF-8 bytes and UTF-16 code units.

mod list;
mod log;
pub mod offsets;
mod op;
mod remote;
#[cfg(test)]
mod tests;
mod undo;

pub use op::{InvalidOp, Targets, TextOp, TextOpKind};

pub use compact_str::CompactString;

use crate::causal::{BufferFull, CausalBuffer, CausalOp};
use crate::id::{IdRange, Lamport, OpId, ReplicaId};
use crate::replicas::{LocalReplica, ReplicaTable};
use crate::version::VersionVector;
use list::{Id, ItemList, Key, Run, Visibility};
use log::{Entry, EntryKind, OpLog};
use undo::{UndoRegisters, UndoStack};

/// An exact edit of the visible text: at `pos`, delete `delete` characters,
/// then insert `insert`. A list of changes applies in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextChange {
    pub pos: usize,
    pub delete: usize,
    pub insert: CompactString,
}

/// A local edit that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    #[error("position {pos} is past the end of the text ({len} characters)")]
    OutOfRange { pos: usize, len: usize },
    #[error("range {start}..{end} is reversed")]
    ReversedRange { start: usize, end: usize },
    #[error("nothing to insert")]
    EmptyInsert,
    #[error("{0} bytes are more than one insert may carry ({max}); insert in pieces", max = op::MAX_INSERT_BYTES)]
    TooLarge(usize),
    #[error("{0:?} has not been applied here, so it cannot be undone or redone")]
    UnknownEdit(IdRange),
}

/// A remote operation that was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    #[error("malformed operation {range:?}: {reason}")]
    Invalid { range: IdRange, reason: InvalidOp },
    #[error(transparent)]
    BufferFull(#[from] BufferFull),
}

/// A history that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    #[error(transparent)]
    Decode(#[from] crate::encoding::DecodeError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Which side of its character an [`Anchor`] sticks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Bias {
    /// Stays after the character before it (like a cursor after typing).
    Left,
    /// Stays before the character after it.
    Right,
}

/// A position that follows the text through every later edit, on every
/// replica: it names a character rather than an offset.
///
/// Text inserted exactly at the anchor goes after a left-biased anchor and
/// before a right-biased one. When its character is deleted, the anchor
/// collapses to the deletion point; it still names that character, whose
/// tombstone stays after text later inserted at that point, so from then on
/// it behaves as right-biased (the same on every replica), and it returns to
/// its character if the delete is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Anchor {
    /// The character it sticks to; `None` is the start (left bias) or the
    /// end (right bias) of the document.
    pub char: Option<OpId>,
    pub bias: Bias,
}

impl TextOp {
    /// The wire encoding (see [`crate::encoding`]).
    pub fn encode(&self) -> Vec<u8> {
        crate::encoding::encode_op(self)
    }

    /// Decodes the wire encoding.
    pub fn decode(bytes: &[u8]) -> Result<TextOp, crate::encoding::DecodeError> {
        crate::encoding::decode_op(bytes)
    }
}

impl CausalOp for TextOp {
    fn range(&self) -> IdRange {
        TextOp::range(self)
    }

    fn dependencies(&self) -> Vec<IdRange> {
        TextOp::dependencies(self)
    }
}

/// The state of a run of typing: the next keystroke at `next_pos` extends
/// the run at `run`, whose characters all have `right` as right origin.
#[derive(Clone, Copy, Debug)]
struct Typing {
    next_pos: usize,
    run: Key,
    right: Option<Id>,
}

/// One replica of a text document.
///
/// A `TextDoc` is `Send` but not `Sync` (lookups cache their last answer):
/// share one between threads behind a `Mutex`.
///
/// ```
/// use memo_core::{ReplicaId, TextDoc};
/// let mut a = TextDoc::new(ReplicaId::from_u128(1));
/// let mut b = TextDoc::new(ReplicaId::from_u128(2));
/// let hello = a.insert(0, "hello").unwrap();
/// b.apply(hello).unwrap();
/// let from_a = a.insert(5, " world").unwrap();
/// let from_b = b.insert(0, "oh, ").unwrap();
/// a.apply(from_b).unwrap();
/// b.apply(from_a).unwrap();
/// assert_eq!(a.text(), "oh, hello world");
/// assert_eq!(a.text(), b.text());
/// ```
#[derive(Debug)]
pub struct TextDoc {
    replica: ReplicaId,
    me: LocalReplica,
    replicas: ReplicaTable,
    version: VersionVector,
    /// This replica's next sequence number (also in `version`, kept apart
    /// because local typing reads it on every keystroke).
    next_seq: u64,
    clock: Lamport,
    list: ItemList,
    log: OpLog,
    undo: UndoRegisters,
    pending: CausalBuffer<TextOp>,
    /// This replica's edits, for `undo_last` and `redo_last`.
    local_edits: UndoStack,
    /// Whether a local edit may join the previous undo step (not inside a
    /// replace, which makes its own step).
    coalesce: bool,
    /// Where the last local insert ended, as long as nothing else changed.
    typing: Option<Typing>,
    /// Buffers reused by local edits, which must not allocate per keystroke.
    scratch_ids: Vec<(Id, u64)>,
    scratch_visibility: Vec<Visibility>,
}

impl TextDoc {
    /// An empty document for `replica`.
    pub fn new(replica: ReplicaId) -> Self {
        let mut replicas = ReplicaTable::default();
        let me = replicas.intern(replica, list::MAX_LOCAL_REPLICAS).expect("an empty table has room");
        Self {
            replica,
            me,
            replicas,
            version: VersionVector::new(),
            next_seq: 0,
            clock: 0,
            list: ItemList::new(),
            log: OpLog::default(),
            undo: UndoRegisters::default(),
            pending: CausalBuffer::new(CausalBuffer::<TextOp>::DEFAULT_LIMIT),
            local_edits: UndoStack::default(),
            coalesce: true,
            typing: None,
            scratch_ids: Vec::new(),
            scratch_visibility: Vec::new(),
        }
    }

    /// Sets how many operations may wait for their dependencies.
    pub fn set_pending_limit(&mut self, limit: usize) {
        self.pending.set_limit(limit);
    }

    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The operations applied here.
    pub fn version(&self) -> &VersionVector {
        &self.version
    }

    /// The Lamport clock: above every stamp seen here.
    pub fn clock(&self) -> Lamport {
        self.clock
    }

    /// Length of the visible text in characters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.len() == 0
    }

    pub fn text(&self) -> String {
        self.list.text()
    }

    // ----- local edits -------------------------------------------------

    /// Inserts `text` at character `pos`; returns the operation to send.
    pub fn insert(&mut self, pos: usize, text: &str) -> Result<TextOp, TextError> {
        self.check_pos(pos)?;
        if text.is_empty() {
            return Err(TextError::EmptyInsert);
        }
        if text.len() > op::MAX_INSERT_BYTES {
            return Err(TextError::TooLarge(text.len()));
        }
        if let Some(typing) = self.typing.filter(|t| t.next_pos == pos) {
            return Ok(self.type_on(typing, text));
        }
        let (left, at) = match pos {
            0 => (None, self.list.first_key()),
            _ => {
                let key = self.list.visible_key(pos - 1);
                (Some(self.list.id_at(key)), self.list.next_key(key))
            }
        };
        let right = at.map(|key| self.list.id_at(key));
        let id = Id::new(self.me, self.next_seq);
        let units = op::char_count(text);
        let content = self.push_content(text);
        let run = Run { id, len: units as u32, left, right, content: content.0, deletes: 0, undone: false };
        let key = self.list.insert_before(at, run);
        let op = self.insert_op(left, right, text);
        let continues =
            self.log.push(Entry { id, lamport: self.clock, units, kind: EntryKind::Insert { left, right, content } });
        self.record_local(units, continues);
        self.typing = Some(Typing { next_pos: pos + units as usize, run: key.run_start(), right });
        Ok(op)
    }

    /// The next keystroke of a run of typing: the run grows in place.
    fn type_on(&mut self, typing: Typing, text: &str) -> TextOp {
        let units = op::char_count(text);
        let left = Id::new(self.me, self.next_seq - 1);
        let content = self.push_content(text);
        self.list.grow_run(typing.run, units as u32);
        self.log.grow_last_insert(units, content.1);
        let op = self.insert_op(Some(left), typing.right, text);
        self.record_local(units, true);
        self.typing = Some(Typing { next_pos: typing.next_pos + units as usize, ..typing });
        op
    }

    fn insert_op(&self, left: Option<Id>, right: Option<Id>, text: &str) -> TextOp {
        TextOp {
            id: OpId::new(self.replica, self.next_seq),
            lamport: self.clock,
            kind: TextOpKind::Insert {
                left: left.map(|i| self.op_id(i)),
                right: right.map(|i| self.op_id(i)),
                text: text.into(),
            },
        }
    }

    /// Deletes the characters `start..end`; returns the operation to send,
    /// or `None` when the range is empty.
    pub fn delete(&mut self, start: usize, end: usize) -> Result<Option<TextOp>, TextError> {
        self.check_pos(end)?;
        if start > end {
            return Err(TextError::ReversedRange { start, end });
        }
        if start == end {
            return Ok(None);
        }
        self.typing = None;
        // The hot path of local editing: no allocation but the operation's.
        let mut ids = std::mem::take(&mut self.scratch_ids);
        let key = self.list.visible_key(start);
        let run = self.list.run_at(key);
        if (end - start) as u32 <= run.len - key.off {
            // Within one run (a keystroke): no lookups by id.
            ids.clear();
            ids.push((self.list.id_at(key), (end - start) as u64));
            self.list.update_piece(key, (end - start) as u32, |run| run.deletes += 1, None);
        } else {
            self.list.visible_ids(start, end, &mut ids);
            for &(id, len) in &ids {
                self.list.update(id, len, |run| run.deletes += 1, &mut self.scratch_visibility);
            }
            self.scratch_visibility.clear();
        }
        let id = Id::new(self.me, self.next_seq);
        let continues = self.log.push_delete(id, self.clock, &ids);
        let mut targets = Targets::new();
        let mut units = 0;
        for &(id, len) in &ids {
            targets.push(IdRange::new(self.replicas.id(id.replica()), id.seq(), len));
            units += len;
        }
        let op = TextOp { id: self.op_id(id), lamport: self.clock, kind: TextOpKind::Delete { targets } };
        self.record_local(units, continues);
        self.scratch_ids = ids;
        Ok(Some(op))
    }

    /// Replaces `start..end` with `text`: one edit (undone as one).
    pub fn replace(&mut self, start: usize, end: usize, text: &str) -> Result<Vec<TextOp>, TextError> {
        // Every check first: once the delete is made, the insert must be too.
        self.check_pos(end)?;
        if start > end {
            return Err(TextError::ReversedRange { start, end });
        }
        if text.len() > op::MAX_INSERT_BYTES {
            return Err(TextError::TooLarge(text.len()));
        }
        self.coalesce = false;
        let deleted = self.delete(start, end).expect("checked above");
        let inserted = (!text.is_empty()).then(|| self.insert(start, text).expect("checked above"));
        self.coalesce = true;
        let ops: Vec<TextOp> = deleted.into_iter().chain(inserted).collect();
        if ops.len() == 2 {
            self.local_edits.merge_last_two();
        }
        Ok(ops)
    }

    /// Undoes the given edits (ranges of units, e.g. [`TextOp::range`]).
    /// Returns the operation to send and the changes of the visible text.
    pub fn undo(&mut self, edits: &[IdRange]) -> Result<(TextOp, Vec<TextChange>), TextError> {
        self.set_undone(edits, true)
    }

    /// Redoes edits that were undone.
    pub fn redo(&mut self, edits: &[IdRange]) -> Result<(TextOp, Vec<TextChange>), TextError> {
        self.set_undone(edits, false)
    }

    /// Undoes this replica's most recent edit not yet undone (a run of
    /// typing or backspacing is one edit, as in editors).
    pub fn undo_last(&mut self) -> Option<(TextOp, Vec<TextChange>)> {
        let step = self.local_edits.pop_undo()?;
        let undone = self.set_undone(&[IdRange::new(self.replica, step.0, step.1)], true).ok()?;
        self.local_edits.undone(step);
        Some(undone)
    }

    /// Redoes the edit most recently undone by `undo_last`.
    pub fn redo_last(&mut self) -> Option<(TextOp, Vec<TextChange>)> {
        let step = self.local_edits.pop_redo()?;
        let redone = self.set_undone(&[IdRange::new(self.replica, step.0, step.1)], false).ok()?;
        self.local_edits.redone(step);
        Some(redone)
    }

    fn set_undone(&mut self, edits: &[IdRange], undone: bool) -> Result<(TextOp, Vec<TextChange>), TextError> {
        if let Some(unknown) = edits.iter().find(|e| e.len == 0 || !self.version.contains_range(e)) {
            return Err(TextError::UnknownEdit(*unknown));
        }
        let op = TextOp {
            id: OpId::new(self.replica, self.next_seq),
            lamport: self.clock,
            kind: TextOpKind::Undo { edits: edits.to_vec(), undone },
        };
        let mut changes = Vec::new();
        self.integrate(op.clone(), &mut changes).expect("a local undo is valid");
        Ok((op, changes))
    }

    fn check_pos(&self, pos: usize) -> Result<(), TextError> {
        match pos <= self.len() {
            true => Ok(()),
            false => Err(TextError::OutOfRange { pos, len: self.len() }),
        }
    }

    fn record_local(&mut self, units: u64, continues: bool) {
        self.local_edits.record(self.next_seq, units, continues && self.coalesce);
        self.next_seq += units;
        self.clock += units;
        self.version.set(self.replica, self.next_seq);
    }

    // ----- reading ------------------------------------------------------

    /// An anchor at character position `pos`.
    pub fn anchor(&self, pos: usize, bias: Bias) -> Result<Anchor, TextError> {
        self.check_pos(pos)?;
        let char = match bias {
            Bias::Left if pos > 0 => Some(self.list.visible_key(pos - 1)),
            Bias::Right if pos < self.len() => Some(self.list.visible_key(pos)),
            _ => None,
        };
        Ok(Anchor { char: char.map(|key| self.op_id(self.list.id_at(key))), bias })
    }

    /// Where `anchor` stands now; `None` if its character is unknown here.
    pub fn resolve(&self, anchor: &Anchor) -> Option<usize> {
        let Some(char) = anchor.char else {
            return Some(match anchor.bias {
                Bias::Left => 0,
                Bias::Right => self.len(),
            });
        };
        let key = self.list.key_of(self.local_id(Some(char)).ok()??)?;
        let before = self.list.visible_before(key);
        let after_char = anchor.bias == Bias::Left && self.list.run_at(key).visible();
        Some(before + after_char as usize)
    }

    /// The text as it was at `version` (a version this replica has seen;
    /// operations outside it, or not causally closed under it, are left out).
    pub fn text_at(&self, version: &VersionVector) -> String {
        self.at(version).text()
    }

    /// An anchor at character `pos` of the text as it was at `version`: it
    /// resolves at every later version, on every replica (see [`Anchor`]).
    pub fn anchor_at(&self, version: &VersionVector, pos: usize, bias: Bias) -> Result<Anchor, TextError> {
        self.at(version).anchor(pos, bias)
    }

    /// Where `anchor` stood at `version`; `None` if its character did not
    /// exist yet.
    pub fn resolve_at(&self, version: &VersionVector, anchor: &Anchor) -> Option<usize> {
        self.at(version).resolve(anchor)
    }

    /// A replica holding exactly the operations of `version`, rebuilt from
    /// the log (history queries are rare; they need no index of their own).
    fn at(&self, version: &VersionVector) -> TextDoc {
        let mut past = TextDoc::new(self.replica);
        for op in self.ops_since(&VersionVector::new()) {
            let included = version.get(op.id.replica).saturating_sub(op.id.seq).min(op.units());
            if included > 0 {
                let mut op = op;
                op.truncate(included);
                // Ops not closed under `version` just wait, and are dropped.
                let _ = past.apply(op);
            }
        }
        past
    }

    /// Every applied operation that `version` lacks, in an order that a
    /// replica at `version` can apply directly (a causal order).
    pub fn ops_since(&self, version: &VersionVector) -> Vec<TextOp> {
        let mut ops = Vec::new();
        for entry in self.log.entries() {
            let replica = self.replicas.id(entry.id.replica());
            let seen = version.get(replica).saturating_sub(entry.id.seq());
            if seen < entry.units {
                let mut op = self.op_of(entry);
                op.trim_front(seen);
                ops.push(op);
            }
        }
        ops
    }

    fn op_of(&self, entry: &Entry) -> TextOp {
        let opt = |id: &Option<Id>| id.map(|id| self.op_id(id));
        let ranges = |r: &[(Id, u64)]| {
            r.iter().map(|&(id, len)| IdRange::new(self.replicas.id(id.replica()), id.seq(), len)).collect::<Vec<_>>()
        };
        let kind = match &entry.kind {
            EntryKind::Insert { left, right, content } => {
                TextOpKind::Insert { left: opt(left), right: opt(right), text: self.list.content(*content).into() }
            }
            EntryKind::Delete { targets } => {
                let replica = |local| self.replicas.id(local);
                let targets = targets.iter().flat_map(|run| run.ranges());
                TextOpKind::Delete {
                    targets: targets.map(|(local, seq, len)| IdRange::new(replica(local), seq, len)).collect(),
                }
            }
            EntryKind::Undo { edits, undone } => TextOpKind::Undo { edits: ranges(edits), undone: *undone },
            EntryKind::Opaque { kind, body } => {
                TextOpKind::Opaque { kind: *kind, units: entry.units, body: body.clone() }
            }
        };
        TextOp { id: self.op_id(entry.id), lamport: entry.lamport, kind }
    }

    /// Sizes of the internal structures, for diagnostics: (runs in the
    /// item list, its leaves, log entries).
    #[doc(hidden)]
    pub fn shape(&self) -> (usize, usize, usize) {
        let (runs, leaves) = self.list.shape();
        (runs, leaves, self.log.entries().len())
    }

    /// The whole history, compactly encoded (see [`crate::encoding`]).
    pub fn encode_history(&self) -> Vec<u8> {
        crate::encoding::encode_history(&self.ops_since(&VersionVector::new()))
    }

    /// A replica for `replica` holding a history made by
    /// [`TextDoc::encode_history`] (possibly another replica's).
    pub fn decode_history(replica: ReplicaId, bytes: &[u8]) -> Result<TextDoc, HistoryError> {
        let mut doc = TextDoc::new(replica);
        for op in crate::encoding::decode_history(bytes)? {
            doc.apply(op)?;
        }
        Ok(doc)
    }

    // ----- ids ----------------------------------------------------------

    fn op_id(&self, id: Id) -> OpId {
        OpId::new(self.replicas.id(id.replica()), id.seq())
    }

    /// The local form of an applied id (dependencies are applied, so their
    /// replica is known).
    fn local_id(&self, id: Option<OpId>) -> Result<Option<Id>, InvalidOp> {
        let Some(id) = id else { return Ok(None) };
        let replica = self.replicas.get(id.replica).ok_or(InvalidOp::NotACharacter(id))?;
        Ok(Some(Id::new(replica, id.seq)))
    }

    /// Local forms of applied ranges, in order.
    fn local_ranges(&self, ranges: &[IdRange]) -> Result<Vec<(Id, u64)>, InvalidOp> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let id = self.local_id(Some(OpId::new(range.replica, range.seq)))?.expect("some");
            log::push_range(&mut out, (id, range.len));
        }
        Ok(out)
    }

    /// Whether every unit of `id..id + len` is an inserted character.
    fn are_chars(&self, id: Id, len: u64) -> bool {
        let mut at = id;
        while at.seq() < id.seq() + len {
            match self.log.find(at) {
                Some(entry @ Entry { kind: EntryKind::Insert { .. }, .. }) => at = entry.id.plus(entry.units),
                _ => return false,
            }
        }
        true
    }

    #[cfg(test)]
    fn check(&self) {
        self.list.check();
    }

    fn push_content(&mut self, text: &str) -> (u32, u32) {
        self.list.push_content(text)
    }
}
