//! cola: a text CRDT that only tracks positions (the application keeps the
//! text), here with a jumprope for the text. Offsets are in chars.
//!
//! cola keeps no history: a replica turns local edits into `Insertion`s and
//! `Deletion`s and integrates remote ones. So that a fresh replica can merge
//! the whole history, the benchmark records the operations in a separate,
//! untimed replay (and in the concurrent simulation); the timed replays and
//! the memory measures have no such log.

use super::Peer;
use crate::simulate::{simulate, SimReplica};
use cola::{Deletion, Insertion, Replica, ReplicaId};
use jumprope::JumpRopeBuf;
use memo_traces::{Patch, Trace};

#[derive(Debug)]
pub struct Cola;

/// One cola operation, with the text an insertion carries.
#[derive(Debug, Clone)]
pub enum Op {
    Insert(Insertion, String),
    Delete(Deletion),
}

/// A replica, its text, and (when recording) the operations it made or
/// integrated.
#[derive(Debug)]
pub struct Doc {
    replica: Replica,
    text: JumpRopeBuf,
    log: Option<Vec<Op>>,
}

/// The replica that made the (empty) initial document. Every other one is
/// forked from an identical one, as cola requires.
const ORIGIN: ReplicaId = u64::MAX;
/// The fresh replica of the remote merge.
const FRESH: ReplicaId = u64::MAX - 1;

impl Doc {
    fn new(id: ReplicaId, record: bool) -> Self {
        Self { replica: Replica::new(ORIGIN, 0).fork(id), text: JumpRopeBuf::new(), log: record.then(Vec::new) }
    }

    /// Applies patches as local edits.
    fn apply_patches(&mut self, patches: &[Patch]) {
        for patch in patches {
            if patch.del > 0 {
                let range = patch.pos..patch.pos + patch.del;
                let deletion = self.replica.deleted(range.clone());
                self.text.remove(range);
                self.record(|| Op::Delete(deletion));
            }
            if !patch.ins.is_empty() {
                let len = patch.ins.chars().count();
                let insertion = self.replica.inserted(patch.pos, len);
                self.text.insert(patch.pos, &patch.ins);
                self.record(|| Op::Insert(insertion, patch.ins.clone()));
            }
        }
    }

    fn record(&mut self, op: impl FnOnce() -> Op) {
        if let Some(log) = &mut self.log {
            log.push(op());
        }
    }

    /// Integrates a remote operation (without logging it).
    fn integrate(&mut self, op: &Op) {
        match op {
            Op::Insert(insertion, text) => {
                let offset = self.replica.integrate_insertion(insertion).expect("causally ready and new");
                self.text.insert(offset, text);
            }
            Op::Delete(deletion) => {
                // The ranges are offsets before the deletion: remove the
                // last first.
                for range in self.replica.integrate_deletion(deletion).into_iter().rev() {
                    self.text.remove(range);
                }
            }
        }
    }
}

/// cola replica ids cannot change hands (a fork restarts its id's
/// counters), so each agent keeps its replica.
impl SimReplica for Doc {
    type Update = Vec<Op>;
    const HAND_OVER: bool = false;

    fn empty(agent: usize) -> Self {
        Doc::new(agent as ReplicaId + 1, true)
    }

    fn apply(&mut self, updates: &[&Vec<Op>]) {
        for op in updates.iter().copied().flatten() {
            self.integrate(op);
            self.record(|| op.clone());
        }
    }

    fn edit(&mut self, patches: &[Patch]) -> Vec<Op> {
        let before = self.log.as_ref().map_or(0, Vec::len);
        self.apply_patches(patches);
        self.log.as_ref().map(|log| log[before..].to_vec()).unwrap_or_default()
    }
}

/// Applies every patch of `trace` as local edits of one replica.
fn replay(trace: &Trace, record: bool) -> Doc {
    let mut doc = Doc::new(1, record);
    for txn in &trace.txns {
        doc.apply_patches(&txn.patches);
    }
    doc
}

impl Peer for Cola {
    const NAME: &'static str = "cola 0.5.1 + jumprope";
    type Doc = Doc;
    type History = Vec<Op>;

    fn replay_local(trace: &Trace) -> Doc {
        replay(trace, false)
    }

    fn replay_concurrent(trace: &Trace) -> Option<Doc> {
        Some(simulate(trace))
    }

    /// The simulation's log (concurrent traces), or the log of a replay
    /// that records.
    fn history(doc: &mut Doc, trace: &Trace) -> Option<Vec<Op>> {
        doc.log.clone().or_else(|| replay(trace, true).log)
    }

    /// A fresh replica integrates every operation (it logs none of them).
    fn merge(history: Vec<Op>) -> Doc {
        let mut doc = Doc::new(FRESH, false);
        for op in &history {
            doc.integrate(op);
        }
        doc
    }

    /// cola's own encoding of the replica, plus the text (UTF-8): what a
    /// new peer needs. It holds no history.
    fn encoded_size(doc: &mut Doc) -> Option<usize> {
        Some(doc.replica.encode().as_bytes().len() + doc.text.len_bytes())
    }

    fn text(doc: &Doc) -> String {
        doc.text.to_string()
    }
}
