//! [`TextCrdt`]: the state of one text document, without a causal context.

mod remote;
#[cfg(test)]
mod tests;

use super::list::{self, Id, ItemList, Key, Run, Visibility};
use super::log::{self, Entry, EntryKind, OpLog};
use super::undo::{UndoRegisters, UndoStack};
use super::{op, Anchor, Bias, InvalidOp, Targets, TextChange, TextError, TextOp, TextOpKind};
use crate::id::{IdRange, Lamport, LocalStamp, OpId, ReplicaId, Seq};
use crate::replicas::{LocalReplica, ReplicaTable};
use crate::version::VersionVector;

/// The state of a run of typing: a keystroke at `next_pos`, stamped
/// `next`, extends the run at `run`, whose characters all have `right` as
/// right origin.
#[derive(Clone, Copy, Debug)]
struct Typing {
    next_pos: usize,
    next: (Seq, Lamport),
    run: Key,
    right: Option<Id>,
}

impl Typing {
    /// Whether an insert at `pos` stamped `at` continues the run exactly:
    /// where it ended, and with the very next units (a host that gave units
    /// to other documents in between starts a new run).
    fn continued_by(&self, pos: usize, at: &LocalStamp) -> bool {
        self.next_pos == pos && self.next == (at.seq, at.lamport)
    }
}

/// The text CRDT of one document: its characters, history and undo state,
/// but no causal context (version vector, sequence counter, clock, buffer
/// of early operations). A host owns that context and may share it between
/// many documents: [`crate::TextDoc`] hosts one `TextCrdt`; a working tree
/// hosts one per file, all numbering their units from one sequence, so a
/// replica's units in one `TextCrdt` may have gaps.
///
/// A local edit takes the host's next stamp ([`LocalStamp`]) and moves it
/// past the units it used (the [`TextOp::units`] of the returned
/// operations); the host then records those units as applied. The host
/// applies a remote operation with [`TextCrdt::integrate`] once it is
/// causally ready and trimmed to its units not yet applied.
#[derive(Clone, Debug)]
pub struct TextCrdt {
    /// The replica whose edits are the local ones (`me` once interned).
    replica: ReplicaId,
    me: LocalReplica,
    replicas: ReplicaTable,
    /// The replica that names the base text's characters, if there is one.
    base: Option<LocalReplica>,
    list: ItemList,
    log: OpLog,
    undo: UndoRegisters,
    /// The local edits (sequence numbers of `me`), for `undo_last` and
    /// `redo_last`.
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

impl TextCrdt {
    /// An empty document for `replica`.
    pub fn new(replica: ReplicaId) -> Self {
        let mut replicas = ReplicaTable::default();
        let me = replicas.intern(replica, list::MAX_LOCAL_REPLICAS).expect("an empty table has room");
        Self {
            replica,
            me,
            replicas,
            base: None,
            list: ItemList::new(),
            log: OpLog::default(),
            undo: UndoRegisters::default(),
            local_edits: UndoStack::default(),
            coalesce: true,
            typing: None,
            scratch_ids: Vec::new(),
            scratch_visibility: Vec::new(),
        }
    }

    /// A document for `replica` that starts as `text`, whose characters
    /// are `(base, 0..n)`. Every replica derives them alike from the same
    /// base (e.g. a Git blob), so they are not operations: they are never
    /// returned by [`TextCrdt::ops_since`] nor encoded, but operations may
    /// name them, and every past version includes them.
    ///
    /// `base` must name no replica that makes operations (its units would
    /// be taken for base text). Panics if it is `replica`, or if `text` is
    /// more than one insert may carry (1 GiB).
    pub fn with_base(replica: ReplicaId, base: ReplicaId, text: &str) -> Self {
        assert_ne!(replica, base, "the base text's characters need an id of their own");
        assert!(text.len() <= op::MAX_INSERT_BYTES, "a base text of {} bytes is too large", text.len());
        let mut crdt = Self::new(replica);
        let base = crdt.replicas.intern(base, list::MAX_LOCAL_REPLICAS).expect("the table has room");
        crdt.base = Some(base);
        if !text.is_empty() {
            let id = Id::new(base, 0);
            let units = op::char_count(text);
            let content = crdt.list.push_content(text);
            let run =
                Run { id, len: units as u32, left: None, right: None, content: content.0, deletes: 0, undone: false };
            crdt.list.insert_before(None, run);
            let kind = EntryKind::Insert { left: None, right: None, content };
            crdt.log.push(Entry { id, lamport: 0, units, kind });
        }
        crdt
    }

    /// A copy with this history and state, and no local undo steps: a
    /// session's own view of the document ([`crate::text::TextSession`]).
    pub fn forked(&self) -> TextCrdt {
        TextCrdt { local_edits: UndoStack::default(), typing: None, ..self.clone() }
    }

    /// The id of the base text's characters, if it has one.
    pub fn base(&self) -> Option<ReplicaId> {
        self.base.map(|base| self.replicas.id(base))
    }

    /// A document with this one's replica and base text, and no operation.
    fn without_history(&self) -> Self {
        match self.base {
            Some(base) => Self::with_base(self.replica, self.replicas.id(base), self.base_text()),
            None => Self::new(self.replica),
        }
    }

    fn base_text(&self) -> &str {
        let first = self.base.and_then(|base| self.log.find(Id::new(base, 0)));
        match first.map(|entry| &entry.kind) {
            Some(EntryKind::Insert { content, .. }) => self.list.content(*content),
            _ => "",
        }
    }

    /// The replica whose edits are the local ones: the one it was made
    /// for, or the last one a local stamp named.
    pub fn replica(&self) -> ReplicaId {
        self.replica
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

    /// Inserts `text` at character `pos`, stamped from `at` on, and
    /// advances `at` past it; returns the operation to send.
    ///
    /// (Inlined, like `delete`, into the host: the keystroke path must not
    /// pay for the split between the CRDT and its host.)
    #[inline(always)]
    pub fn insert(&mut self, at: &mut LocalStamp, pos: usize, text: &str) -> Result<TextOp, TextError> {
        self.check_pos(pos)?;
        if text.is_empty() {
            return Err(TextError::EmptyInsert);
        }
        if text.len() > op::MAX_INSERT_BYTES {
            return Err(TextError::TooLarge(text.len()));
        }
        let id = self.local_id_of(at)?;
        let units = op::char_count(text);
        if let Some(typing) = self.typing.filter(|t| t.continued_by(pos, at)) {
            return Ok(self.type_on(typing, at, text, units));
        }
        let (left, before) = match pos {
            0 => (None, self.list.first_key()),
            _ => {
                let key = self.list.visible_key(pos - 1);
                (Some(self.list.id_at(key)), self.list.next_key(key))
            }
        };
        let right = before.map(|key| self.list.id_at(key));
        let content = self.list.push_content(text);
        let run = Run { id, len: units as u32, left, right, content: content.0, deletes: 0, undone: false };
        let key = self.list.insert_before(before, run);
        let continues =
            self.log.push(Entry { id, lamport: at.lamport, units, kind: EntryKind::Insert { left, right, content } });
        let stamp = self.record_local(at, units, continues);
        let next = (at.seq, at.lamport);
        self.typing = Some(Typing { next_pos: pos + units as usize, next, run: key.run_start(), right });
        Ok(self.insert_op(&stamp, left, right, text))
    }

    /// The next keystroke of a run of typing: the run grows in place.
    #[inline(always)]
    fn type_on(&mut self, typing: Typing, at: &mut LocalStamp, text: &str, units: u64) -> TextOp {
        let content = self.list.push_content(text);
        self.list.grow_run(typing.run, units as u32);
        self.log.grow_last_insert(units, content.1);
        let stamp = self.record_local(at, units, true);
        let next = (at.seq, at.lamport);
        self.typing = Some(Typing { next_pos: typing.next_pos + units as usize, next, ..typing });
        let left = Id::new(self.me, stamp.seq - 1);
        self.insert_op(&stamp, Some(left), typing.right, text)
    }

    /// Inlined and built last, so that the operation's fields go straight
    /// to the caller: copying a built operation costs as much as the rest
    /// of a keystroke.
    #[inline(always)]
    fn insert_op(&self, at: &LocalStamp, left: Option<Id>, right: Option<Id>, text: &str) -> TextOp {
        TextOp {
            id: at.id(),
            lamport: at.lamport,
            kind: TextOpKind::Insert {
                left: left.map(|i| self.op_id(i)),
                right: right.map(|i| self.op_id(i)),
                text: text.into(),
            },
        }
    }

    /// Deletes the characters `start..end`, stamped from `at` on, and
    /// advances `at` past it; returns the operation to send, or `None`
    /// when the range is empty.
    #[inline(always)]
    pub fn delete(&mut self, at: &mut LocalStamp, start: usize, end: usize) -> Result<Option<TextOp>, TextError> {
        self.check_range(start, end)?;
        if start == end {
            return Ok(None);
        }
        let id = self.local_id_of(at)?;
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
        let continues = self.log.push_delete(id, at.lamport, &ids);
        let mut targets = Targets::new();
        let mut units = 0;
        for &(id, len) in &ids {
            targets.push(IdRange::new(self.replicas.id(id.replica()), id.seq(), len));
            units += len;
        }
        let stamp = self.record_local(at, units, continues);
        self.scratch_ids = ids;
        Ok(Some(TextOp { id: stamp.id(), lamport: stamp.lamport, kind: TextOpKind::Delete { targets } }))
    }

    /// Replaces `start..end` with `text`: one edit (undone as one). The
    /// operations (a delete, an insert, or both) are stamped consecutively
    /// from `at` on, and `at` advances past them.
    pub fn replace(
        &mut self,
        at: &mut LocalStamp,
        start: usize,
        end: usize,
        text: &str,
    ) -> Result<Vec<TextOp>, TextError> {
        // Every check first: once the delete is made, the insert must be too.
        self.check_range(start, end)?;
        if text.len() > op::MAX_INSERT_BYTES {
            return Err(TextError::TooLarge(text.len()));
        }
        self.local_id_of(at)?;
        self.coalesce = false;
        let deleted = self.delete(at, start, end).expect("checked above");
        let inserted = (!text.is_empty()).then(|| self.insert(at, start, text).expect("checked above"));
        self.coalesce = true;
        let ops: Vec<TextOp> = deleted.into_iter().chain(inserted).collect();
        if ops.len() == 2 {
            self.local_edits.merge_last_two();
        }
        Ok(ops)
    }

    /// Undoes the given edits (ranges of units, e.g. [`TextOp::range`]),
    /// stamped `at` (which advances by the undo's one unit). Returns the operation to send (one unit) and the
    /// changes of the visible text.
    pub fn undo(&mut self, at: &mut LocalStamp, edits: &[IdRange]) -> Result<(TextOp, Vec<TextChange>), TextError> {
        self.set_undone(at, edits, true)
    }

    /// Redoes edits that were undone.
    pub fn redo(&mut self, at: &mut LocalStamp, edits: &[IdRange]) -> Result<(TextOp, Vec<TextChange>), TextError> {
        self.set_undone(at, edits, false)
    }

    /// Undoes the most recent local edit not yet undone (a run of typing or
    /// backspacing is one edit, as in editors).
    pub fn undo_last(&mut self, at: &mut LocalStamp) -> Option<(TextOp, Vec<TextChange>)> {
        let step = self.local_edits.pop_undo()?;
        let undone = self.set_undone(at, &[self.range_of(step)], true).ok()?;
        self.local_edits.undone(step);
        Some(undone)
    }

    /// Redoes the edit most recently undone by `undo_last`.
    pub fn redo_last(&mut self, at: &mut LocalStamp) -> Option<(TextOp, Vec<TextChange>)> {
        let step = self.local_edits.pop_redo()?;
        let redone = self.set_undone(at, &[self.range_of(step)], false).ok()?;
        self.local_edits.redone(step);
        Some(redone)
    }

    fn set_undone(
        &mut self,
        at: &mut LocalStamp,
        edits: &[IdRange],
        undone: bool,
    ) -> Result<(TextOp, Vec<TextChange>), TextError> {
        if let Some(unknown) = edits.iter().find(|e| !self.is_edit(e)) {
            return Err(TextError::UnknownEdit(*unknown));
        }
        self.local_id_of(at)?;
        let op = TextOp { id: at.id(), lamport: at.lamport, kind: TextOpKind::Undo { edits: edits.to_vec(), undone } };
        let mut changes = Vec::new();
        self.integrate(op.clone(), &mut changes).expect("a local undo is valid");
        *at = at.plus(1);
        Ok((op, changes))
    }

    /// Whether `range` is one or more operations of this document's log
    /// (the base text is not an edit).
    fn is_edit(&self, range: &IdRange) -> bool {
        match self.replicas.get(range.replica) {
            Some(replica) => range.len > 0 && self.are_edits(Id::new(replica, range.seq), range.len),
            None => false,
        }
    }

    fn check_pos(&self, pos: usize) -> Result<(), TextError> {
        match pos <= self.len() {
            true => Ok(()),
            false => Err(TextError::OutOfRange { pos, len: self.len() }),
        }
    }

    fn check_range(&self, start: usize, end: usize) -> Result<(), TextError> {
        self.check_pos(end)?;
        match start <= end {
            true => Ok(()),
            false => Err(TextError::ReversedRange { start, end }),
        }
    }

    /// The local form of the id a local edit gets from `at`.
    ///
    /// Stamps name this crdt's replica, unless the host has taken a new
    /// replica id (say, after a restart): from then on the local edits are
    /// that replica's, and the old one's cannot be undone by `undo_last`.
    #[inline(always)]
    fn local_id_of(&mut self, at: &LocalStamp) -> Result<Id, TextError> {
        if at.replica != self.replica {
            self.become_replica(at.replica)?;
        }
        Ok(Id::new(self.me, at.seq))
    }

    #[cold]
    fn become_replica(&mut self, replica: ReplicaId) -> Result<(), TextError> {
        self.me = self.intern(replica).map_err(|_| TextError::TooManyReplicas(list::MAX_LOCAL_REPLICAS))?;
        self.replica = replica;
        self.local_edits = UndoStack::default();
        self.typing = None;
        Ok(())
    }

    /// Records a local edit of `units` stamped from `at` on (`continues`:
    /// it continues the previous one, typing or backspacing), and moves
    /// `at` past it. Returns the edit's stamp.
    #[inline(always)]
    fn record_local(&mut self, at: &mut LocalStamp, units: u64, continues: bool) -> LocalStamp {
        self.local_edits.record(at.seq, units, continues && self.coalesce);
        let stamp = *at;
        *at = at.plus(units);
        stamp
    }

    fn range_of(&self, (seq, len): (Seq, u64)) -> IdRange {
        IdRange::new(self.replica, seq, len)
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

    /// The text as it was at `version` (operations outside it, or not
    /// causally closed under it, are left out; the base text is in).
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

    /// A document holding exactly the operations of `version`, rebuilt from
    /// the log (history queries are rare; they need no index of their own).
    ///
    /// The log is in a causal order, so each operation inside `version`
    /// finds what it refers to already there, unless `version` is not
    /// causally closed: such an operation fails to integrate and is left
    /// out, as is everything that depends on it.
    fn at(&self, version: &VersionVector) -> TextCrdt {
        let mut past = self.without_history();
        let mut changes = Vec::new();
        for mut op in self.ops_since(&VersionVector::new()) {
            let included = version.get(op.id.replica).saturating_sub(op.id.seq).min(op.units());
            if included > 0 {
                op.truncate(included);
                let _ = past.integrate(op, &mut changes);
                changes.clear();
            }
        }
        past
    }

    /// Every operation here that `version` lacks (each trimmed to its units
    /// from `version.get(author)` on), in an order that a replica at
    /// `version` can apply directly (a causal order). The base text is not
    /// an operation: it is never returned.
    pub fn ops_since(&self, version: &VersionVector) -> Vec<TextOp> {
        let mut ops = Vec::new();
        for entry in self.log.entries().iter().filter(|entry| Some(entry.id.replica()) != self.base) {
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

    /// The whole history, compactly encoded (see [`crate::encoding`]);
    /// without the base text.
    pub fn encode_history(&self) -> Vec<u8> {
        crate::encoding::encode_history(&self.ops_since(&VersionVector::new()))
    }

    /// Sizes of the internal structures, for diagnostics: (runs in the
    /// item list, its leaves, log entries).
    #[doc(hidden)]
    pub fn shape(&self) -> (usize, usize, usize) {
        let (runs, leaves) = self.list.shape();
        (runs, leaves, self.log.entries().len())
    }

    // ----- ids ----------------------------------------------------------

    fn op_id(&self, id: Id) -> OpId {
        OpId::new(self.replicas.id(id.replica()), id.seq())
    }

    /// The local index of `replica`, assigning one if it is new.
    fn intern(&mut self, replica: ReplicaId) -> Result<LocalReplica, InvalidOp> {
        self.replicas
            .intern(replica, list::MAX_LOCAL_REPLICAS)
            .ok_or(InvalidOp::TooManyReplicas(list::MAX_LOCAL_REPLICAS))
    }

    /// The local form of a known id (an operation's dependencies are
    /// applied, so their replica is known).
    fn local_id(&self, id: Option<OpId>) -> Result<Option<Id>, InvalidOp> {
        let Some(id) = id else { return Ok(None) };
        let replica = self.replicas.get(id.replica).ok_or(InvalidOp::NotACharacter(id))?;
        Ok(Some(Id::new(replica, id.seq)))
    }

    /// Local forms of known ranges, in order.
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
        self.log_covers(id, len, |entry| matches!(entry.kind, EntryKind::Insert { .. }))
    }

    /// Whether every unit of `id..id + len` belongs to an operation of this
    /// document (a sequence shared with other documents has units that do
    /// not; the base text is no operation).
    fn are_edits(&self, id: Id, len: u64) -> bool {
        Some(id.replica()) != self.base && self.log_covers(id, len, |_| true)
    }

    /// Whether the log holds every unit of `id..id + len`, in entries that
    /// all pass `accept`.
    fn log_covers(&self, id: Id, len: u64, accept: impl Fn(&Entry) -> bool) -> bool {
        let mut at = id;
        while at.seq() < id.seq() + len {
            match self.log.find(at) {
                Some(entry) if accept(entry) => at = entry.id.plus(entry.units),
                _ => return false,
            }
        }
        true
    }

    #[cfg(test)]
    pub(super) fn check(&self) {
        self.list.check();
    }
}
