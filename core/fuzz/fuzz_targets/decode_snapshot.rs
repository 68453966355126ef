//! Bytes from disk, loaded as a working-tree snapshot: never a panic, and
//! whatever loads is a working replica. The bytes are tried as they are
//! and sealed with a valid header and checksum, so that the body decoder
//! is reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::tree::{MemoryBase, WorkTree};
use memo_core::ReplicaId;
use std::sync::Arc;

fuzz_target!(|bytes: &[u8]| {
    let base = Arc::new(MemoryBase::new().file("src/lib.rs", "base text\n").file("logo.png", vec![0u8, 1]).dir("docs"));
    for bytes in [bytes.to_vec(), WorkTree::seal_snapshot(bytes)] {
        if let Ok(mut tree) = WorkTree::decode_snapshot(ReplicaId::from_u128(1), base.clone(), &bytes) {
            let free = (0..).map(|i| format!("still-works-{i}")).find(|name| tree.entry_at(name).is_none()).unwrap();
            tree.create_text(&free, "yes").unwrap();
            assert_eq!(tree.read_text(&free).unwrap(), "yes");
        }
    }
});
