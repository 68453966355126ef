//! Bytes from the network, decoded as one working-tree operation and
//! applied to a tree with a base: never a panic, and the replica keeps
//! working.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::tree::{MemoryBase, TreeOp, WorkTree};
use memo_core::ReplicaId;
use std::sync::Arc;

fuzz_target!(|bytes: &[u8]| {
    let base = MemoryBase::new().file("src/lib.rs", "base text\n").file("logo.png", vec![0u8, 1]).dir("docs");
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), Arc::new(base));
    if let Ok(op) = TreeOp::decode(bytes) {
        // What decodes re-encodes to something that decodes the same.
        assert_eq!(TreeOp::decode(&op.encode()).as_ref(), Ok(&op));
        let _ = tree.apply(op);
    }
    let free = (0..).map(|i| format!("still-works-{i}")).find(|name| tree.entry_at(name).is_none()).unwrap();
    tree.create_text(&free, "yes").unwrap();
    assert_eq!(tree.read_text(&free).unwrap(), "yes");
});
