//! The systems compared: memo-core and its peers, each behind [`Peer`].

use crate::bench::{measure, Row, Settings};
use memo_traces::Trace;

pub mod automerge;
pub mod cola;
pub mod diamond_types;
pub mod jumprope;
pub mod loro;
pub mod memo;
pub mod yrs;

/// One text CRDT (or plain rope) as the benchmark drives it.
pub trait Peer {
    /// Name and version, as printed in the tables.
    const NAME: &'static str;
    /// Slow peers (seconds per trace) run once per measure, and are left
    /// out with `--skip-slow`.
    const SLOW: bool = false;
    /// This row measures the row above's peer again, with another remote
    /// merge: its replay runs once, untimed, and its local replay, local
    /// memory and encoded size are the row above's.
    const SECOND_ROW: bool = false;

    /// A replica holding a document and its history.
    type Doc;
    /// The whole history, as a fresh replica receives it.
    type History: Clone;

    /// Applies every patch of a sequential trace as local edits, one
    /// transaction (commit) per trace transaction where the library has them.
    fn replay_local(trace: &Trace) -> Self::Doc;

    /// Replays a concurrent trace, all of it merged into the returned
    /// replica; `None` when this peer cannot.
    fn replay_concurrent(trace: &Trace) -> Option<Self::Doc>;

    /// The whole history of `doc`, which replayed `trace`, in the form a
    /// fresh replica merges; `None` when this peer has no remote merge.
    /// (A peer that keeps no history may replay `trace` again to record it.)
    fn history(doc: &mut Self::Doc, trace: &Trace) -> Option<Self::History>;

    /// A fresh replica that has merged `history`.
    fn merge(history: Self::History) -> Self::Doc;

    /// Bytes of the library's own encoding of the whole history.
    fn encoded_size(doc: &mut Self::Doc) -> Option<usize>;

    /// The document's text, to check a replay against the trace.
    fn text(doc: &Self::Doc) -> String;
}

/// A peer, erased to what the command line and the runner need.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub slow: bool,
    pub measure: fn(&Trace, &Settings) -> Row,
}

impl Entry {
    fn of<P: Peer>() -> Self {
        Self { name: P::NAME, slow: P::SLOW, measure: measure::<P> }
    }

    /// The name `--only` takes: the crate's, without version or notes.
    pub fn key(&self) -> &'static str {
        self.name.split(' ').next().unwrap_or(self.name)
    }
}

/// Every peer, memo-core first (the others' ratios are to it).
pub fn all() -> Vec<Entry> {
    vec![
        Entry::of::<memo::Memo>(),
        Entry::of::<memo::MemoFromBytes>(),
        Entry::of::<diamond_types::DiamondTypes>(),
        Entry::of::<cola::Cola>(),
        Entry::of::<loro::Loro>(),
        Entry::of::<automerge::Automerge>(),
        Entry::of::<yrs::Yrs>(),
        Entry::of::<jumprope::JumpRope>(),
    ]
}
