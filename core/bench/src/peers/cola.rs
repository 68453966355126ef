//! cola: a text CRDT that only tracks positions (the application keeps the
//! text), here with a jumprope for the text. Offsets are in chars.
//!
//! cola keeps no history: a replica turns local edits into `Insertion`s and
//! `Deletion`s and integrates remote ones. So that a fresh replica can merge
//! the whole history, this benchmark logs every operation a replica makes
//! or integrates (the "local memory" column includes that log).

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

/// A replica, its text, and the operations it made or integrated.
#[derive(Debug)]
pub struct Doc {
    replica: Replica,
    text: JumpRopeBuf,
    log: Vec<Op>,
}

/// The replica that made the (empty) initial document. Every other one is
/// forked from an identical one, as cola requires.
const ORIGIN: ReplicaId = u64::MAX;
/// The fresh replica of the remote merge.
const FRESH: ReplicaId = u64::MAX - 1;

impl Doc {
    fn new(id: ReplicaId) -> Self {
        Self { replica: Replica::new(ORIGIN, 0).fork(id), text: JumpRopeBuf::new(), log: Vec::new() }
    }

    /// Applies patches as local edits; returns how many operations they
    /// appended to the log.
    fn apply_patches(&mut self, patches: &[Patch]) -> usize {
        let start = self.log.len();
        for patch in patches {
            if patch.del > 0 {
                let range = patch.pos..patch.pos + patch.del;
                self.log.push(Op::Delete(self.replica.deleted(range.clone())));
                self.text.remove(range);
            }
            if !patch.ins.is_empty() {
                let len = patch.ins.chars().count();
                self.log.push(Op::Insert(self.replica.inserted(patch.pos, len), patch.ins.clone()));
                self.text.insert(patch.pos, &patch.ins);
            }
        }
        self.log.len() - start
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
        Doc::new(agent as ReplicaId + 1)
    }

    fn apply(&mut self, updates: &[&Vec<Op>]) {
        for op in updates.iter().copied().flatten() {
            self.integrate(op);
            self.log.push(op.clone());
        }
    }

    fn edit(&mut self, patches: &[Patch]) -> Vec<Op> {
        let made = self.apply_patches(patches);
        self.log[self.log.len() - made..].to_vec()
    }
}

impl Peer for Cola {
    const NAME: &'static str = "cola 0.5.1 + jumprope";
    type Doc = Doc;
    type History = Vec<Op>;

    fn replay_local(trace: &Trace) -> Doc {
        let mut doc = Doc::new(1);
        for txn in &trace.txns {
            doc.apply_patches(&txn.patches);
        }
        doc
    }

    fn replay_concurrent(trace: &Trace) -> Option<Doc> {
        Some(simulate(trace))
    }

    fn history(doc: &mut Doc) -> Option<Vec<Op>> {
        Some(doc.log.clone())
    }

    /// A fresh replica integrates every operation (it logs none of them).
    fn merge(history: Vec<Op>) -> Doc {
        let mut doc = Doc::new(FRESH);
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
