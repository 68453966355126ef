//! Bytes from disk or a peer, decoded as a whole history: never a panic,
//! never a decoding bomb.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::{ReplicaId, TextDoc};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(mut doc) = TextDoc::decode_history(ReplicaId::from_u128(1), bytes) {
        let len = doc.len();
        doc.insert(len, "!").unwrap();
    }
});
