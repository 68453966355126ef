//! The protocol's test vectors (`protocol-spec/vectors/*.json`): encoded
//! messages with their decoded meaning, text-operation sequences with the
//! text they make, working-tree sequences with the tree they make, and
//! derived identities and conflict names. This test builds them from the code and fails if
//! they differ from the checked-in files (the code drifted from the spec);
//! `MEMO_WRITE_VECTORS=1 cargo test -p memo-core --test vectors` rewrites
//! the files. `protocol-spec/check.py` reads the same files from the spec
//! alone.

use memo_core::protocol::bundle::{self, BundleKey};
use memo_core::protocol::catchup::{Announcement, Request, Response};
use memo_core::protocol::objects;
use memo_core::ticket::Ticket;
use memo_core::tree::{EntryId, NewEntry, TimelineId, TreeOpKind, ValueId};
use memo_core::{encoding, IdRange, OpId, ReplicaId, TextDoc, TextOp, TextOpKind, TreeOp, VersionVector};
use serde_json::{json, Value};
use std::path::PathBuf;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn replica_hex(replica: ReplicaId) -> String {
    hex(replica.as_bytes())
}

fn id_json(id: Option<OpId>) -> Value {
    id.map_or(Value::Null, |id| json!({ "replica": replica_hex(id.replica), "seq": id.seq }))
}

fn range_json(range: &IdRange) -> Value {
    json!({ "replica": replica_hex(range.replica), "seq": range.seq, "len": range.len })
}

fn version_json(version: &VersionVector) -> Value {
    Value::Object(version.iter().map(|(replica, n)| (replica_hex(replica), n.into())).collect())
}

/// A text operation's body as JSON: `kind` and its fields.
fn text_kind_json(kind: &TextOpKind) -> Value {
    match kind {
        TextOpKind::Insert { left, right, text } => {
            json!({ "kind": "insert", "left": id_json(*left), "right": id_json(*right), "text": text.as_str() })
        }
        TextOpKind::Delete { targets } => {
            json!({ "kind": "delete", "targets": targets.iter().map(range_json).collect::<Vec<_>>() })
        }
        TextOpKind::Undo { edits, undone } => {
            json!({ "kind": "undo", "edits": edits.iter().map(range_json).collect::<Vec<_>>(), "undone": undone })
        }
        TextOpKind::Opaque { kind, units, body } => {
            json!({ "kind": "opaque", "number": kind, "units": units, "body": hex(body) })
        }
        other => panic!("no vector form for {other:?}"),
    }
}

fn with_header(id: OpId, lamport: u64, body: Value) -> Value {
    let mut out = json!({ "replica": replica_hex(id.replica), "seq": id.seq, "lamport": lamport });
    out.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    out
}

fn text_op_json(op: &TextOp) -> Value {
    with_header(op.id, op.lamport, text_kind_json(&op.kind))
}

fn entry_json(entry: &EntryId) -> Value {
    match entry {
        EntryId::Root => json!("root"),
        EntryId::Created(id) => json!({ "created": id_json(Some(*id)) }),
        EntryId::Derived(bytes) => json!({ "derived": hex(bytes) }),
    }
}

fn tree_op_json(op: &TreeOp) -> Value {
    let body = match &op.kind {
        TreeOpKind::Create { parent, name, entry } => {
            let entry = match entry {
                NewEntry::Dir { generation } => json!({ "dir": { "generation": generation } }),
                NewEntry::Text { executable } => json!({ "text": { "executable": executable } }),
                NewEntry::Binary { content, executable } => {
                    json!({ "binary": { "content": hex(content), "executable": executable } })
                }
                NewEntry::Symlink { target } => json!({ "symlink": { "target": target } }),
            };
            json!({ "kind": "create", "parent": entry_json(parent), "name": name, "entry": entry })
        }
        TreeOpKind::Move { entry, parent, name } => {
            json!({ "kind": "move", "entry": entry_json(entry), "parent": entry_json(parent), "name": name })
        }
        TreeOpKind::Delete { entry, seen } => {
            json!({ "kind": "delete_entry", "entry": entry_json(entry), "seen": version_json(seen) })
        }
        TreeOpKind::Edit { file, edit } => {
            json!({ "kind": "edit", "file": entry_json(file), "edit": text_kind_json(edit) })
        }
        TreeOpKind::SetContent { entry, content, replaces } => {
            let replaces: Vec<Value> = replaces
                .iter()
                .map(|v| match v {
                    ValueId::Base => json!("base"),
                    ValueId::Op(id) => id_json(Some(*id)),
                })
                .collect();
            json!({ "kind": "set_content", "entry": entry_json(entry), "content": hex(content), "replaces": replaces })
        }
        TreeOpKind::SetExecutable { file, executable } => {
            json!({ "kind": "set_executable", "file": entry_json(file), "executable": executable })
        }
        TreeOpKind::Commit { commit, version } => {
            json!({ "kind": "commit", "commit": hex(commit), "version": version_json(version) })
        }
        TreeOpKind::Checkout { commit, branch } => {
            json!({ "kind": "checkout", "commit": hex(commit), "branch": branch })
        }
        TreeOpKind::Opaque { kind, units, body } => {
            json!({ "kind": "opaque", "number": kind, "units": units, "body": hex(body) })
        }
    };
    let mut out = with_header(op.id, op.lamport, body);
    out["timeline"] = op.timeline.0.into();
    out
}

const A: u128 = 0x0a0a_0a0a_0a0a_4a0a_8a0a_0a0a_0a0a_0a0a;
const B: u128 = 0x0b0b_0b0b_0b0b_4b0b_8b0b_0b0b_0b0b_0b0b;

fn a() -> ReplicaId {
    ReplicaId::from_u128(A)
}

fn b() -> ReplicaId {
    ReplicaId::from_u128(B)
}

fn text_ops() -> Vec<(&'static str, TextOp)> {
    let (a, b) = (a(), b());
    let op = |replica, seq, lamport, kind| TextOp { id: OpId::new(replica, seq), lamport, kind };
    let insert = |left, right, text: &str| TextOpKind::Insert { left, right, text: text.into() };
    vec![
        ("first insert into an empty text", op(a, 0, 0, insert(None, None, "hi"))),
        ("typing on (left: the author's previous unit)", op(a, 2, 2, insert(Some(OpId::new(a, 1)), None, "!"))),
        ("insert after an own unit further back", op(a, 5, 5, insert(Some(OpId::new(a, 0)), None, "é"))),
        (
            "insert between another replica's characters (right: after left)",
            op(a, 6, 9, insert(Some(OpId::new(b, 3)), Some(OpId::new(b, 4)), "x")),
        ),
        ("insert before a base character", op(b, 0, 3, insert(None, Some(OpId::new(ReplicaId::BASE_TEXT, 7)), "ab"))),
        (
            "delete of own, other and base ranges",
            op(
                a,
                10,
                12,
                TextOpKind::Delete {
                    targets: vec![
                        IdRange::new(a, 8, 2),
                        IdRange::new(b, 0, 1),
                        IdRange::new(ReplicaId::BASE_TEXT, 4, 3),
                    ]
                    .into(),
                },
            ),
        ),
        (
            "undo of two edits",
            op(a, 13, 14, TextOpKind::Undo { edits: vec![IdRange::new(a, 0, 2), IdRange::new(b, 0, 2)], undone: true }),
        ),
        (
            "an unknown kind (kept as opaque)",
            op(b, 7, 20, TextOpKind::Opaque { kind: 9, units: 3, body: vec![1, 2, 3] }),
        ),
    ]
}

fn tree_ops() -> Vec<(&'static str, TreeOp)> {
    let (a, b) = (a(), b());
    let op = |seq, lamport, kind| TreeOp { id: OpId::new(a, seq), lamport, timeline: TimelineId::MAIN, kind };
    let dir = EntryId::Derived([0xd1; 16]);
    let file_a = EntryId::Created(OpId::new(a, 1));
    let file_b = EntryId::Created(OpId::new(b, 4));
    let version: VersionVector = [(a, 5), (b, 9)].into_iter().collect();
    vec![
        (
            "create a directory",
            op(
                0,
                0,
                TreeOpKind::Create {
                    parent: EntryId::Root,
                    name: "src".into(),
                    entry: NewEntry::Dir { generation: 0 },
                },
            ),
        ),
        (
            "create a text file",
            op(
                1,
                1,
                TreeOpKind::Create { parent: dir, name: "main.rs".into(), entry: NewEntry::Text { executable: false } },
            ),
        ),
        (
            "create a binary file",
            op(
                2,
                2,
                TreeOpKind::Create {
                    parent: EntryId::Root,
                    name: "logo.png".into(),
                    entry: NewEntry::Binary { content: vec![0x89, b'P', b'N', b'G'], executable: true },
                },
            ),
        ),
        (
            "create a symlink",
            op(
                3,
                3,
                TreeOpKind::Create {
                    parent: EntryId::Root,
                    name: "link".into(),
                    entry: NewEntry::Symlink { target: "src/main.rs".into() },
                },
            ),
        ),
        (
            "edit: insert into an own file",
            op(
                4,
                4,
                TreeOpKind::Edit {
                    file: file_a,
                    edit: TextOpKind::Insert { left: None, right: None, text: "fn main() {}\n".into() },
                },
            ),
        ),
        (
            "edit: delete in another's file",
            op(
                17,
                20,
                TreeOpKind::Edit {
                    file: file_b,
                    edit: TextOpKind::Delete { targets: vec![IdRange::new(b, 5, 2)].into() },
                },
            ),
        ),
        (
            "edit: undo",
            op(
                18,
                21,
                TreeOpKind::Edit {
                    file: file_a,
                    edit: TextOpKind::Undo { edits: vec![IdRange::new(a, 4, 13)], undone: true },
                },
            ),
        ),
        (
            "move (rename) an own file",
            op(19, 22, TreeOpKind::Move { entry: file_a, parent: EntryId::Root, name: "lib.rs".into() }),
        ),
        (
            "move another's file into a directory",
            op(20, 23, TreeOpKind::Move { entry: file_b, parent: dir, name: "b.txt".into() }),
        ),
        ("delete an entry as seen at a version", op(21, 24, TreeOpKind::Delete { entry: dir, seen: version.clone() })),
        (
            "set content, replacing the base value and two others",
            op(
                22,
                25,
                TreeOpKind::SetContent {
                    entry: EntryId::Created(OpId::new(a, 2)),
                    content: vec![1, 2, 3],
                    replaces: vec![ValueId::Base, ValueId::Op(OpId::new(a, 2)), ValueId::Op(OpId::new(b, 8))],
                },
            ),
        ),
        ("set executable", op(23, 26, TreeOpKind::SetExecutable { file: file_a, executable: true })),
        ("commit map entry", op(24, 27, TreeOpKind::Commit { commit: vec![0xc0; 20], version })),
        (
            "a checkout of a branch",
            op(26, 29, TreeOpKind::Checkout { commit: vec![0xc1; 20], branch: "feature/x".into() }),
        ),
        (
            "an unknown kind (kept as opaque)",
            op(25, 28, TreeOpKind::Opaque { kind: 40, units: 2, body: vec![0xff, 0] }),
        ),
        (
            "an edit on another timeline",
            TreeOp {
                id: OpId::new(b, 0),
                lamport: 30,
                timeline: TimelineId(3),
                kind: TreeOpKind::Edit {
                    file: file_a,
                    edit: TextOpKind::Insert {
                        left: Some(OpId::new(ReplicaId::BASE_TEXT, 2)),
                        right: None,
                        text: "y".into(),
                    },
                },
            },
        ),
    ]
}

/// Each vector file's content, by name.
fn vectors() -> Vec<(&'static str, Value)> {
    let text: Vec<Value> = text_ops()
        .into_iter()
        .map(|(name, op)| {
            let bytes = encoding::encode_op(&op);
            assert_eq!(encoding::decode_op(&bytes).unwrap(), op, "{name}");
            json!({ "name": name, "hex": hex(&bytes), "decoded": text_op_json(&op) })
        })
        .collect();
    let tree: Vec<Value> = tree_ops()
        .into_iter()
        .map(|(name, op)| {
            let bytes = op.encode();
            assert_eq!(TreeOp::decode(&bytes).unwrap(), op, "{name}");
            json!({ "name": name, "hex": hex(&bytes), "decoded": tree_op_json(&op) })
        })
        .collect();
    let ticket = Ticket {
        working_copy: [0x11; 16],
        name: "memo".into(),
        secret: [0x22; 32],
        base: vec![0x33; 20],
        addresses: vec![vec![4, 127, 0, 0, 1, 6, 0x1f, 0x90]],
    };
    let ticket_text = ticket.encode().unwrap();
    let ticket = json!([{
        "name": "a ticket with one address",
        "text": ticket_text,
        "decoded": {
            "working_copy": hex(&ticket.working_copy),
            "name": ticket.name,
            "secret": hex(&ticket.secret),
            "base": hex(&ticket.base),
            "addresses": ticket.addresses.iter().map(|a| hex(a)).collect::<Vec<_>>(),
        },
    }]);
    let have: VersionVector = [(a(), 7), (b(), 300)].into_iter().collect();
    let two_ops: Vec<Vec<u8>> = tree_ops().iter().take(2).map(|(_, op)| op.encode()).collect();
    let catchup = json!([
        { "name": "request: have", "hex": hex(&Request::Have(have.clone()).encode()),
          "decoded": { "message": "have", "version": version_json(&have) } },
        { "name": "response: ops", "hex": hex(&Response::Ops { ops: two_ops.clone(), more: true }.encode()),
          "decoded": { "message": "ops", "ops": two_ops.iter().map(|o| hex(o)).collect::<Vec<_>>(), "more": true } },
        { "name": "response: busy", "hex": hex(&Response::Busy.encode()), "decoded": { "message": "busy" } },
        { "name": "announcement", "hex": hex(&Announcement { range: IdRange::new(b(), 40, 2) }.encode()),
          "decoded": { "message": "announcement", "range": range_json(&IdRange::new(b(), 40, 2)) } },
    ]);
    // A pack's bytes are opaque here: a Git pack header of no objects.
    let (want, have) = (vec![vec![0x44; 20], vec![0x55; 32]], vec![vec![0x66; 20]]);
    let pack = b"PACK\0\0\0\x02\0\0\0\0".to_vec();
    let ids = |ids: &[Vec<u8>]| ids.iter().map(|id| hex(id)).collect::<Vec<_>>();
    let git_objects = [
        (
            "request: want and have",
            objects::Request { want: want.clone(), have: have.clone() }.encode(),
            json!({ "message": "request", "want": ids(&want), "have": ids(&have) }),
        ),
        (
            "request: nothing to leave out",
            objects::Request { want: want[..1].to_vec(), have: vec![] }.encode(),
            json!({ "message": "request", "want": ids(&want[..1]), "have": [] }),
        ),
        (
            "response: pack",
            objects::Response::Pack(pack.clone()).encode(),
            json!({ "message": "pack", "pack": hex(&pack) }),
        ),
        ("response: missing", objects::Response::Missing.encode(), json!({ "message": "missing" })),
    ];
    let git_objects: Vec<Value> = git_objects
        .into_iter()
        .map(|(name, bytes, decoded)| {
            match name.starts_with("request") {
                true => assert!(objects::Request::decode(&bytes).is_ok(), "{name}"),
                false => assert!(objects::Response::decode(&bytes).is_ok(), "{name}"),
            }
            json!({ "name": name, "hex": hex(&bytes), "decoded": decoded })
        })
        .collect();
    let secret = [0x22; 32];
    let key = BundleKey::from_secret(&secret);
    let ops: Vec<TreeOp> = tree_ops().into_iter().take(3).map(|(_, op)| op).collect();
    let bytes = bundle::encode(&[0x11; 16], &key, &ops);
    let bundle = json!([{
        "name": "a bundle of three operations",
        "working_copy": hex(&[0x11; 16]),
        "secret": hex(&secret),
        "hex": hex(&bytes),
        "decoded": { "ops": ops.iter().map(|op| hex(&op.encode())).collect::<Vec<_>>() },
    }]);
    vec![
        ("text_ops", Value::Array(text)),
        ("tree_ops", Value::Array(tree)),
        ("ticket", ticket),
        ("catchup", catchup),
        ("objects", Value::Array(git_objects)),
        ("bundle", bundle),
        ("text_sequences", Value::Array(sequences())),
        ("tree_sequences", Value::Array(tree_sequences())),
        ("derived_ids", Value::Array(derived_ids())),
    ]
}

/// Working-tree operation sequences (each after what it depends on) on an
/// empty base, and the tree they make: every shown path with its content.
fn tree_sequences() -> Vec<Value> {
    use memo_core::tree::{Content, EmptyBase, WorkTree};
    let new = |replica| WorkTree::new(replica, std::sync::Arc::new(EmptyBase));
    let mut out = Vec::new();
    let mut record = |name: &str, ops: Vec<TreeOp>| {
        let mut tree = new(ReplicaId::from_u128(0xffff));
        for op in &ops {
            tree.apply(op.clone()).unwrap();
        }
        let shown: Vec<Value> = tree
            .paths()
            .into_iter()
            .map(|path| match tree.read(&path).unwrap() {
                Content::Dir => json!({ "path": path, "kind": "dir" }),
                Content::Text(text) => json!({ "path": path, "kind": "text", "text": text }),
                Content::Binary(bytes) => json!({ "path": path, "kind": "binary", "hex": hex(&bytes) }),
                Content::Symlink(target) => json!({ "path": path, "kind": "symlink", "target": target }),
            })
            .collect();
        let ops: Vec<String> = ops.iter().map(|op| hex(&op.encode())).collect();
        out.push(json!({ "name": name, "ops": ops, "tree": shown }));
    };
    let share = |from: &WorkTree, to: &mut WorkTree| {
        for op in from.ops_since(to.version()) {
            to.apply(op).unwrap();
        }
    };

    // A rename on one replica, an edit of the same file on the other.
    let (mut x, mut y) = (new(a()), new(b()));
    let mut ops = x.create_text("notes.txt", "one\n").unwrap();
    share(&x, &mut y);
    ops.push(x.rename("notes.txt", "plan.txt").unwrap());
    ops.extend(y.edit_text("notes.txt", 4, 4, "two\n").unwrap());
    record("a rename and a concurrent edit of one file both hold", ops);

    // Both create the same name: one keeps it, the other gets a suffix.
    let (mut x, mut y) = (new(a()), new(b()));
    let mut ops = x.create_text("todo.md", "from a\n").unwrap();
    ops.extend(y.create_text("todo.md", "from b\n").unwrap());
    record("two creates of one name: the later shown with the replica's suffix", ops);

    // Moves that would make a cycle: one is skipped.
    let (mut x, mut y) = (new(a()), new(b()));
    let mut ops = vec![x.create_dir("p").unwrap(), x.create_dir("q").unwrap()];
    share(&x, &mut y);
    ops.push(x.rename("p", "q/p").unwrap());
    ops.push(y.rename("q", "p/q").unwrap());
    record("concurrent moves that would close a cycle: the later is skipped", ops);

    // A delete of a directory while a file is made inside it.
    let (mut x, mut y) = (new(a()), new(b()));
    let mut ops = vec![x.create_dir("src").unwrap()];
    share(&x, &mut y);
    ops.push(x.delete("src").unwrap());
    ops.extend(y.create_text("src/new.rs", "fn new() {}\n").unwrap());
    record("a delete removes only what its author saw: a new file keeps its directory", ops);
    out
}

/// Derived identities (tree.md): entry ids from (parent, name,
/// generation), the ids of a base snapshot's paths, base-text
/// pseudo-replicas, and the names shown for name conflicts and conflict
/// copies.
fn derived_ids() -> Vec<Value> {
    use memo_core::tree::{base_text_replica, BlobId, EmptyBase, MemoryBase, WorkTree};
    use std::sync::Arc;
    let mut out = Vec::new();
    let mut derive = |name: &str, parent: EntryId, entry_name: &str, generation: u64| {
        let id = EntryId::derive(parent, entry_name, generation);
        out.push(json!({
            "name": name, "kind": "entry", "parent": entry_json(&parent), "entry_name": entry_name,
            "generation": generation, "id": entry_json(&id),
        }));
        id
    };
    let src = derive("a directory at the top", EntryId::Root, "src", 0);
    derive("the same name made again: generation 1", EntryId::Root, "src", 1);
    let tree = derive("nested: a directory inside a derived one", src, "tree", 0);
    derive("nested twice, a name of multi-byte characters", tree, "naïve ü", 0);
    derive("under an entry created by an operation", EntryId::Created(OpId::new(a(), 7)), "x", 3);

    let base = MemoryBase::new()
        .file("README.md", "# memo\n")
        .file("core/src/lib.rs", "pub mod tree;\n")
        .symlink("core/link", "src/lib.rs")
        .dir("empty");
    let loaded = WorkTree::new(a(), Arc::new(base));
    let paths: Vec<Value> = ["README.md", "core", "core/link", "core/src", "core/src/lib.rs", "empty"]
        .iter()
        .map(|path| json!({ "path": path, "id": entry_json(&loaded.entry_at(path).unwrap()) }))
        .collect();
    out.push(json!({ "name": "the entries of a base snapshot", "kind": "base_paths", "paths": paths }));

    for (name, blob) in [
        ("a 20-byte blob id (SHA-1)", MemoryBase::blob_id(b"fn main() {}\n")),
        ("a 32-byte blob id (SHA-256)", BlobId((0..32).collect())),
        ("an empty blob id", BlobId(Vec::new())),
    ] {
        let replica = base_text_replica(&blob);
        out.push(json!({ "name": name, "kind": "base_text", "blob": hex(&blob.0), "replica": replica_hex(replica) }));
    }

    // Name conflicts: creates of binary files in the top directory, each
    // with the (Lamport, replica) it was made with, and concurrent
    // set-contents (each replacing the first value) that leave conflict
    // copies; the names every replica shows.
    type Child<'a> = (&'a str, u64, ReplicaId, Vec<(u64, ReplicaId)>);
    let c = || ReplicaId::from_u128(0x0b0b_0b0b_ffff_4fff_8fff_ffff_ffff_ffff);
    let cases: Vec<(&str, Vec<Child<'_>>)> = vec![
        (
            "two creates of one name: the greater stamp is renamed",
            vec![("report.txt", 1, a(), vec![]), ("report.txt", 1, b(), vec![])],
        ),
        ("the Lamport stamp orders before the replica", vec![("x.rs", 2, a(), vec![]), ("x.rs", 1, b(), vec![])]),
        (
            "no extension, a leading dot, two dots",
            vec![
                ("Makefile", 1, a(), vec![]),
                ("Makefile", 2, b(), vec![]),
                (".bashrc", 3, a(), vec![]),
                (".bashrc", 4, b(), vec![]),
                ("archive.tar.gz", 5, a(), vec![]),
                ("archive.tar.gz", 6, b(), vec![]),
            ],
        ),
        (
            "a conflict name already taken gets -2, -3",
            vec![
                ("a.txt", 1, a(), vec![]),
                ("a.txt", 2, b(), vec![]),
                ("a.txt", 3, c(), vec![]),
                ("a~0b0b0b0b.txt", 4, a(), vec![]),
            ],
        ),
        (
            "concurrent contents of a binary file: conflict copies beside it",
            vec![("logo.png", 1, b(), vec![]), ("logo.png", 1, a(), vec![(2, a()), (2, b()), (3, c())])],
        ),
    ];
    for (name, children) in cases {
        let mut tree = WorkTree::new(ReplicaId::from_u128(0xffff), Arc::new(EmptyBase));
        let mut next: std::collections::HashMap<ReplicaId, u64> = Default::default();
        let mut op = |replica: ReplicaId, lamport: u64, kind: TreeOpKind| {
            let seq = next.entry(replica).or_insert(0);
            *seq += 1;
            TreeOp { id: OpId::new(replica, *seq - 1), lamport, timeline: TimelineId::MAIN, kind }
        };
        let mut made = Vec::new();
        for (i, (file, lamport, replica, values)) in children.iter().enumerate() {
            let entry = NewEntry::Binary { content: vec![i as u8], executable: false };
            let create =
                op(*replica, *lamport, TreeOpKind::Create { parent: EntryId::Root, name: file.to_string(), entry });
            tree.apply(create.clone()).unwrap();
            for (k, &(lamport, replica)) in values.iter().enumerate() {
                let content = vec![i as u8, k as u8 + 1];
                let replaces = vec![ValueId::Op(create.id)];
                let kind = TreeOpKind::SetContent { entry: EntryId::Created(create.id), content, replaces };
                tree.apply(op(replica, lamport, kind)).unwrap();
            }
            made.push(create.id);
        }
        let mut json_children = Vec::new();
        for (i, (file, lamport, replica, values)) in children.iter().enumerate() {
            let shown = tree.path_of(EntryId::Created(made[i])).unwrap();
            let mut copies = Vec::new();
            for path in tree.paths() {
                if let Ok(memo_core::tree::Content::Binary(bytes)) = tree.read(&path) {
                    if bytes.len() == 2 && bytes[0] == i as u8 && path != shown {
                        copies.push(json!({ "value": bytes[1] - 1, "shown": path }));
                    }
                }
            }
            let values: Vec<Value> = values
                .iter()
                .map(|(lamport, replica)| json!({ "lamport": lamport, "replica": replica_hex(*replica) }))
                .collect();
            json_children.push(json!({
                "name": file, "lamport": lamport, "replica": replica_hex(*replica), "values": values,
                "shown": shown, "copies": copies,
            }));
        }
        out.push(json!({ "name": name, "kind": "conflict", "children": json_children }));
    }
    out
}

/// Operation sequences (in an order every replica may receive them: each
/// after what it depends on) and the text they make.
fn sequences() -> Vec<Value> {
    let mut out = Vec::new();
    let mut record = |name: &str, ops: Vec<TextOp>| {
        let mut doc = TextDoc::new(ReplicaId::from_u128(0xffff));
        for op in &ops {
            doc.apply(op.clone()).unwrap();
        }
        let ops: Vec<String> = ops.iter().map(|op| hex(&encoding::encode_op(op))).collect();
        out.push(json!({ "name": name, "ops": ops, "text": doc.text() }));
    };

    let mut one = TextDoc::new(a());
    let mut ops = vec![one.insert(0, "hello").unwrap(), one.insert(5, " world").unwrap()];
    ops.push(one.delete(0, 6).unwrap().unwrap());
    ops.push(one.insert(5, "!").unwrap());
    ops.push(one.insert(0, "¡").unwrap());
    record("one author types, deletes and types again", ops);

    let (mut x, mut y) = (TextDoc::new(a()), TextDoc::new(b()));
    let (from_x, from_y) = (x.insert(0, "abc").unwrap(), y.insert(0, "xyz").unwrap());
    record("two replicas type at the start of an empty text at once", vec![from_x.clone(), from_y.clone()]);
    record("the same, received the other way round", vec![from_y, from_x]);

    let (mut x, mut y) = (TextDoc::new(a()), TextDoc::new(b()));
    let shared = x.insert(0, "ac").unwrap();
    y.apply(shared.clone()).unwrap();
    let mut ops = vec![shared];
    for (i, c) in "111".chars().enumerate() {
        ops.push(x.insert(1 + i, &c.to_string()).unwrap());
    }
    for (i, c) in "222".chars().enumerate() {
        ops.push(y.insert(1 + i, &c.to_string()).unwrap());
    }
    ops.push(y.delete(4, 5).unwrap().unwrap());
    record("concurrent runs typed between the same two characters are not interleaved", ops);

    let (mut x, mut y) = (TextDoc::new(a()), TextDoc::new(b()));
    let shared = x.insert(0, "base").unwrap();
    y.apply(shared.clone()).unwrap();
    let mut ops = vec![shared];
    for i in 0..3 {
        ops.push(x.insert(4 - i, "<").unwrap());
    }
    let deleted = y.delete(1, 3).unwrap().unwrap();
    let typed = y.insert(1, "x").unwrap();
    ops.extend([deleted, typed]);
    record("typing backwards while another deletes and types", ops);

    // Undo and redo: per unit, the latest (Lamport, replica) stamp decides.
    let (mut x, mut y) = (TextDoc::new(a()), TextDoc::new(b()));
    let typed = x.insert(0, "hello world").unwrap();
    y.apply(typed.clone()).unwrap();
    let deleted = y.delete(0, 6).unwrap().unwrap();
    x.apply(deleted.clone()).unwrap();
    let (undo_x, _) = x.undo(&[deleted.range()]).unwrap();
    let (undo_y, _) = y.undo(&[deleted.range()]).unwrap();
    let mut ops = vec![typed.clone(), deleted.clone(), undo_x.clone(), undo_y.clone()];
    record("two concurrent undos of one delete both leave it undone", ops.clone());
    x.apply(undo_y).unwrap();
    y.apply(undo_x).unwrap();
    let (redo, _) = x.redo(&[deleted.range()]).unwrap();
    let bang = x.insert(5, "!").unwrap();
    y.apply(redo.clone()).unwrap();
    y.apply(bang.clone()).unwrap();
    let (undo_bang, _) = y.undo(&[bang.range()]).unwrap();
    ops.extend([redo, bang, undo_bang]);
    record("a redo after both undos deletes again; an undone insert hides its text", ops);

    let (mut x, mut y) = (TextDoc::new(a()), TextDoc::new(b()));
    let typed = x.insert(0, "hello world").unwrap();
    y.apply(typed.clone()).unwrap();
    let (part, _) = y.undo(&[IdRange::new(a(), 0, 5)]).unwrap();
    x.apply(part.clone()).unwrap();
    let (undo_undo, _) = x.undo(&[part.range()]).unwrap();
    record("an undo of part of an insert; an undo of an undo changes nothing", vec![typed, part, undo_undo]);
    out
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../protocol-spec/vectors")
}

#[test]
fn the_checked_in_vectors_are_what_the_code_makes() {
    let write = std::env::var_os("MEMO_WRITE_VECTORS").is_some();
    for (name, value) in vectors() {
        let path = dir().join(format!("{name}.json"));
        let text = format!("{}\n", serde_json::to_string_pretty(&value).unwrap());
        if write {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let checked_in = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (MEMO_WRITE_VECTORS=1 writes it)", path.display()));
        assert!(
            checked_in == text,
            "{} differs from what the code makes now: the encoding drifted from the spec. If the change is \
             meant, update protocol-spec/ and rerun with MEMO_WRITE_VECTORS=1",
            path.display()
        );
    }
}
