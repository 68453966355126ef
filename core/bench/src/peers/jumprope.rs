//! jumprope: a plain rope, no CRDT. The floor: what applying the edits to
//! a string costs with nothing else to do.

use super::Peer;
use jumprope::JumpRopeBuf;
use memo_traces::Trace;
use std::convert::Infallible;

#[derive(Debug)]
pub struct JumpRope;

impl Peer for JumpRope {
    const NAME: &'static str = "jumprope 1.1.2 (rope, no CRDT)";
    type Doc = JumpRopeBuf;
    type History = Infallible;

    fn replay_local(trace: &Trace) -> JumpRopeBuf {
        let mut rope = JumpRopeBuf::new();
        for patch in trace.txns.iter().flat_map(|t| &t.patches) {
            if patch.del > 0 {
                rope.remove(patch.pos..patch.pos + patch.del);
            }
            if !patch.ins.is_empty() {
                rope.insert(patch.pos, &patch.ins);
            }
        }
        rope
    }

    fn replay_concurrent(_: &Trace) -> Option<JumpRopeBuf> {
        None
    }

    fn history(_: &mut JumpRopeBuf, _: &Trace) -> Option<Infallible> {
        None
    }

    fn merge(history: Infallible) -> JumpRopeBuf {
        match history {}
    }

    fn encoded_size(_: &mut JumpRopeBuf) -> Option<usize> {
        None
    }

    fn text(doc: &JumpRopeBuf) -> String {
        doc.to_string()
    }
}
