//! Automerge: a JSON CRDT with a text type (RGA), through `AutoCommit`.

use super::Peer;
use crate::simulate::{simulate, SimReplica};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ReadDoc, ROOT};
use memo_traces::{Patch, Trace};

#[derive(Debug)]
pub struct Automerge;

/// A document and its text object.
#[derive(Debug, Clone)]
pub struct Doc {
    doc: AutoCommit,
    text: ObjId,
}

const TEXT: &str = "text";

fn actor(agent: usize) -> ActorId {
    ActorId::from(&(agent as u64 + 1).to_be_bytes()[..])
}

impl Doc {
    /// A document holding an empty text, made by the same change wherever
    /// it is made (fixed actor and time), so independent ones share one
    /// text object.
    fn new(agent: usize) -> Self {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(&[0u8; 8][..]));
        let text = doc.put_object(ROOT, TEXT, ObjType::Text).expect("put text");
        doc.commit_with(CommitOptions::default().with_time(0));
        doc.set_actor(actor(agent));
        Self { doc, text }
    }

    fn from_doc(doc: AutoCommit) -> Self {
        let (_, text) = doc.get(ROOT, TEXT).expect("read root").expect("the text object");
        Self { doc, text }
    }

    /// Applies one transaction's patches as one commit; returns its hash
    /// (none if there were no patches).
    fn apply_patches(&mut self, patches: &[Patch]) -> Option<ChangeHash> {
        for patch in patches {
            self.doc.splice_text(&self.text, patch.pos, patch.del as isize, &patch.ins).expect("patch in range");
        }
        self.doc.commit()
    }
}

impl SimReplica for Doc {
    type Update = Vec<Change>;
    const HAND_OVER: bool = true;

    fn empty(agent: usize) -> Self {
        Doc::new(agent)
    }

    fn fork(&self, agent: usize) -> Self {
        let mut copy = self.clone();
        copy.hand_to(agent);
        copy
    }

    fn hand_to(&mut self, agent: usize) {
        self.doc.set_actor(actor(agent));
    }

    /// All in one call: automerge's cost per call grows with the document.
    fn apply(&mut self, updates: &[&Vec<Change>]) {
        let changes = updates.iter().flat_map(|u| u.iter().cloned());
        self.doc.apply_changes(changes).expect("automerge applies its own changes");
    }

    /// One commit per transaction: its update is that one change.
    fn edit(&mut self, patches: &[Patch]) -> Vec<Change> {
        let hash = self.apply_patches(patches);
        hash.and_then(|h| self.doc.get_change_by_hash(&h)).into_iter().collect()
    }
}

impl Peer for Automerge {
    const NAME: &'static str = "automerge 0.12.0";
    const SLOW: bool = true;
    type Doc = Doc;
    type History = Vec<u8>;

    fn replay_local(trace: &Trace) -> Doc {
        let mut doc = Doc::new(0);
        for txn in &trace.txns {
            doc.apply_patches(&txn.patches);
        }
        doc
    }

    fn replay_concurrent(trace: &Trace) -> Option<Doc> {
        Some(simulate(trace))
    }

    /// The saved document (automerge's compressed columnar history).
    fn history(doc: &mut Doc, _: &Trace) -> Option<Vec<u8>> {
        Some(doc.doc.save())
    }

    fn merge(history: Vec<u8>) -> Doc {
        Doc::from_doc(AutoCommit::load(&history).expect("automerge loads its own save"))
    }

    fn encoded_size(doc: &mut Doc) -> Option<usize> {
        Some(doc.doc.save().len())
    }

    fn text(doc: &Doc) -> String {
        doc.doc.text(&doc.text).expect("the text object")
    }
}
