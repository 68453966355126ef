//! memo-core: this project's text CRDT.

use super::Peer;
use memo_core::{ReplicaId, TextDoc, TextOp, VersionVector};
use memo_traces::Trace;

#[derive(Debug)]
pub struct Memo;

/// The fresh replica of the remote merge: an id no trace agent plays.
fn fresh_replica() -> ReplicaId {
    ReplicaId::from_u128(u128::MAX)
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
        memo_traces::replay_concurrent(trace)
            .docs
            .into_iter()
            .next()
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
