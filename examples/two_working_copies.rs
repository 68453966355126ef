//! Two replicas of one working copy, both starting from the same commit,
//! work offline: one renames a directory while the other edits a file in
//! it, both create a file of the same name, both `mkdir` the same
//! directory, and one deletes a file the other edits. They exchange their
//! operations in the worst order (reversed) and end with the same tree:
//! nothing lost, no cycle, deterministic names.
//!
//! Run it with `cargo run -p memo-examples --example two_working_copies`.

use memo_core::tree::{MemoryBase, TreeOp, WorkTree};
use memo_core::ReplicaId;
use std::sync::Arc;

fn main() {
    // The commit both start from: its content is never sent.
    let base = Arc::new(
        MemoryBase::new()
            .file("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n")
            .file("src/util.rs", "pub fn helper() {}\n")
            .file("README.md", "# Demo\n"),
    );
    let mut alice = WorkTree::new(ReplicaId::from_u128(0xa11ce000_0000_4000_8000_000000000001), base.clone());
    let mut bob = WorkTree::new(ReplicaId::from_u128(0xb0b00000_0000_4000_8000_000000000002), base);
    show("both start from", &alice);

    let mut from_alice: Vec<TreeOp> = Vec::new();
    from_alice.push(alice.rename("src", "app").unwrap());
    from_alice.extend(alice.create_text("NOTES.md", "alice's notes\n").unwrap());
    from_alice.push(alice.create_dir("docs").unwrap());
    from_alice.extend(alice.create_text("docs/guide.md", "by alice\n").unwrap());
    from_alice.push(alice.delete("app/util.rs").unwrap());

    let mut from_bob: Vec<TreeOp> = Vec::new();
    from_bob.extend(bob.edit_text("src/main.rs", 16, 34, "println!(\"hello, Memo\");").unwrap());
    from_bob.extend(bob.create_text("NOTES.md", "bob's notes\n").unwrap());
    from_bob.push(bob.create_dir("docs").unwrap());
    from_bob.extend(bob.create_text("docs/api.md", "by bob\n").unwrap());
    from_bob.extend(bob.edit_text("src/util.rs", 0, 0, "// still needed\n").unwrap());
    show("alice, offline", &alice);
    show("bob, offline", &bob);

    let bytes: usize = from_alice.iter().chain(&from_bob).map(|op| op.encode().len()).sum();
    println!("{} operations, {bytes} bytes on the wire", from_alice.len() + from_bob.len());
    for op in from_bob.into_iter().rev() {
        alice.apply(op).unwrap();
    }
    for op in from_alice.into_iter().rev() {
        bob.apply(op).unwrap();
    }
    show("alice, merged", &alice);
    show("bob, merged", &bob);
    assert_eq!(alice.paths(), bob.paths());
    println!("app/main.rs:\n{}", alice.read_text("app/main.rs").unwrap());
}

fn show(who: &str, tree: &WorkTree) {
    println!("{who}:");
    for entry in tree.entries() {
        println!("    {:<28} {:?}", entry.path, entry.status);
    }
}
