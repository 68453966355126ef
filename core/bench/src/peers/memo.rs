//! memo-core: this project's text CRDT.

use super::Peer;
use memo_core::{ReplicaId, TextDoc, TextOp, VersionVector};
use memo_traces::Trace;
use std::cell::RefCell;

#[derive(Debug)]
pub struct Memo;

/// The fresh replica of the remote merge: an id no trace agent plays.
fn fresh_replica() -> ReplicaId {
    ReplicaId::from_u128(u128::MAX)
}

thread_local! {
    /// The encoded history of the last concurrent replay, by trace.
    static LAST_CONCURRENT: RefCell<Option<(String, Vec<u8>)>> = const { RefCell::new(None) };
}

/// The encoded history of `trace`'s concurrent replay, if it was the last.
fn last_concurrent(trace: &Trace) -> Option<Vec<u8>> {
    LAST_CONCURRENT.with_borrow(|last| match last {
        Some((name, history)) if *name == trace.name => Some(history.clone()),
        _ => None,
    })
}

impl Peer for Memo {
    const NAME: &'static str = "memo-core";
    type Doc = TextDoc;
    type History = Vec<TextOp>;

    fn replay_local(trace: &Trace) -> TextDoc {
        // The same replay as memo-traces' tests, so both measure one code.
        memo_traces::replay_sequential(trace)
    }

    fn replay_concurrent(trace: &Trace) -> Option<TextDoc> {
        let doc = memo_traces::replay_concurrent(trace).docs.into_iter().next()?;
        LAST_CONCURRENT.with_borrow_mut(|last| *last = Some((trace.name.clone(), doc.encode_history())));
        Some(doc)
    }

    fn history(doc: &mut TextDoc, _: &Trace) -> Option<Vec<TextOp>> {
        Some(doc.ops_since(&VersionVector::new()))
    }

    fn merge(history: Vec<TextOp>) -> TextDoc {
        let mut doc = TextDoc::new(fresh_replica());
        for op in history {
            doc.apply(op).expect("a replica's own history applies");
        }
        doc
    }

    fn encoded_size(doc: &mut TextDoc) -> Option<usize> {
        Some(doc.encode_history().len())
    }

    fn text(doc: &TextDoc) -> String {
        doc.text()
    }
}

/// memo-core again, with the remote merge starting from bytes like the
/// peers' do: a fresh replica decodes [`TextDoc::encode_history`]'s
/// encoding and applies every operation.
#[derive(Debug)]
pub struct MemoFromBytes;

impl Peer for MemoFromBytes {
    const NAME: &'static str = "memo-core (merge from bytes)";
    const SECOND_ROW: bool = true;
    type Doc = TextDoc;
    type History = Vec<u8>;

    fn replay_local(trace: &Trace) -> TextDoc {
        Memo::replay_local(trace)
    }

    /// The memo-core row's replay when it was this trace's (a concurrent
    /// replay takes a while), else a new one.
    fn replay_concurrent(trace: &Trace) -> Option<TextDoc> {
        last_concurrent(trace).map(Self::merge).or_else(|| Memo::replay_concurrent(trace))
    }

    /// The memo-core row's history, byte for byte.
    fn history(doc: &mut TextDoc, trace: &Trace) -> Option<Vec<u8>> {
        Some(last_concurrent(trace).unwrap_or_else(|| doc.encode_history()))
    }

    fn merge(history: Vec<u8>) -> TextDoc {
        TextDoc::decode_history(fresh_replica(), &history).expect("a replica's own history decodes")
    }

    fn encoded_size(doc: &mut TextDoc) -> Option<usize> {
        Memo::encoded_size(doc)
    }

    fn text(doc: &TextDoc) -> String {
        doc.text()
    }
}
