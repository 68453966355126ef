//! The text CRDT: one replica of a text document.
//!
//! It comes in two layers:
//! - [`TextCrdt`] is the CRDT state of one document (its characters, the
//!   log of its operations, undo state) without a causal context. A host
//!   stamps its local edits ([`LocalStamp`](crate::LocalStamp)) and hands
//!   it remote operations once they are causally ready
//!   ([`TextCrdt::integrate`]). The host may number the units of many
//!   documents from one sequence (a working tree does, for all its files),
//!   so a replica's units in one `TextCrdt` may have gaps; nothing in it
//!   assumes they are contiguous.
//! - [`TextDoc`] is a replica of one document on its own: a `TextCrdt`
//!   plus the causal context (version vector, sequence, Lamport clock, and
//!   the buffer of operations that arrived early).
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
//!
//! Inside: `crdt` (local edits and reading) and `crdt/remote` (integration,
//! FugueMax, undo) make the CRDT; `doc` the single-document host; `list`
//! the item list, `log` the operation log, `undo` the undo registers and
//! the local undo stack, `op` the operations.

mod crdt;
mod doc;
mod list;
mod log;
pub mod offsets;
mod op;
mod session;
#[cfg(test)]
mod tests;
mod undo;

pub use crdt::TextCrdt;
pub use doc::TextDoc;
pub(crate) use op::MAX_SEQ;
pub use op::{InvalidOp, Targets, TextOp, TextOpKind};
pub use session::{Edit, SessionError, Sync, TextSession};

pub use compact_str::CompactString;

use crate::causal::{BufferFull, CausalOp};
use crate::id::{IdRange, OpId};

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
    #[error("{0:?} is not an edit of this document, so it cannot be undone or redone")]
    UnknownEdit(IdRange),
    #[error("the document already has operations from {0} replicas, the most it holds")]
    TooManyReplicas(u32),
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

    fn size(&self) -> usize {
        std::mem::size_of::<TextOp>() + self.kind.heap_size()
    }
}
