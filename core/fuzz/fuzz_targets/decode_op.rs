//! Bytes from the network, decoded as one operation and applied: never a
//! panic, and the replica keeps working.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::{ReplicaId, TextDoc, TextOp};

fuzz_target!(|bytes: &[u8]| {
    let mut doc = TextDoc::new(ReplicaId::from_u128(1));
    doc.insert(0, "base text").unwrap();
    if let Ok(op) = TextOp::decode(bytes) {
        // What decodes re-encodes to something that decodes the same.
        assert_eq!(TextOp::decode(&op.encode()).as_ref(), Ok(&op));
        let _ = doc.apply(op);
    }
    let len = doc.len();
    doc.insert(len, "!").unwrap();
});
