//! Text operations: what replicas send each other.

use crate::id::{IdRange, Lamport, OpId};
use compact_str::CompactString;
use smallvec::SmallVec;

/// The characters a delete removes: usually one range, kept inline.
pub type Targets = SmallVec<[IdRange; 1]>;

/// One operation on a text document, as sent between replicas.
///
/// An operation covers `units()` consecutive sequence numbers of its
/// replica starting at `id.seq`, and unit `i` has Lamport stamp
/// `lamport + i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextOp {
    pub id: OpId,
    pub lamport: Lamport,
    pub kind: TextOpKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextOpKind {
    /// Inserts `text` between the characters `left` and `right` that were
    /// adjacent when the author typed it (`None`: the document's start, or
    /// end). Character `i` of `text` is unit `i` of the operation.
    Insert { left: Option<OpId>, right: Option<OpId>, text: CompactString },
    /// Deletes characters: unit `i` deletes the `i`-th character listed by
    /// `targets`, ranges of character ids taken in order.
    Delete { targets: Targets },
    /// Marks whole edits (ranges of units) as undone, or as redone when
    /// `undone` is false. One unit. The latest stamp wins per unit.
    Undo { edits: Vec<IdRange>, undone: bool },
    /// A kind this version does not know, from a newer peer. It occupies its
    /// units (so the author's later operations still apply), is stored and
    /// relayed with its body, and otherwise ignored.
    Opaque { kind: u32, units: u64, body: Vec<u8> },
}

/// Why a received operation is malformed (it can never apply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidOp {
    #[error("operation covers no units")]
    Empty,
    #[error("operation's sequence numbers overflow")]
    Overflow,
    #[error("operation refers to {0:?}, which is not before it in its author's sequence")]
    SelfReference(OpId),
    #[error("insert's left origin {left:?} does not stand before its right origin {right:?}")]
    OriginsOutOfOrder { left: OpId, right: OpId },
    #[error("operation refers to {0:?}, which is not a character")]
    NotACharacter(OpId),
    #[error("operation undoes {0:?}, which is not an edit of this document")]
    NotAnEdit(OpId),
    #[error("the document already has operations from {0} replicas, the most it holds")]
    TooManyReplicas(u32),
    #[error("an insert of {0} bytes is larger than the {MAX_INSERT_BYTES} bytes one operation may carry")]
    TooLarge(usize),
}

/// The number of characters of `text` (with a fast path for ASCII, the
/// common case of typing).
pub(crate) fn char_count(text: &str) -> u64 {
    match text.is_ascii() {
        true => text.len() as u64,
        false => text.chars().count() as u64,
    }
}

/// The most text one insert may carry (runs count characters in 32 bits).
pub const MAX_INSERT_BYTES: usize = 1 << 30;

/// Sequence numbers (and Lamport stamps) stay below 2^48: 281 trillion
/// units per replica, and they pack into 8-byte ids.
pub(crate) const MAX_SEQ: u64 = 1 << 48;

impl TextOpKind {
    /// How many sequence numbers (and Lamport stamps) an operation of this
    /// kind uses.
    pub fn units(&self) -> u64 {
        match self {
            TextOpKind::Insert { text, .. } => char_count(text),
            TextOpKind::Delete { targets } => targets.iter().map(|t| t.len).sum(),
            TextOpKind::Undo { .. } => 1,
            TextOpKind::Opaque { units, .. } => *units,
        }
    }

    /// The units that must have been applied before an operation of this
    /// kind can be.
    pub fn dependencies(&self) -> Vec<IdRange> {
        let one = |id: &OpId| IdRange::new(id.replica, id.seq, 1);
        match self {
            TextOpKind::Insert { left, right, .. } => left.iter().chain(right.iter()).map(one).collect(),
            TextOpKind::Delete { targets } => targets.to_vec(),
            TextOpKind::Undo { edits, .. } => edits.clone(),
            TextOpKind::Opaque { .. } => Vec::new(),
        }
    }

    /// About how many bytes it holds outside its own struct: what a
    /// bounded buffer counts.
    pub fn heap_size(&self) -> usize {
        let ranges = |n: usize| n * std::mem::size_of::<IdRange>();
        match self {
            TextOpKind::Insert { text, .. } => text.len(),
            TextOpKind::Delete { targets } => ranges(targets.len()),
            TextOpKind::Undo { edits, .. } => ranges(edits.len()),
            TextOpKind::Opaque { body, .. } => body.len(),
        }
    }
}

impl TextOp {
    /// How many sequence numbers (and Lamport stamps) this operation uses.
    pub fn units(&self) -> u64 {
        self.kind.units()
    }

    /// The units this operation covers: the handle for undoing it.
    pub fn range(&self) -> IdRange {
        IdRange::new(self.id.replica, self.id.seq, self.units())
    }

    /// The units that must have been applied before this operation can be.
    pub fn dependencies(&self) -> Vec<IdRange> {
        self.kind.dependencies()
    }

    /// Structural checks that need no document state.
    pub fn validate(&self) -> Result<(), InvalidOp> {
        if let TextOpKind::Insert { text, .. } = &self.kind {
            if text.len() > MAX_INSERT_BYTES {
                return Err(InvalidOp::TooLarge(text.len()));
            }
        }
        let units = self.units();
        if units == 0 {
            return Err(InvalidOp::Empty);
        }
        let in_range = |seq: u64, len: u64| seq < MAX_SEQ && len < MAX_SEQ && seq + len < MAX_SEQ;
        if !in_range(self.id.seq, units) || !in_range(self.lamport, units) {
            return Err(InvalidOp::Overflow);
        }
        for dep in self.dependencies() {
            if dep.len == 0 || !in_range(dep.seq, dep.len) {
                return Err(InvalidOp::Empty);
            }
            if dep.replica == self.id.replica && dep.end() > self.id.seq {
                return Err(InvalidOp::SelfReference(crate::OpId::new(dep.replica, dep.seq)));
            }
        }
        Ok(())
    }

    /// Drops the first `n` units (already applied), keeping the rest as an
    /// equivalent operation. `n` must be less than `units()`.
    pub(crate) fn trim_front(&mut self, n: u64) {
        debug_assert!(n < self.units());
        if n == 0 {
            return;
        }
        match &mut self.kind {
            TextOpKind::Insert { left, text, .. } => {
                let cut = text.char_indices().nth(n as usize).map_or(text.len(), |(b, _)| b);
                *text = CompactString::from(&text[cut..]);
                *left = Some(OpId::new(self.id.replica, self.id.seq + n - 1));
            }
            TextOpKind::Delete { targets } => {
                let mut skip = n;
                targets.retain_mut(|t| {
                    if skip >= t.len {
                        skip -= t.len;
                        false
                    } else {
                        t.seq += skip;
                        t.len -= skip;
                        skip = 0;
                        true
                    }
                });
            }
            TextOpKind::Opaque { units, .. } => *units -= n,
            TextOpKind::Undo { .. } => unreachable!("an undo has one unit"),
        }
        self.id.seq += n;
        self.lamport += n;
    }

    /// Keeps only the first `n` units (`0 < n <= units()`).
    pub(crate) fn truncate(&mut self, n: u64) {
        match &mut self.kind {
            TextOpKind::Insert { text, .. } => {
                let cut = text.char_indices().nth(n as usize).map_or(text.len(), |(b, _)| b);
                text.truncate(cut);
            }
            TextOpKind::Delete { targets } => {
                let mut keep = n;
                targets.retain_mut(|t| {
                    let kept = keep > 0;
                    t.len = t.len.min(keep);
                    keep -= t.len;
                    kept
                });
            }
            TextOpKind::Opaque { units, .. } => *units = n,
            TextOpKind::Undo { .. } => {}
        }
    }
}
