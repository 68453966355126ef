//! Replays a concurrent trace into a CRDT that has no event graph to add
//! operations to, by simulating the peers (FORMAT.md, "How to replay a
//! concurrent trace into a CRDT").
//!
//! Every transaction is applied as local edits to a document that is at
//! exactly its parents' version: that document first receives, as remote
//! updates, the transactions of the other branches that it lacks. Versions
//! are counted in transactions: for each agent, how many of its transactions
//! (always a prefix, since an agent's transactions are totally ordered) a
//! document has seen.
//!
//! Two ways to get "a document at the parents' version":
//! - [`Strategy::PerAgent`]: each agent keeps one replica for the whole
//!   trace, as a real editor would, and catches it up before each of its
//!   transactions. No copies, but with many agents each one catches up on
//!   most of the history.
//! - [`Strategy::PerHead`]: keep the state after each transaction until its
//!   last child takes it over (the other children fork it), and hand it to
//!   the child's agent. Only for libraries that can change a document's
//!   actor ([`SimReplica::HAND_OVER`]); used when the trace has many agents.

use memo_traces::{Patch, Trace};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    PerHead,
    PerAgent,
}

/// A library's replica, as the simulation drives it.
pub trait SimReplica: Sized {
    /// What one transaction's local edits send to the other peers.
    type Update;
    /// Can a document be forked and handed to another agent
    /// ([`SimReplica::fork`], [`SimReplica::hand_to`])?
    const HAND_OVER: bool;

    /// An empty document that `agent` edits. Every such document must be
    /// able to merge the others' updates (same root text object).
    fn empty(agent: usize) -> Self;

    /// A copy of this document, for `agent` to edit (if `HAND_OVER`).
    fn fork(&self, _agent: usize) -> Self {
        unreachable!("only per-head simulations fork documents")
    }

    /// Hands this document over to `agent` (if `HAND_OVER`).
    fn hand_to(&mut self, _agent: usize) {
        unreachable!("only per-head simulations hand documents over")
    }

    /// Merges other peers' transactions, given oldest first.
    fn apply(&mut self, updates: &[&Self::Update]);

    /// Applies the patches of one transaction as local edits and returns
    /// what they send to the other peers.
    fn edit(&mut self, patches: &[Patch]) -> Self::Update;
}

/// Up to this many agents, libraries that could hand documents over still
/// keep one per agent: cheaper than forking at every branch.
const FEW_AGENTS: usize = 8;

/// Per agent, how many of its transactions are included.
type TxnVersion = Vec<usize>;

/// Replays `trace` and returns the document after its last transaction,
/// which (FORMAT.md) depends on every other one: the whole history.
pub fn simulate<R: SimReplica>(trace: &Trace) -> R {
    let txns = &trace.txns;
    let agents = 1 + txns.iter().map(|t| t.agent).max().unwrap_or(0);
    // Each agent's transactions, in order: the n-th one is `by_agent[a][n]`.
    let mut by_agent: Vec<Vec<usize>> = vec![Vec::new(); agents];
    for (i, txn) in txns.iter().enumerate() {
        by_agent[txn.agent].push(i);
    }
    let strategy = if R::HAND_OVER && agents > FEW_AGENTS { Strategy::PerHead } else { Strategy::PerAgent };
    let last_txn_of_agent: Vec<usize> = by_agent.iter().map(|t| t.last().copied().unwrap_or(0)).collect();
    let mut children_left = vec![0usize; txns.len()];
    for txn in txns {
        for &p in &txn.parents {
            children_left[p] += 1;
        }
    }

    let mut updates: Vec<R::Update> = Vec::with_capacity(txns.len());
    let mut versions: Vec<TxnVersion> = Vec::with_capacity(txns.len());
    // Documents not in use, with the version each is at: keyed by
    // transaction (per head) or by agent (per agent).
    let mut parked: HashMap<usize, (R, TxnVersion)> = HashMap::new();

    for (i, txn) in txns.iter().enumerate() {
        let agent = txn.agent;
        let (mut doc, mut have) = match strategy {
            Strategy::PerAgent => parked.remove(&agent).unwrap_or_else(|| (R::empty(agent), vec![0; agents])),
            Strategy::PerHead => match txn.parents.first() {
                None => (R::empty(agent), vec![0; agents]),
                Some(&p) if children_left[p] == 1 => {
                    let (mut doc, version) = parked.remove(&p).expect("parent state kept");
                    doc.hand_to(agent);
                    (doc, version)
                }
                Some(&p) => {
                    let (doc, version) = &parked[&p];
                    (doc.fork(agent), version.clone())
                }
            },
        };
        if strategy == Strategy::PerHead {
            for &p in &txn.parents {
                children_left[p] -= 1;
                if children_left[p] == 0 {
                    parked.remove(&p);
                }
            }
        }

        // Catch up to the parents' version, oldest transaction first (a
        // topological order, so every update arrives after its causes).
        let mut target = vec![0; agents];
        for &p in &txn.parents {
            for (t, v) in target.iter_mut().zip(&versions[p]) {
                *t = (*t).max(*v);
            }
        }
        assert!(have.iter().zip(&target).all(|(h, t)| h <= t), "txn {i}: the document is past its parents' version");
        let mut missing: Vec<usize> =
            (0..agents).flat_map(|a| by_agent[a][have[a]..target[a]].iter().copied()).collect();
        missing.sort_unstable();
        if !missing.is_empty() {
            doc.apply(&missing.iter().map(|&m| &updates[m]).collect::<Vec<_>>());
        }
        have = target;

        updates.push(doc.edit(&txn.patches));
        have[agent] += 1;
        versions.push(have.clone());

        let last = i + 1 == txns.len();
        match strategy {
            Strategy::PerHead if children_left[i] > 0 || last => {
                parked.insert(i, (doc, have));
            }
            Strategy::PerAgent if last_txn_of_agent[agent] > i || last => {
                parked.insert(agent, (doc, have));
            }
            _ => {} // nobody edits on top of this document again
        }
    }
    let key = match strategy {
        Strategy::PerHead => txns.len() - 1,
        Strategy::PerAgent => txns.last().map_or(0, |t| t.agent),
    };
    parked.remove(&key).map(|(doc, _)| doc).unwrap_or_else(|| R::empty(0))
}
