//! Yrs: the Rust port of Yjs (YATA), through a `Doc` with one text.

use super::Peer;
use crate::simulate::{simulate, SimReplica};
use memo_traces::{Patch, Trace};
use yrs::updates::decoder::Decode;
use yrs::{
    ClientID, GetString, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef, Transact, TransactionMut, Update,
};

#[derive(Debug)]
pub struct Yrs;

/// A document and its text.
#[derive(Debug)]
pub struct Doc {
    doc: yrs::Doc,
    text: TextRef,
}

/// The client id of the fresh replica of the remote merge.
const FRESH: u64 = 1 << 40;

impl Doc {
    fn new(client: u64) -> Self {
        // Offsets in UTF-16 units: the traces count code points, and none of
        // them has a character outside the BMP (FORMAT.md).
        let doc = yrs::Doc::with_options(Options {
            offset_kind: OffsetKind::Utf16,
            ..Options::with_client_id(ClientID::new(client))
        });
        let text = doc.get_or_insert_text("text");
        Self { doc, text }
    }

    /// Applies one transaction's patches within the yrs transaction `txn`.
    fn apply_patches(&self, txn: &mut TransactionMut<'_>, patches: &[Patch]) {
        for patch in patches {
            if patch.del > 0 {
                self.text.remove_range(txn, patch.pos as u32, patch.del as u32);
            }
            if !patch.ins.is_empty() {
                self.text.insert(txn, patch.pos as u32, &patch.ins);
            }
        }
    }

    /// The whole document as one update.
    fn full_update(&self) -> Vec<u8> {
        self.doc.transact().encode_state_as_update_v1(&StateVector::default())
    }

    fn apply_update(&self, update: &[u8]) {
        let update = Update::decode_v1(update).expect("yrs decodes its own updates");
        self.doc.transact_mut().apply_update(update).expect("yrs applies its own updates");
    }
}

/// Yrs client ids cannot change hands, so each agent keeps its replica.
impl SimReplica for Doc {
    type Update = Vec<u8>;
    const HAND_OVER: bool = false;

    fn empty(agent: usize) -> Self {
        Doc::new(agent as u64 + 1)
    }

    fn apply(&mut self, updates: &[&Vec<u8>]) {
        for update in updates {
            self.apply_update(update);
        }
    }

    fn edit(&mut self, patches: &[Patch]) -> Vec<u8> {
        let mut txn = self.doc.transact_mut();
        self.apply_patches(&mut txn, patches);
        txn.encode_update_v1()
    }
}

impl Peer for Yrs {
    const NAME: &'static str = "yrs 0.28.1";
    const SLOW: bool = true;
    type Doc = Doc;
    type History = Vec<u8>;

    fn replay_local(trace: &Trace) -> Doc {
        let doc = Doc::new(1);
        for txn in &trace.txns {
            doc.apply_patches(&mut doc.doc.transact_mut(), &txn.patches);
        }
        doc
    }

    fn replay_concurrent(trace: &Trace) -> Option<Doc> {
        Some(simulate(trace))
    }

    /// The whole state as one update (yrs keeps tombstones, not history).
    fn history(doc: &mut Doc, _: &Trace) -> Option<Vec<u8>> {
        Some(doc.doc.transact().encode_state_as_update_v1(&StateVector::default()))
    }

    fn merge(history: Vec<u8>) -> Doc {
        let doc = Doc::new(FRESH);
        doc.apply_update(&history);
        doc
    }

    fn encoded_size(doc: &mut Doc) -> Option<usize> {
        Some(doc.full_update().len())
    }

    fn text(doc: &Doc) -> String {
        doc.text.get_string(&doc.doc.transact())
    }
}
