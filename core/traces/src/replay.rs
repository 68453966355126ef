//! Replaying traces into memo-core.

use crate::{Patch, Trace};
use memo_core::{ReplicaId, TextDoc, TextOp, VersionVector};

/// The replica id that plays agent `agent` of a trace.
pub fn agent_replica(agent: usize) -> ReplicaId {
    ReplicaId::from_u128(agent as u128 + 1)
}

/// Applies one patch as local edits; returns the operations made.
pub fn apply_patch(doc: &mut TextDoc, patch: &Patch, out: &mut Vec<TextOp>) {
    if patch.del > 0 {
        let op = doc.delete(patch.pos, patch.pos + patch.del).expect("patch in range");
        out.extend(op);
    }
    if !patch.ins.is_empty() {
        out.push(doc.insert(patch.pos, &patch.ins).expect("patch in range"));
    }
}

/// Replays a trace as local edits of one replica, in file order (for
/// sequential traces). The operations each edit returns are dropped, as an
/// editor that sends them would.
pub fn replay_sequential(trace: &Trace) -> TextDoc {
    let mut doc = TextDoc::new(agent_replica(0));
    for txn in &trace.txns {
        for patch in &txn.patches {
            if patch.del > 0 {
                drop(doc.delete(patch.pos, patch.pos + patch.del).expect("patch in range"));
            }
            if !patch.ins.is_empty() {
                drop(doc.insert(patch.pos, &patch.ins).expect("patch in range"));
            }
        }
    }
    doc
}

/// The result of replaying a concurrent trace: one replica per agent, each
/// as it was after its agent's last transaction, and every operation made.
#[derive(Debug)]
pub struct ConcurrentReplay {
    pub docs: Vec<TextDoc>,
    /// Every agent's operations, in the order it made them.
    pub ops: Vec<Vec<TextOp>>,
    /// The version that holds every operation of the trace.
    pub everything: VersionVector,
}

impl ConcurrentReplay {
    /// Delivers to agent `agent`'s replica every operation it lacks, in an
    /// order `scramble` may shuffle; afterwards it holds the whole history.
    pub fn converge(&mut self, agent: usize, scramble: &mut dyn FnMut(&mut Vec<TextOp>)) -> &TextDoc {
        deliver(&mut self.docs[agent], &self.ops, &self.everything, scramble);
        &self.docs[agent]
    }
}

/// Replays a concurrent trace as concurrent replicas: each agent is a
/// replica, and each transaction is applied on top of exactly its parents'
/// version (the operations it lacks are delivered first). Then every
/// replica receives everything (see [`ConcurrentReplay::converge`]).
pub fn replay_concurrent(trace: &Trace) -> ConcurrentReplay {
    let mut replay = replay_concurrent_with(trace, &mut |_| {});
    for agent in 0..replay.docs.len() {
        replay.converge(agent, &mut |_| {});
    }
    replay
}

/// Replays the transactions as [`replay_concurrent`] does, with `scramble`
/// reordering each batch of operations delivered to a replica, but leaves
/// each replica after its agent's last transaction.
pub fn replay_concurrent_with(trace: &Trace, scramble: &mut dyn FnMut(&mut Vec<TextOp>)) -> ConcurrentReplay {
    let agents = trace.num_agents.max(1 + trace.txns.iter().map(|t| t.agent).max().unwrap_or(0));
    let mut docs: Vec<TextDoc> = (0..agents).map(|a| TextDoc::new(agent_replica(a))).collect();
    let mut ops: Vec<Vec<TextOp>> = vec![Vec::new(); agents];
    let mut after: Vec<VersionVector> = Vec::with_capacity(trace.txns.len());
    for txn in &trace.txns {
        let mut target = VersionVector::new();
        for &parent in &txn.parents {
            target.join(&after[parent]);
        }
        deliver(&mut docs[txn.agent], &ops, &target, scramble);
        assert_eq!(docs[txn.agent].version(), &target, "replica is exactly at the parents' version");
        let mut made = Vec::new();
        for patch in &txn.patches {
            apply_patch(&mut docs[txn.agent], patch, &mut made);
        }
        ops[txn.agent].extend(made);
        after.push(docs[txn.agent].version().clone());
    }
    let mut everything = VersionVector::new();
    for doc in &docs {
        everything.join(doc.version());
    }
    ConcurrentReplay { docs, ops, everything }
}

/// Applies to `doc` the operations it lacks to reach `target`.
fn deliver(doc: &mut TextDoc, ops: &[Vec<TextOp>], target: &VersionVector, scramble: &mut dyn FnMut(&mut Vec<TextOp>)) {
    let mut batch = Vec::new();
    for range in target.missing_from(doc.version()) {
        let agent = (range.replica.as_bytes()[15] as usize) - 1 + 256 * (range.replica.as_bytes()[14] as usize);
        let own = &ops[agent];
        let first = own.partition_point(|op| op.range().end() <= range.seq);
        batch.extend(own[first..].iter().take_while(|op| op.id.seq < range.end()).cloned());
    }
    scramble(&mut batch);
    for op in batch {
        doc.apply(op).expect("trace operations are valid");
    }
}
