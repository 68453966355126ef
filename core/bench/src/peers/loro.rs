//! Loro: a CRDT framework (Fugue-based text with an event graph), through a
//! `LoroDoc` with one text container.

use super::Peer;
use crate::simulate::{simulate, SimReplica};
use loro::{ExportMode, LoroDoc, LoroText};
use memo_traces::{Patch, Trace};

#[derive(Debug)]
pub struct Loro;

const TEXT: &str = "text";

fn doc_of(agent: usize) -> LoroDoc {
    let doc = LoroDoc::new();
    doc.set_peer_id(agent as u64 + 1).expect("a fresh document takes any peer id");
    doc
}

/// Applies one transaction's patches to `text`, a container of `doc`.
fn apply_patches(doc: &LoroDoc, text: &LoroText, patches: &[Patch]) {
    for patch in patches {
        if patch.del > 0 {
            text.delete(patch.pos, patch.del).expect("patch in range");
        }
        if !patch.ins.is_empty() {
            text.insert(patch.pos, &patch.ins).expect("patch in range");
        }
    }
    doc.commit();
}

fn all_updates(doc: &LoroDoc) -> Vec<u8> {
    doc.export(ExportMode::all_updates()).expect("export")
}

impl SimReplica for LoroDoc {
    type Update = Vec<u8>;
    const HAND_OVER: bool = true;

    fn empty(agent: usize) -> Self {
        doc_of(agent)
    }

    fn fork(&self, agent: usize) -> Self {
        let mut doc = LoroDoc::fork(self);
        doc.hand_to(agent);
        doc
    }

    fn hand_to(&mut self, agent: usize) {
        self.set_peer_id(agent as u64 + 1).expect("no pending transaction");
    }

    fn apply(&mut self, updates: &[&Vec<u8>]) {
        let updates: Vec<Vec<u8>> = updates.iter().map(|&u| u.clone()).collect();
        self.import_batch(&updates).expect("loro imports its own updates");
    }

    fn edit(&mut self, patches: &[Patch]) -> Vec<u8> {
        let before = self.oplog_vv();
        apply_patches(self, &self.get_text(TEXT), patches);
        self.export(ExportMode::updates(&before)).expect("export updates")
    }
}

impl Peer for Loro {
    const NAME: &'static str = "loro 1.17.1";
    type Doc = LoroDoc;
    type History = Vec<u8>;

    fn replay_local(trace: &Trace) -> LoroDoc {
        let doc = doc_of(0);
        let text = doc.get_text(TEXT);
        for txn in &trace.txns {
            apply_patches(&doc, &text, &txn.patches);
        }
        doc
    }

    fn replay_concurrent(trace: &Trace) -> Option<LoroDoc> {
        Some(simulate(trace))
    }

    /// All the updates (the history, without a snapshot of the state).
    fn history(doc: &mut LoroDoc, _: &Trace) -> Option<Vec<u8>> {
        Some(all_updates(doc))
    }

    fn merge(history: Vec<u8>) -> LoroDoc {
        let doc = LoroDoc::new();
        doc.import(&history).expect("loro imports its own updates");
        doc
    }

    fn encoded_size(doc: &mut LoroDoc) -> Option<usize> {
        Some(all_updates(doc).len())
    }

    fn text(doc: &LoroDoc) -> String {
        doc.get_text(TEXT).to_string()
    }
}
