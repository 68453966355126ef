//! A hostile peer against the working copy on disk (MISSION rule 6):
//! operations crafted by hand with names that climb out of the working
//! copy, reach into `.git/`, or write through a link. Nothing outside the
//! working copy changes, and the node keeps running.

mod disk_common;

use disk_common::{listing, pair, sync, Node};
use memo_core::tree::{EntryId, NewEntry, TimelineId, TreeOpKind, ValueId};
use memo_core::{OpId, ReplicaId, TreeOp};
use std::collections::BTreeMap;
use std::path::Path;

/// A peer's operations, numbered in its own sequence. (A refused operation
/// leaves a gap in its author's sequence, so its later operations wait for
/// ever: each group of operations comes from a peer of its own.)
struct Peer {
    id: ReplicaId,
    next: u64,
}

impl Peer {
    fn new(n: u128) -> Peer {
        Peer { id: ReplicaId::from_u128(0xbad0 + n), next: 0 }
    }

    fn op(&mut self, kind: TreeOpKind) -> TreeOp {
        let op =
            TreeOp { id: OpId::new(self.id, self.next), lamport: 1000 + self.next, timeline: TimelineId::MAIN, kind };
        self.next += 1;
        op
    }

    fn create(&mut self, parent: EntryId, name: &str, entry: NewEntry) -> TreeOp {
        self.op(TreeOpKind::Create { parent, name: name.into(), entry })
    }
}

fn file(content: &str) -> NewEntry {
    NewEntry::Binary { content: content.as_bytes().to_vec(), executable: false }
}

/// Everything under `dir`, to compare before and after.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    listing(dir)
}

#[test]
fn remote_path_traversal_leaves_everything_outside_untouched() {
    let (mut a, mut b) = pair();
    a.write("ok.txt", "fine\n");
    sync(&mut a, &mut b);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), "untouched").unwrap();
    let before = snapshot(outside.path());
    let git_hooks = b.path(".git/hooks");
    let hooks_before = snapshot(&git_hooks);

    let mut peer = Peer::new(0);
    let outside_name = outside.path().join("x").display().to_string();
    let hostile = [
        peer.create(EntryId::Root, "../x", file("climb")),
        peer.create(EntryId::Root, &outside_name, file("absolute")),
        peer.create(EntryId::Root, "/etc/x", file("absolute")),
        peer.create(EntryId::Root, ".git", NewEntry::Dir { generation: 0 }),
        peer.create(EntryId::Root, ".GIT", NewEntry::Dir { generation: 0 }),
        peer.create(EntryId::Root, "a\0b", file("nul")),
        peer.create(EntryId::Root, "..", file("dots")),
    ];
    for op in &hostile {
        assert!(b.replica.receive(op.clone()).is_err(), "{op:?} must be refused");
    }
    // Inside a `.git` the tree never made: waits for its parent, for ever.
    let mut peer = Peer::new(1);
    let hooks = peer.create(EntryId::derive(EntryId::Root, ".git", 0), "hooks", NewEntry::Dir { generation: 0 });
    b.receive(&[hooks]);
    let mut peer = Peer::new(2);
    // Names the core takes but this disk must not write.
    let odd = [
        peer.create(EntryId::Root, "line\nbreak", file("control")),
        peer.create(EntryId::Root, ".memo-write-x", file("ours")),
    ];
    assert!(b.receive(&odd).is_empty());
    assert!(!b.path("line\nbreak").exists() && !b.path(".memo-write-x").exists());

    // The node keeps running: a later, honest operation is written.
    let honest = peer.create(EntryId::Root, "later.txt", file("still running"));
    b.receive(&[honest]);
    assert_eq!(b.read("later.txt"), "still running");
    assert_eq!(snapshot(outside.path()), before);
    assert_eq!(snapshot(&git_hooks), hooks_before);
    assert!(!b.path(".git/hooks/post-checkout").exists());
}

#[test]
fn a_symlink_from_a_peer_is_written_as_a_link_and_never_followed() {
    let (mut a, mut b) = pair();
    sync(&mut a, &mut b);
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim"), "untouched").unwrap();
    let before = snapshot(outside.path());

    let mut peer = Peer::new(0);
    let target = outside.path().display().to_string();
    let link = peer.create(EntryId::Root, "out", NewEntry::Symlink { target: target.clone() });
    let link_id = EntryId::Created(link.id);
    b.receive(std::slice::from_ref(&link));
    assert_eq!(std::fs::read_link(b.path("out")).unwrap().display().to_string(), target);

    // A write "through" the link: a create inside it is refused by the tree.
    let mut other = Peer::new(1);
    let through = other.create(link_id, "victim", file("overwritten"));
    assert!(b.replica.receive(through.clone()).is_err());
    b.receive(&[through]);
    // Retargeting the link changes the link, not what it points at.
    let victim = outside.path().join("victim").display().to_string();
    let retarget = peer.op(TreeOpKind::SetContent {
        entry: link_id,
        content: victim.clone().into_bytes(),
        replaces: vec![ValueId::Op(link.id)],
    });
    b.receive(&[retarget]);
    assert_eq!(std::fs::read_link(b.path("out")).unwrap().display().to_string(), victim);
    assert_eq!(snapshot(outside.path()), before);

    // The user replaces a replicated directory with a link to the outside;
    // a peer's file for that directory must not land outside.
    let dir = peer.create(EntryId::Root, "d", NewEntry::Dir { generation: 0 });
    let dir_id = EntryId::derive(EntryId::Root, "d", 0);
    b.receive(&[dir]);
    std::fs::remove_dir(b.path("d")).unwrap();
    std::os::unix::fs::symlink(outside.path(), b.path("d")).unwrap();
    let inside = peer.create(dir_id, "victim", file("overwritten"));
    b.receive(&[inside]);
    assert_eq!(snapshot(outside.path()), before);
    assert!(b.rescan().iter().all(|op| !matches!(op.kind, TreeOpKind::Opaque { .. })));
}

#[test]
fn a_node_on_a_fresh_directory_writes_nothing_outside_it() {
    let mut b = Node::new(memo_node::disk::DiskConfig::default().without_settle());
    let parent = b.dir.path().parent().unwrap().to_path_buf();
    let siblings_before: Vec<_> =
        std::fs::read_dir(&parent).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    let mut peer = Peer::new(0);
    let ops = [peer.create(EntryId::Root, "x..", file("dots in a name are fine"))];
    b.receive(&ops);
    assert_eq!(b.read("x.."), "dots in a name are fine");
    let siblings_after: Vec<_> =
        std::fs::read_dir(&parent).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    for name in &siblings_after {
        let name = name.to_string_lossy();
        assert!(!name.starts_with("x.."), "{name} written outside the working copy");
    }
    drop(siblings_before);
}
