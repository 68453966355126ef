//! [`TextDoc`]: a [`TextCrdt`] with the causal context of a whole replica.

use super::{Anchor, ApplyError, Bias, HistoryError, TextChange, TextCrdt, TextError, TextOp};
use crate::causal::{Bounds, CausalBuffer, Waiting};
use crate::id::{IdRange, Lamport, LocalStamp, ReplicaId};
use crate::version::VersionVector;

/// One replica of a text document.
///
/// It hosts a [`TextCrdt`] alone: the document's units are its replica's
/// whole sequence, its version vector says what it has applied, and
/// operations that arrive early wait in its own causal buffer.
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
    crdt: TextCrdt,
    version: VersionVector,
    /// The stamp of this replica's next unit: its next sequence number
    /// (also in `version`, kept apart because local typing reads it on every
    /// keystroke) and the Lamport clock, above every stamp seen here.
    next: LocalStamp,
    pending: CausalBuffer<TextOp>,
}

impl TextDoc {
    /// The text CRDT it hosts.
    pub fn crdt(&self) -> &TextCrdt {
        &self.crdt
    }

    /// An empty document for `replica`.
    pub fn new(replica: ReplicaId) -> Self {
        Self {
            crdt: TextCrdt::new(replica),
            version: VersionVector::new(),
            next: LocalStamp { replica, seq: 0, lamport: 0 },
            pending: CausalBuffer::new(Bounds::DEFAULT),
        }
    }

    /// Sets how many operations may wait for their dependencies (and
    /// keeps the default bound in bytes).
    pub fn set_pending_limit(&mut self, limit: usize) {
        self.pending.set_bounds(Bounds { ops: limit, ..Bounds::DEFAULT });
    }

    pub fn replica(&self) -> ReplicaId {
        self.crdt.replica()
    }

    /// The operations applied here.
    pub fn version(&self) -> &VersionVector {
        &self.version
    }

    /// The Lamport clock: above every stamp seen here.
    pub fn clock(&self) -> Lamport {
        self.next.lamport
    }

    /// Length of the visible text in characters.
    pub fn len(&self) -> usize {
        self.crdt.len()
    }

    pub fn is_empty(&self) -> bool {
        self.crdt.is_empty()
    }

    pub fn text(&self) -> String {
        self.crdt.text()
    }

    // ----- local edits -------------------------------------------------

    /// Inserts `text` at character `pos`; returns the operation to send.
    pub fn insert(&mut self, pos: usize, text: &str) -> Result<TextOp, TextError> {
        let made = self.crdt.insert(&mut self.next, pos, text);
        self.stamped();
        made
    }

    /// Deletes the characters `start..end`; returns the operation to send,
    /// or `None` when the range is empty.
    pub fn delete(&mut self, start: usize, end: usize) -> Result<Option<TextOp>, TextError> {
        let made = self.crdt.delete(&mut self.next, start, end);
        self.stamped();
        made
    }

    /// Replaces `start..end` with `text`: one edit (undone as one).
    pub fn replace(&mut self, start: usize, end: usize, text: &str) -> Result<Vec<TextOp>, TextError> {
        let made = self.crdt.replace(&mut self.next, start, end, text);
        self.stamped();
        made
    }

    /// Undoes the given edits (ranges of units, e.g. [`TextOp::range`]).
    /// Returns the operation to send and the changes of the visible text.
    pub fn undo(&mut self, edits: &[IdRange]) -> Result<(TextOp, Vec<TextChange>), TextError> {
        let made = self.crdt.undo(&mut self.next, edits);
        self.stamped();
        made
    }

    /// Redoes edits that were undone.
    pub fn redo(&mut self, edits: &[IdRange]) -> Result<(TextOp, Vec<TextChange>), TextError> {
        let made = self.crdt.redo(&mut self.next, edits);
        self.stamped();
        made
    }

    /// Undoes this replica's most recent edit not yet undone (a run of
    /// typing or backspacing is one edit, as in editors).
    pub fn undo_last(&mut self) -> Option<(TextOp, Vec<TextChange>)> {
        let made = self.crdt.undo_last(&mut self.next);
        self.stamped();
        made
    }

    /// Redoes the edit most recently undone by `undo_last`.
    pub fn redo_last(&mut self) -> Option<(TextOp, Vec<TextChange>)> {
        let made = self.crdt.redo_last(&mut self.next);
        self.stamped();
        made
    }

    /// Records the local edit just made, if any (`next` has moved past it).
    /// Called whatever the outcome (a refused edit leaves `next` alone), so
    /// that the result is passed on as it is: unpacking and rebuilding it
    /// costs a keystroke a few percent.
    fn stamped(&mut self) {
        self.version.set(self.next.replica, self.next.seq);
    }

    // ----- remote operations -------------------------------------------

    /// Applies an operation from another replica (or a copy of one of ours).
    ///
    /// It may arrive in any order, more than once, or late: a duplicate is a
    /// no-op, and an operation whose dependencies are missing waits (see
    /// [`TextDoc::waiting`]) and applies as soon as they arrive. Returns the
    /// exact changes of the visible text, from this operation and from every
    /// waiting one it made ready.
    pub fn apply(&mut self, op: TextOp) -> Result<Vec<TextChange>, ApplyError> {
        op.validate().map_err(|reason| ApplyError::Invalid { range: op.range(), reason })?;
        let mut changes = Vec::new();
        if self.version.contains_range(&op.range()) {
            return Ok(changes);
        }
        let mut next = self.pending.admit(op, &self.version)?;
        let mut first_error = None;
        while let Some(op) = next {
            let range = op.range();
            match self.integrate(op, &mut changes) {
                Ok(()) => self.pending.applied(range),
                Err(reason) => {
                    first_error.get_or_insert(ApplyError::Invalid { range, reason });
                }
            }
            next = self.pending.take_ready(&self.version);
        }
        match first_error {
            Some(error) if changes.is_empty() => Err(error),
            _ => Ok(changes),
        }
    }

    /// Operations waiting for dependencies, and what each lacks.
    pub fn waiting(&self) -> Vec<Waiting> {
        self.pending.waiting(&self.version)
    }

    /// Applies a causally ready operation, trimmed to its units not yet
    /// applied here.
    fn integrate(&mut self, mut op: TextOp, changes: &mut Vec<TextChange>) -> Result<(), super::InvalidOp> {
        let applied = self.version.get(op.id.replica);
        debug_assert!(op.id.seq <= applied && op.range().end() > applied);
        op.trim_front(applied - op.id.seq);
        let (range, lamport) = (op.range(), op.lamport);
        self.crdt.integrate(op, changes)?;
        self.advance(range, lamport);
        Ok(())
    }

    /// Records the units `range`, stamped from `lamport` on, as applied.
    fn advance(&mut self, range: IdRange, lamport: Lamport) {
        self.version.set(range.replica, range.end());
        if range.replica == self.next.replica {
            self.next.seq = range.end();
        }
        self.next.lamport = self.next.lamport.max(lamport + range.len);
    }

    // ----- reading ------------------------------------------------------

    /// An anchor at character position `pos`.
    pub fn anchor(&self, pos: usize, bias: Bias) -> Result<Anchor, TextError> {
        self.crdt.anchor(pos, bias)
    }

    /// Where `anchor` stands now; `None` if its character is unknown here.
    pub fn resolve(&self, anchor: &Anchor) -> Option<usize> {
        self.crdt.resolve(anchor)
    }

    /// The text as it was at `version` (a version this replica has seen;
    /// operations outside it, or not causally closed under it, are left out).
    pub fn text_at(&self, version: &VersionVector) -> String {
        self.crdt.text_at(version)
    }

    /// An anchor at character `pos` of the text as it was at `version`: it
    /// resolves at every later version, on every replica (see [`Anchor`]).
    pub fn anchor_at(&self, version: &VersionVector, pos: usize, bias: Bias) -> Result<Anchor, TextError> {
        self.crdt.anchor_at(version, pos, bias)
    }

    /// Where `anchor` stood at `version`; `None` if its character did not
    /// exist yet.
    pub fn resolve_at(&self, version: &VersionVector, anchor: &Anchor) -> Option<usize> {
        self.crdt.resolve_at(version, anchor)
    }

    /// Every applied operation that `version` lacks, in an order that a
    /// replica at `version` can apply directly (a causal order).
    pub fn ops_since(&self, version: &VersionVector) -> Vec<TextOp> {
        self.crdt.ops_since(version)
    }

    /// Sizes of the internal structures, for diagnostics: (runs in the
    /// item list, its leaves, log entries).
    #[doc(hidden)]
    pub fn shape(&self) -> (usize, usize, usize) {
        self.crdt.shape()
    }

    /// The whole history, compactly encoded (see [`crate::encoding`]).
    pub fn encode_history(&self) -> Vec<u8> {
        self.crdt.encode_history()
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

    #[cfg(test)]
    pub(super) fn check(&self) {
        self.crdt.check();
    }
}
