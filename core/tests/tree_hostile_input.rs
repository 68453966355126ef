//! Remote working-tree operations are hostile: whatever arrives gets a clear
//! error or applies, never a panic, and the replica keeps working. Base
//! content is read only when needed.

use memo_core::tree::{
    BaseEntry, BaseSnapshot, BlobId, EntryId, InvalidTreeOp, MemoryBase, NewEntry, TimelineId, TreeApplyError, TreeOp,
    TreeOpKind, WorkTree,
};
use memo_core::{OpId, ReplicaId, VersionVector};
use proptest::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn base() -> Arc<MemoryBase> {
    Arc::new(MemoryBase::new().file("x", "base text\n").file("logo.png", vec![0u8, 1]).dir("d"))
}

fn peer() -> ReplicaId {
    ReplicaId::from_random_bytes([7; 16])
}

fn op(seq: u64, kind: TreeOpKind) -> TreeOp {
    TreeOp { id: OpId::new(peer(), seq), lamport: seq, timeline: TimelineId::MAIN, kind }
}

fn create(name: &str, entry: NewEntry) -> TreeOp {
    op(0, TreeOpKind::Create { parent: EntryId::Root, name: name.into(), entry })
}

/// The operation is refused with `expected`, and nothing changed.
fn refused(kind: TreeOp, expected: impl Fn(&InvalidTreeOp) -> bool) {
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), base());
    let paths = tree.paths();
    match tree.apply(kind) {
        Err(TreeApplyError::Invalid { reason, .. }) => assert!(expected(&reason), "{reason}"),
        other => panic!("accepted or wrong error: {other:?}"),
    }
    assert!(tree.version().is_empty());
    assert_eq!(tree.paths(), paths);
    still_works(&mut tree);
}

fn still_works(tree: &mut WorkTree) {
    tree.create_text("still-works", "yes").unwrap();
    assert_eq!(tree.read_text("still-works").unwrap(), "yes");
}

#[test]
fn names_that_escape_or_hide_are_refused() {
    let long = "n".repeat(300);
    for name in ["", ".", "..", "a/b", "..\\up", "nul\0", ".git", ".Git", long.as_str()] {
        refused(create(name, NewEntry::Dir { generation: 0 }), |r| matches!(r, InvalidTreeOp::Name(..)));
        let rename = op(0, TreeOpKind::Move { entry: x(), parent: EntryId::Root, name: name.into() });
        refused(rename, |r| matches!(r, InvalidTreeOp::Name(..)));
    }
}

fn x() -> EntryId {
    EntryId::derive(EntryId::Root, "x", 0)
}

#[test]
fn operations_that_do_not_fit_the_tree_are_refused() {
    let into_file =
        op(0, TreeOpKind::Create { parent: x(), name: "y".into(), entry: NewEntry::Text { executable: false } });
    refused(into_file, |r| matches!(r, InvalidTreeOp::NotADirectory(_)));
    // A directory whose derived id is the base file x's.
    refused(create("x", NewEntry::Dir { generation: 0 }), |r| matches!(r, InvalidTreeOp::KindClash(_)));
    refused(op(0, TreeOpKind::Move { entry: EntryId::Root, parent: x(), name: "r".into() }), |r| {
        matches!(r, InvalidTreeOp::RootChange(_))
    });
    refused(op(0, TreeOpKind::Delete { entry: EntryId::Root, seen: VersionVector::new() }), |r| {
        matches!(r, InvalidTreeOp::RootChange(_))
    });
    let logo = EntryId::derive(EntryId::Root, "logo.png", 0);
    let edit = memo_core::TextOpKind::Insert { left: None, right: None, text: "t".into() };
    refused(op(0, TreeOpKind::Edit { file: logo, edit }), |r| matches!(r, InvalidTreeOp::NotAText(_)));
    let write = op(0, TreeOpKind::SetContent { entry: x(), content: vec![1], replaces: vec![] });
    refused(write, |r| matches!(r, InvalidTreeOp::NotAContent(_)));
    let huge = vec![0u8; memo_core::tree::MAX_CONTENT_BYTES + 1];
    refused(create("big", NewEntry::Binary { content: huge, executable: false }), |r| {
        matches!(r, InvalidTreeOp::TooLarge(_))
    });
    let forged = memo_core::tree::base_text_replica(&MemoryBase::blob_id(b"base text\n"));
    let mut as_base = create("forged", NewEntry::Text { executable: false });
    as_base.id.replica = forged;
    refused(as_base, |r| matches!(r, InvalidTreeOp::BaseAuthor));
}

#[test]
fn an_unknown_entry_waits_rather_than_fails_and_an_unknown_kind_is_kept() {
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), base());
    // A move of a file nobody created waits for its creation.
    let ghost = EntryId::Created(OpId::new(ReplicaId::from_random_bytes([9; 16]), 5));
    tree.apply(op(0, TreeOpKind::Move { entry: ghost, parent: EntryId::Root, name: "g".into() })).unwrap();
    assert_eq!(tree.waiting().len(), 1);
    // A kind from a newer Memo takes its units and is forwarded unchanged;
    // the author's later operations apply.
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), base());
    let future = op(0, TreeOpKind::Opaque { kind: 99, units: 3, body: vec![1, 2, 3] });
    let decoded = TreeOp::decode(&future.encode()).unwrap();
    assert_eq!(decoded, future);
    tree.apply(decoded).unwrap();
    tree.apply(op(
        3,
        TreeOpKind::Create { parent: EntryId::Root, name: "after".into(), entry: NewEntry::Dir { generation: 0 } },
    ))
    .unwrap();
    assert!(tree.entry_at("after").is_some());
    assert!(tree.ops_since(&VersionVector::new()).contains(&future));
}

#[test]
fn operations_of_another_timeline_are_refused() {
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), base());
    let mut other = create("t", NewEntry::Dir { generation: 0 });
    other.timeline = TimelineId(5);
    assert!(matches!(tree.apply(other), Err(TreeApplyError::OtherTimeline { .. })));
}

#[test]
fn a_tree_deeper_than_the_stack_is_handled() {
    const DEPTH: u64 = 50_000;
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), Arc::new(MemoryBase::new()));
    let mut parent = EntryId::Root;
    // Delivered deepest first: everything waits, then applies in one go.
    let mut ops = Vec::new();
    for seq in 0..DEPTH {
        ops.push(op(seq, TreeOpKind::Create { parent, name: "n".into(), entry: NewEntry::Dir { generation: 0 } }));
        parent = EntryId::derive(parent, "n", 0);
    }
    for op in ops.into_iter().rev() {
        tree.apply(op).unwrap();
    }
    let deepest = tree.path_of(parent).expect("the deepest directory shows");
    assert_eq!(deepest.len() as u64, 2 * DEPTH - 1);
    assert_eq!(tree.entry_at(&deepest), Some(parent));
    // A delete makes the view walk the whole depth to find what survives.
    tree.delete("n").unwrap();
    assert!(tree.paths().is_empty());
    assert!(tree.path_of(parent).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_and_mutated_bytes_never_panic(which in 0usize..6, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4), noise in prop::collection::vec(any::<u8>(), 0..100)) {
        let mut a = WorkTree::new(ReplicaId::from_u128(1), base());
        let mut ops = vec![a.create_dir("d/e").unwrap()];
        ops.extend(a.edit_text("x", 0, 4, "new").unwrap());
        ops.push(a.rename("x", "d/e/x").unwrap());
        ops.push(a.write("logo.png", vec![9]).unwrap());
        ops.push(a.delete("d/e").unwrap());
        ops.push(a.set_executable("logo.png", true).unwrap());
        let mut bytes = ops[which].encode();
        for (at, xor) in flips {
            let i = at % bytes.len();
            bytes[i] ^= xor | 1;
        }
        let mut tree = WorkTree::new(ReplicaId::from_u128(2), base());
        for candidate in [bytes, noise] {
            if let Ok(op) = TreeOp::decode(&candidate) {
                let again = TreeOp::decode(&op.encode());
                prop_assert_eq!(again.as_ref(), Ok(&op));
                let _ = tree.apply(op);
            }
        }
        still_works(&mut tree);
    }
}

/// A base that counts how many blobs were read.
#[derive(Debug)]
struct CountingBase {
    inner: MemoryBase,
    reads: AtomicUsize,
}

impl BaseSnapshot for CountingBase {
    fn entries(&self) -> Vec<BaseEntry> {
        self.inner.entries()
    }

    fn read(&self, blob: &BlobId) -> Option<Vec<u8>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read(blob)
    }
}

#[test]
fn base_content_is_read_only_when_a_file_is_edited_or_read() {
    let mut inner = MemoryBase::new();
    for i in 0..200 {
        inner = inner.file(&format!("src/module{}/file{i}.rs", i % 10), format!("fn f{i}() {{}}\n"));
    }
    let base = Arc::new(CountingBase { inner, reads: AtomicUsize::new(0) });
    let mut tree = WorkTree::new(ReplicaId::from_u128(1), base.clone());
    assert_eq!(tree.entries().len(), 211);
    tree.rename("src/module3", "src/renamed").unwrap();
    tree.delete("src/module4").unwrap();
    tree.create_text("src/new.rs", "new").unwrap();
    assert_eq!(base.reads.load(Ordering::Relaxed), 0);
    tree.edit_text("src/renamed/file3.rs", 0, 0, "// ").unwrap();
    assert_eq!(base.reads.load(Ordering::Relaxed), 1);
    assert_eq!(tree.read_text("src/module5/file5.rs").unwrap(), "fn f5() {}\n");
    assert_eq!(base.reads.load(Ordering::Relaxed), 2);
}
