//! diamond-types: Seph Gentle's event-graph text CRDT (the Eg-walker
//! paper's reference implementation), through its `ListCRDT` API.

use super::Peer;
use diamond_types::list::encoding::ENCODE_FULL;
use diamond_types::list::operation::Operation;
use diamond_types::list::{ListCRDT, OpLog};
use diamond_types::Time;
use memo_traces::{Patch, Trace};

#[derive(Debug)]
pub struct DiamondTypes;

fn agent_name(agent: usize) -> String {
    format!("agent{agent}")
}

/// A trace patch as diamond-types operations (delete, then insert).
fn operations(patch: &Patch) -> impl Iterator<Item = Operation> + '_ {
    let del = (patch.del > 0).then(|| Operation::new_delete(patch.pos..patch.pos + patch.del));
    let ins = (!patch.ins.is_empty()).then(|| Operation::new_insert(patch.pos, &patch.ins));
    del.into_iter().chain(ins)
}

impl Peer for DiamondTypes {
    const NAME: &'static str = "diamond-types 1.0.0";
    type Doc = ListCRDT;
    type History = Vec<u8>;

    fn replay_local(trace: &Trace) -> ListCRDT {
        let mut doc = ListCRDT::new();
        let agent = doc.get_or_create_agent_id(&agent_name(0));
        for patch in trace.txns.iter().flat_map(|t| &t.patches) {
            if patch.del > 0 {
                doc.delete_without_content(agent, patch.pos..patch.pos + patch.del);
            }
            if !patch.ins.is_empty() {
                doc.insert(agent, patch.pos, &patch.ins);
            }
        }
        doc
    }

    /// An event graph takes a concurrent trace as it is (FORMAT.md, way 1):
    /// each transaction's operations are added at its parents' versions,
    /// then the tip is checked out.
    fn replay_concurrent(trace: &Trace) -> Option<ListCRDT> {
        let mut oplog = OpLog::new();
        let agents: Vec<_> = (0..trace.num_agents.max(1 + trace.txns.iter().map(|t| t.agent).max()?))
            .map(|a| oplog.get_or_create_agent_id(&agent_name(a)))
            .collect();
        // The local version after each transaction.
        let mut after: Vec<Vec<Time>> = Vec::with_capacity(trace.txns.len());
        for txn in &trace.txns {
            let mut parents: Vec<Time> = Vec::new();
            for &p in &txn.parents {
                parents = oplog.version_union(&parents, &after[p]).to_vec();
            }
            let ops: Vec<Operation> = txn.patches.iter().flat_map(operations).collect();
            if ops.is_empty() {
                after.push(parents);
            } else {
                after.push(vec![oplog.add_operations_at(agents[txn.agent], &parents, &ops)]);
            }
        }
        Some(ListCRDT { branch: oplog.checkout_tip(), oplog })
    }

    fn history(doc: &mut ListCRDT, _: &Trace) -> Option<Vec<u8>> {
        Some(doc.oplog.encode(ENCODE_FULL))
    }

    /// Decodes the whole oplog into a fresh document and checks out the tip.
    fn merge(history: Vec<u8>) -> ListCRDT {
        let mut doc = ListCRDT::new();
        doc.merge_data_and_ff(&history).expect("diamond-types decodes its own encoding");
        doc
    }

    fn encoded_size(doc: &mut ListCRDT) -> Option<usize> {
        Some(doc.oplog.encode(ENCODE_FULL).len())
    }

    fn text(doc: &ListCRDT) -> String {
        doc.branch.content().to_string()
    }
}
