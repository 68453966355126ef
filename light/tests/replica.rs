//! The light client's API, natively: the virtual file system, bundles with
//! a native replica, and the binding's pointer-free helpers.

use memo_core::protocol::bundle::{self, BundleError, BundleKey};
use memo_core::tree::{EmptyBase, MemoryBase, TreeError};
use memo_core::{ReplicaId, TreeOp, WorkTree};
use memo_light::{abi, Applied, BaseFile, Encoding, LightError, LightReplica};
use std::sync::Arc;

const WC: [u8; 16] = [5; 16];
const SECRET: [u8; 32] = [6; 32];

fn light(base: Vec<BaseFile>) -> LightReplica {
    LightReplica::new(WC, SECRET, ReplicaId::from_u128(2), base)
}

fn key() -> BundleKey {
    BundleKey::from_secret(&SECRET)
}

fn sealed(ops: &[TreeOp]) -> Vec<u8> {
    bundle::encode(&WC, &key(), ops)
}

fn unsealed(bytes: &[u8]) -> Vec<TreeOp> {
    bundle::decode(bytes, &WC, &key()).unwrap()
}

#[test]
fn open_read_edit_and_list_make_a_file_system() {
    let mut light = light(Vec::new());
    assert_eq!(light.open("a/b/empty.txt").unwrap(), "");
    assert_eq!(light.list(), ["a", "a/b", "a/b/empty.txt"]);
    light.edit("a/notes.txt", 0, 0, "héllo").unwrap();
    light.edit("a/notes.txt", 5, 5, " world").unwrap();
    light.edit("a/notes.txt", 0, 1, "H").unwrap();
    assert_eq!(light.read("a/notes.txt").unwrap(), "Héllo world");
    // UTF-16 offsets: the emoji counts two units.
    light.edit_in("a/notes.txt", 0, 0, "😀", Encoding::Utf16).unwrap();
    light.edit_in("a/notes.txt", 2, 3, "h", Encoding::Utf16).unwrap();
    assert_eq!(light.read("a/notes.txt").unwrap(), "😀héllo world");
    assert!(matches!(light.edit_in("a/notes.txt", 99, 99, "x", Encoding::Utf16), Err(LightError::Offset { .. })));

    // A failed call makes nothing.
    let before = light.list();
    assert!(matches!(light.read("missing.txt"), Err(LightError::Tree(TreeError::NotFound(_)))));
    assert!(matches!(light.edit("new/x.txt", 1, 1, "x"), Err(LightError::Offset { .. })));
    assert!(light.edit("new/../x.txt", 0, 0, "x").is_err());
    assert!(light.edit("a/notes.txt/x", 0, 0, "x").is_err());
    assert!(light.open("a").is_err(), "a directory is not a text");
    assert_eq!(light.list(), before);
    assert!(light.version_bytes().len() == 24, "one replica: {:?}", light.version_bytes());
}

#[test]
fn bundles_merge_concurrent_edits_with_a_native_replica() {
    let mut native = WorkTree::new(ReplicaId::from_u128(1), Arc::new(EmptyBase));
    let ops = native.create_text("doc.txt", "one two").unwrap();
    let mut light = light(Vec::new());
    let report = light.apply_bundle(&sealed(&ops)).unwrap();
    assert_eq!(report, Applied { operations: 2, known: 0, applied: 2, refused: 0, waiting: 0 });
    assert_eq!(light.apply_bundle(&sealed(&ops)).unwrap().known, 2, "taken twice: nothing changes");

    // Concurrent edits on both sides.
    let seen = native.version().clone();
    native.edit_text("doc.txt", 3, 3, " and a half").unwrap();
    light.edit("doc.txt", 0, 0, "zero ").unwrap();
    light.edit("other.txt", 0, 0, "light").unwrap();

    let mine = unsealed(&light.take_bundle());
    assert!(!mine.is_empty() && mine.iter().all(|op| op.id.replica == ReplicaId::from_u128(2)), "only what it lacks");
    assert!(unsealed(&light.take_bundle()).is_empty(), "taken already");
    light.apply_bundle(&sealed(&native.ops_since(&seen))).unwrap();
    for op in mine {
        native.apply(op).unwrap();
    }
    assert_eq!(light.read("doc.txt").unwrap(), "zero one and a half two");
    assert_eq!(native.read_text("doc.txt").unwrap(), light.read("doc.txt").unwrap());
    assert_eq!(native.paths(), light.list());
    assert!(unsealed(&light.take_bundle()).is_empty(), "what came from the other side is not sent back");

    // Since a version: what a third replica that holds nothing lacks.
    let mut third = WorkTree::new(ReplicaId::from_u128(3), Arc::new(EmptyBase));
    for op in unsealed(&light.take_bundle_since(&[]).unwrap()) {
        third.apply(op).unwrap();
    }
    assert_eq!(third.paths(), native.paths());
    assert!(unsealed(&light.take_bundle_since(&light.version_bytes()).unwrap()).is_empty());
    assert_eq!(light.take_bundle_since(&[1, 2, 3]), Err(LightError::Version));
}

#[test]
fn a_base_given_as_files_is_the_one_the_native_replica_stands_on() {
    let native_base = MemoryBase::new().file("src/main.rs", "fn main() {}\n");
    let mut native = WorkTree::new(ReplicaId::from_u128(1), Arc::new(native_base));
    let files = vec![BaseFile { path: "src/main.rs".into(), blob: None, content: b"fn main() {}\n".to_vec() }];
    let mut light = light(files);
    assert_eq!(light.list(), ["src", "src/main.rs"]);
    assert_eq!(light.read("src/main.rs").unwrap(), "fn main() {}\n");
    let edit = native.edit_text("src/main.rs", 0, 0, "// native\n").unwrap();
    light.edit("src/main.rs", 12, 12, " /* light */").unwrap();
    light.apply_bundle(&sealed(&edit)).unwrap();
    for op in unsealed(&light.take_bundle()) {
        native.apply(op).unwrap();
    }
    assert_eq!(light.read("src/main.rs").unwrap(), "// native\nfn main() {} /* light */\n");
    assert_eq!(native.read_text("src/main.rs").unwrap(), light.read("src/main.rs").unwrap());
}

#[test]
fn foreign_forged_and_damaged_bundles_are_refused_whole() {
    let mut native = WorkTree::new(ReplicaId::from_u128(1), Arc::new(EmptyBase));
    let ops = native.create_text("doc.txt", "secret").unwrap();
    let mut light = light(Vec::new());
    let foreign = bundle::encode(&[9; 16], &key(), &ops);
    assert!(matches!(light.apply_bundle(&foreign), Err(LightError::Bundle(BundleError::ForeignWorkingCopy { .. }))));
    let forged = bundle::encode(&WC, &BundleKey::from_secret(&[0; 32]), &ops);
    assert_eq!(light.apply_bundle(&forged), Err(LightError::Bundle(BundleError::Unauthenticated)));
    let mut damaged = sealed(&ops);
    let middle = damaged.len() / 2;
    damaged[middle] ^= 1;
    assert_eq!(light.apply_bundle(&damaged), Err(LightError::Bundle(BundleError::Unauthenticated)));
    assert!(light.list().is_empty(), "nothing of a refused bundle was taken");
    assert!(unsealed(&light.take_bundle()).is_empty(), "and the other side is not taken to hold it");
}

#[test]
fn a_ticket_names_the_working_copy() {
    let ticket = memo_core::ticket::Ticket {
        working_copy: WC,
        name: "wc".into(),
        secret: SECRET,
        base: vec![],
        addresses: vec![],
    };
    let mut light = LightReplica::from_ticket(&ticket.encode().unwrap(), ReplicaId::from_u128(2), vec![]).unwrap();
    light.edit("a.txt", 0, 0, "x").unwrap();
    assert_eq!(unsealed(&light.take_bundle()).len(), 2);
    assert!(matches!(LightReplica::from_ticket("nope", ReplicaId::from_u128(2), vec![]), Err(LightError::Ticket(_))));
}

#[test]
fn the_binding_reads_base_files_and_writes_json() {
    let mut bytes = Vec::new();
    for field in [&b"a/b.txt"[..], b"", b"hi", b"c", &[1; 20], b"\0bin"] {
        bytes.extend_from_slice(&(field.len() as u32).to_le_bytes());
        bytes.extend_from_slice(field);
    }
    let files = abi::decode_base(&bytes).unwrap();
    assert_eq!(files[0], BaseFile { path: "a/b.txt".into(), blob: None, content: b"hi".to_vec() });
    assert_eq!(files[1], BaseFile { path: "c".into(), blob: Some(vec![1; 20]), content: b"\0bin".to_vec() });
    assert!(abi::decode_base(&bytes[..bytes.len() - 1]).is_err());
    assert_eq!(abi::decode_base(&[]).unwrap(), vec![]);
    assert_eq!(abi::json_strings(&["a\"b\\c\n\u{1}é".into(), "d".into()]), r#"["a\"b\\c\n\u0001é","d"]"#);
    assert_eq!(abi::json_strings(&[]), "[]");
}
