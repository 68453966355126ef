//! Bytes from a peer, decoded as a catch-up request, a gossiped
//! announcement, and a catch-up response whose operations are decoded and
//! applied: never a panic, what decodes re-encodes to the same message,
//! and the replica keeps working.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_core::protocol::catchup::{Announcement, Request, Response};
use memo_core::tree::{MemoryBase, TreeOp, WorkTree};
use memo_core::ReplicaId;
use std::sync::Arc;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(request) = Request::decode(bytes) {
        assert_eq!(Request::decode(&request.encode()).as_ref(), Ok(&request));
        let Request::Have(have) = request;
        let _ = have.missing_from(&memo_core::VersionVector::new());
    }
    if let Ok(announcement) = Announcement::decode(bytes) {
        assert_eq!(Announcement::decode(&announcement.encode()), Ok(announcement));
        let _ = memo_core::VersionVector::new().contains_range(&announcement.range);
    }
    let Ok(response) = Response::decode(bytes) else {
        return;
    };
    assert_eq!(Response::decode(&response.encode()).as_ref(), Ok(&response));
    let base = MemoryBase::new().file("src/lib.rs", "base text\n").dir("docs");
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), Arc::new(base));
    if let Response::Ops { ops, .. } = response {
        for op in ops.iter().filter_map(|bytes| TreeOp::decode(bytes).ok()) {
            if tree.check(&op).is_ok() {
                let _ = tree.apply(op);
            }
        }
    }
    let free = (0..).map(|i| format!("still-works-{i}")).find(|name| tree.entry_at(name).is_none()).unwrap();
    tree.create_text(&free, "yes").unwrap();
    assert_eq!(tree.read_text(&free).unwrap(), "yes");
});
