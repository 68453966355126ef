//! The working-copy scenarios of MISSION.md (1-7 and 16) at the core level,
//! and the tree's policies: two or three replicas, explicit delivery orders.

use memo_core::tree::{Content, EntryKind, MemoryBase, Status, TreeApplyError, TreeError, TreeOp, WorkTree};
use memo_core::{ReplicaId, VersionVector};
use std::sync::Arc;

fn replica(n: u128) -> ReplicaId {
    ReplicaId::from_u128(n << 64 | 0x4000_8000_0000_0000)
}

fn tree(n: u128, base: &Arc<MemoryBase>) -> WorkTree {
    WorkTree::new(replica(n), base.clone())
}

fn base() -> Arc<MemoryBase> {
    Arc::new(
        MemoryBase::new()
            .file("d/f.txt", "line one\nline two\n")
            .file("x", "x content\n")
            .file("README.md", "# Project\n")
            .dir("a")
            .dir("b"),
    )
}

/// Delivers what `to` lacks from `from`, in reverse order (the worst order:
/// everything but the last waits).
fn deliver(from: &WorkTree, to: &mut WorkTree) {
    for op in from.ops_since(to.version()).into_iter().rev() {
        to.apply(op).expect("a valid operation");
    }
    assert!(to.waiting().is_empty(), "{:?}", to.waiting());
}

fn sync(trees: &mut [&mut WorkTree]) {
    for i in 0..trees.len() {
        for j in 0..trees.len() {
            if i != j {
                let from = &*trees[i];
                let ops = from.ops_since(trees[j].version());
                for op in ops.into_iter().rev() {
                    trees[j].apply(op).expect("a valid operation");
                }
            }
        }
    }
    for t in trees.iter() {
        assert!(t.waiting().is_empty());
    }
    assert_same(trees);
}

/// Same paths, kinds, statuses and contents everywhere.
fn assert_same(trees: &[&mut WorkTree]) {
    let first = snapshot(trees[0]);
    for t in &trees[1..] {
        assert_eq!(snapshot(t), first);
    }
}

fn snapshot(t: &WorkTree) -> Vec<(String, EntryKind, Status, Option<Content>)> {
    t.entries()
        .into_iter()
        .map(|e| {
            let content = (e.status != Status::Deleted).then(|| t.read(&e.path).unwrap());
            (e.path, e.kind, e.status, content)
        })
        .collect()
}

#[test]
fn scenario_1_rename_of_a_directory_while_a_peer_edits_inside() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.rename("d", "e").unwrap();
    b.edit_text("d/f.txt", 0, 0, "B was here\n").unwrap();
    sync(&mut [&mut a, &mut b]);
    assert_eq!(a.read_text("e/f.txt").unwrap(), "B was here\nline one\nline two\n");
    assert!(a.entry_at("d").is_none());
}

#[test]
fn scenario_2_both_create_one_name_and_both_contents_survive() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.create_text("x.txt", "from A\n").unwrap();
    b.create_text("x.txt", "from B\n").unwrap();
    sync(&mut [&mut a, &mut b]);
    let names: Vec<String> = a.paths().into_iter().filter(|p| p.starts_with("x")).collect();
    assert_eq!(names.len(), 3, "{names:?}"); // x, x.txt and its conflict copy
    let texts: Vec<String> = names.iter().filter(|p| p.ends_with(".txt")).map(|p| a.read_text(p).unwrap()).collect();
    assert!(texts.contains(&"from A\n".to_string()) && texts.contains(&"from B\n".to_string()));
    // The one created first (A: smaller replica id at the same Lamport) keeps the name.
    assert_eq!(a.read_text("x.txt").unwrap(), "from A\n");
    assert!(names.iter().any(|p| p.starts_with("x~") && p.ends_with(".txt")), "{names:?}");
}

#[test]
fn scenario_3_both_mkdir_one_name_and_get_one_directory() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.create_dir("n").unwrap();
    a.create_dir("n/m").unwrap();
    a.create_text("n/m/from_a", "a").unwrap();
    b.create_dir("n").unwrap();
    b.create_dir("n/m").unwrap();
    b.create_text("n/m/from_b", "b").unwrap();
    sync(&mut [&mut a, &mut b]);
    let under_n: Vec<String> = a.paths().into_iter().filter(|p| p.starts_with('n')).collect();
    assert_eq!(under_n, ["n", "n/m", "n/m/from_a", "n/m/from_b"]);
}

#[test]
fn scenario_4_two_moves_of_one_file_end_in_one_place() {
    let base = base();
    let (mut a, mut b, mut c) = (tree(1, &base), tree(2, &base), tree(3, &base));
    a.rename("x", "a/x").unwrap();
    b.rename("x", "b/x").unwrap();
    sync(&mut [&mut a, &mut b, &mut c]);
    let xs: Vec<String> = a.paths().into_iter().filter(|p| p.ends_with('x')).collect();
    assert_eq!(xs.len(), 1, "{xs:?}");
    // The later stamp wins; at equal Lamport stamps the greater replica id.
    assert_eq!(xs[0], "b/x");
}

#[test]
fn scenario_5_moves_into_each_other_make_no_cycle_and_lose_nothing() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.create_text("a/in_a", "1").unwrap();
    b.create_text("b/in_b", "2").unwrap();
    sync(&mut [&mut a, &mut b]);
    a.rename("a", "b/a").unwrap();
    b.rename("b", "a/b").unwrap();
    sync(&mut [&mut a, &mut b]);
    let paths = a.paths();
    // B's move has the greater stamp, but applying it after A's would make
    // a cycle, so it has no effect: a is inside b, both reachable.
    assert!(paths.contains(&"b/a/in_a".to_string()), "{paths:?}");
    assert!(paths.contains(&"b/in_b".to_string()), "{paths:?}");
}

#[test]
fn scenario_6_delete_of_a_directory_against_an_edit_inside() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.delete("d").unwrap();
    b.edit_text("d/f.txt", 0, 0, "kept\n").unwrap();
    sync(&mut [&mut a, &mut b]);
    assert_eq!(a.read_text("d/f.txt").unwrap(), "kept\nline one\nline two\n");
    // After a delete that saw the edit, it goes.
    a.delete("d").unwrap();
    sync(&mut [&mut a, &mut b]);
    assert!(a.entry_at("d").is_none());
    let deleted: Vec<String> =
        a.entries().into_iter().filter(|e| e.status == Status::Deleted).map(|e| e.path).collect();
    assert_eq!(deleted, ["d", "d/f.txt"]);
}

#[test]
fn scenario_7_both_edit_one_file() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.edit_text("d/f.txt", 0, 0, "top ").unwrap();
    b.edit_text("d/f.txt", 18, 18, "bottom\n").unwrap();
    sync(&mut [&mut a, &mut b]);
    assert_eq!(a.read_text("d/f.txt").unwrap(), "top line one\nline two\nbottom\n");
    // The same place: both insertions, not interleaved.
    a.edit_text("d/f.txt", 0, 0, "AAAA").unwrap();
    b.edit_text("d/f.txt", 0, 0, "BBBB").unwrap();
    sync(&mut [&mut a, &mut b]);
    let text = a.read_text("d/f.txt").unwrap();
    assert!(text.starts_with("AAAABBBB") || text.starts_with("BBBBAAAA"), "{text}");
}

#[test]
fn scenario_16_long_offline_period_with_renames_on_both_sides() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    for i in 0..30 {
        a.create_text(&format!("a/note{i}"), &format!("a {i}\n")).unwrap();
        a.edit_text("README.md", 0, 0, &format!("a{i} ")).unwrap();
        b.create_text(&format!("b/note{i}"), &format!("b {i}\n")).unwrap();
        b.edit_text("README.md", 10, 10, &format!(" b{i}")).unwrap();
    }
    a.rename("a", "docs").unwrap();
    a.rename("docs/note3", "moved3").unwrap();
    b.rename("b", "src").unwrap();
    b.rename("x", "src/x").unwrap();
    b.rename("d/f.txt", "src/f.txt").unwrap();
    a.edit_text("d/f.txt", 0, 0, "offline edit\n").unwrap();
    sync(&mut [&mut a, &mut b]);
    assert_eq!(a.read_text("src/f.txt").unwrap(), "offline edit\nline one\nline two\n");
    assert_eq!(a.read_text("moved3").unwrap(), "a 3\n");
    assert_eq!(a.read_text("src/note29").unwrap(), "b 29\n");
    // A third replica that rejoins from scratch replays everything.
    let mut c = tree(3, &base);
    deliver(&a, &mut c);
    assert_same(&[&mut a, &mut c]);
}

#[test]
fn delete_against_rename_keeps_the_renamed_file() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.delete("x").unwrap();
    b.rename("x", "y").unwrap();
    sync(&mut [&mut a, &mut b]);
    assert_eq!(a.read_text("y").unwrap(), "x content\n");
}

#[test]
fn a_file_created_in_a_directory_being_deleted_stays_with_its_directory() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.delete("d").unwrap();
    b.create_text("d/new.txt", "new\n").unwrap();
    sync(&mut [&mut a, &mut b]);
    let under_d: Vec<String> = a.paths().into_iter().filter(|p| p.starts_with("d")).collect();
    assert_eq!(under_d, ["d", "d/new.txt"]); // f.txt, which A saw, is gone
}

#[test]
fn same_name_creates_settle_in_one_round_of_lock_step_delivery() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    let from_a = a.create_binary("same", b"A".to_vec(), false).unwrap();
    let from_b = b.create_binary("same", b"B".to_vec(), false).unwrap();
    a.apply(from_b).unwrap();
    b.apply(from_a).unwrap();
    assert_same(&[&mut a, &mut b]);
    // Nothing more to send: the view settled without fix-up operations.
    let (va, vb) = (a.version().clone(), b.version().clone());
    assert!(a.ops_since(&vb).is_empty() && b.ops_since(&va).is_empty());
    let same: Vec<String> = a.paths().into_iter().filter(|p| p.starts_with("same")).collect();
    assert_eq!(same.len(), 2);
}

#[test]
fn concurrent_binary_writes_keep_a_conflict_copy_until_resolved() {
    let base = Arc::new(MemoryBase::new().file("logo.png", vec![0u8, 1, 2]));
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.write("logo.png", vec![0, 10]).unwrap();
    b.write("logo.png", vec![0, 20]).unwrap();
    sync(&mut [&mut a, &mut b]);
    let entries = a.entries();
    let copy = entries.iter().find(|e| e.kind == EntryKind::ConflictCopy).expect("a conflict copy");
    assert_eq!(a.read("logo.png").unwrap(), Content::Binary(vec![0, 20]));
    assert_eq!(a.read(&copy.path).unwrap(), Content::Binary(vec![0, 10]));
    // Deleting the copy drops that value everywhere.
    a.delete(&copy.path.clone()).unwrap();
    sync(&mut [&mut a, &mut b]);
    assert!(b.entries().iter().all(|e| e.kind != EntryKind::ConflictCopy));
    assert_eq!(b.read("logo.png").unwrap(), Content::Binary(vec![0, 20]));
}

#[test]
fn executable_bit_and_symlinks_replicate() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.set_executable("x", true).unwrap();
    a.create_symlink("link", "d/f.txt").unwrap();
    sync(&mut [&mut a, &mut b]);
    let x = b.entries().into_iter().find(|e| e.path == "x").unwrap();
    assert!(x.executable);
    assert_eq!(x.status, Status::Modified);
    assert_eq!(b.read("link").unwrap(), Content::Symlink("d/f.txt".into()));
    b.write("link", b"../outside".to_vec()).unwrap();
    sync(&mut [&mut a, &mut b]);
    assert_eq!(a.read("link").unwrap(), Content::Symlink("../outside".into()));
}

#[test]
fn invalid_local_operations_emit_nothing() {
    let base = base();
    let mut a = tree(1, &base);
    let before = a.version().clone();
    assert!(matches!(a.create_text("x", ""), Err(TreeError::Exists(_))));
    assert!(matches!(a.rename("a", "a/inner"), Err(TreeError::IntoItself { .. })));
    for bad in ["a/b/c", "../up", "a/.", "nul\0", ".git", "a/.GIT", ""] {
        assert!(a.create_dir(bad).is_err(), "{bad:?}");
    }
    assert!(matches!(a.create_dir("x/y"), Err(TreeError::NotADirectory(_))));
    assert!(matches!(a.delete(""), Err(TreeError::Root)));
    assert!(matches!(a.edit_text("a", 0, 0, "no"), Err(TreeError::NotAText(_))));
    assert!(a.edit_text("x", 100, 100, "past the end").is_err());
    assert_eq!(a.version(), &before);
    assert!(a.ops_since(&VersionVector::new()).is_empty());
}

#[test]
fn status_against_the_base() {
    let base = base();
    let mut a = tree(1, &base);
    a.rename("x", "a/x").unwrap();
    a.edit_text("README.md", 0, 0, "!").unwrap();
    a.create_text("new.txt", "n").unwrap();
    a.delete("d").unwrap();
    let status = |path: &str| a.entries().into_iter().find(|e| e.path == path).unwrap().status;
    assert_eq!(status("a/x"), Status::Renamed { from: "x".into(), modified: false });
    assert_eq!(status("README.md"), Status::Modified);
    assert_eq!(status("new.txt"), Status::New);
    assert_eq!(status("d/f.txt"), Status::Deleted);
    assert_eq!(status("b"), Status::Unchanged);
}

#[test]
fn history_the_tree_and_paths_at_past_versions() {
    let base = base();
    let mut a = tree(1, &base);
    a.create_text("f", "one").unwrap();
    let v1 = a.version().clone();
    let f = a.entry_at("f").unwrap();
    a.rename("f", "g").unwrap();
    a.edit_text("g", 3, 3, " two").unwrap();
    let past = a.at(&v1);
    assert_eq!(past.read_text("f").unwrap(), "one");
    assert!(past.entry_at("g").is_none());
    assert_eq!(a.path_at(&v1, f).as_deref(), Some("f"));
    assert_eq!(a.path_of(f).as_deref(), Some("g"));
    assert_eq!(a.read_text("g").unwrap(), "one two");
}

#[test]
fn a_fork_starts_a_timeline_from_a_past_version() {
    let base = base();
    let mut a = tree(1, &base);
    a.create_text("f", "shared").unwrap();
    let fork_point = a.version().clone();
    a.edit_text("f", 0, 0, "main: ").unwrap();
    let main_edit = a.ops_since(&fork_point);
    let mut fork = a.fork(&fork_point, memo_core::tree::TimelineId(7), replica(9));
    fork.edit_text("f", 0, 0, "fork: ").unwrap();
    // Each operation belongs to one timeline: the main one's later edit is refused.
    assert!(matches!(fork.apply(main_edit[0].clone()), Err(TreeApplyError::OtherTimeline { .. })));
    assert_eq!(fork.read_text("f").unwrap(), "fork: shared");
    assert_eq!(a.read_text("f").unwrap(), "main: shared");
    assert_eq!(fork.timeline(), memo_core::tree::TimelineId(7));
    // Another replica forks the same point and receives the fork's edits.
    let mut other = a.fork(&fork_point, memo_core::tree::TimelineId(7), replica(10));
    deliver(&fork, &mut other);
    assert_eq!(other.read_text("f").unwrap(), "fork: shared");
}

#[test]
fn base_content_never_travels() {
    let secret = "BASE-CONTENT-THAT-GIT-ALREADY-HOLDS";
    let base = Arc::new(MemoryBase::new().file("src/lib.rs", format!("{secret}\n{secret}\n")));
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    let mut ops = a.edit_text("src/lib.rs", 0, 5, "edited").unwrap();
    ops.extend(a.edit_text("src/lib.rs", 40, 50, "").unwrap());
    ops.push(a.rename("src/lib.rs", "src/main.rs").unwrap());
    ops.extend(a.undo_text("src/main.rs").unwrap());
    let mut bytes = Vec::new();
    for op in &ops {
        let encoded = op.encode();
        assert_eq!(&TreeOp::decode(&encoded).unwrap(), op);
        bytes.extend(encoded);
    }
    for fragment in secret.as_bytes().windows(6) {
        assert!(!bytes.windows(6).any(|w| w == fragment), "base text on the wire");
    }
    for op in ops {
        b.apply(op).unwrap();
    }
    assert_eq!(a.read_text("src/main.rs").unwrap(), b.read_text("src/main.rs").unwrap());
}

#[test]
fn a_rename_costs_tens_of_bytes() {
    let base = base();
    let mut a = tree(1, &base);
    // A base file: its id is derived (16 bytes), as is the top directory's.
    let rename = a.rename("README.md", "README.txt").unwrap();
    let len = rename.encode().len();
    assert!(len <= 60, "{len} bytes");
    // A keystroke in a base file names its file (16 bytes) and a base
    // character relative to the file (a few bytes, not 16 more).
    let keystroke = a.edit_text("README.txt", 0, 0, "x").unwrap();
    let len = keystroke[0].encode().len();
    assert!(len <= 44, "{len} bytes");
    // A file this replica created: named relative to the operation.
    a.create_text("notes", "n").unwrap();
    let rename = a.rename("notes", "a/notes").unwrap();
    let len = rename.encode().len();
    assert!(len <= 50, "{len} bytes");
}

#[test]
fn a_move_without_effect_still_keeps_a_concurrently_deleted_directory() {
    let base = base();
    let (mut a, mut b, mut c) = (tree(1, &base), tree(2, &base), tree(3, &base));
    let b_into_a = b.rename("b", "a/b").unwrap();
    a.apply(b_into_a).unwrap();
    a.delete("a").unwrap();
    assert!(a.entry_at("a").is_none() && a.view_is_fresh());
    // C, which has not seen b moved into a, moves a into b, later.
    let mut ops = c.create_text("raise-the-clock", "...").unwrap();
    ops.push(c.rename("a", "b/a").unwrap());
    for op in ops {
        a.apply(op).unwrap();
    }
    // After b into a, this move would make a cycle: it changes no place,
    // but it is a change the delete did not see, so `a` shows again.
    assert!(a.view_is_fresh());
    assert!(a.entry_at("a").is_some());
    sync(&mut [&mut a, &mut b, &mut c]);
}

#[test]
fn the_commit_map_travels_waits_for_what_it_names_and_survives_a_snapshot() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    a.edit_text("d/f.txt", 0, 0, "uncommitted then committed ").unwrap();
    let sha = vec![0xab; 20];
    let record = a.record_commit(sha.clone()).unwrap();
    assert!(matches!(a.record_commit(vec![1; 7]), Err(TreeError::Invalid(_))), "a commit id is 20 or 32 bytes");
    assert_eq!(TreeOp::decode(&record.encode()).unwrap(), record, "it encodes and decodes");
    // The record alone cannot apply: it names an edit b lacks.
    b.apply(record.clone()).unwrap();
    assert!(b.commits().is_empty() && b.waiting().len() == 1);
    deliver(&a, &mut b);
    assert_eq!(b.commits(), a.commits());
    let (commit, version, _) = &b.commits()[0];
    assert_eq!(commit, &sha);
    assert_eq!(b.at(version).read_text("d/f.txt").unwrap(), "uncommitted then committed line one\nline two\n");
    let loaded = WorkTree::decode_snapshot(b.replica(), base.clone(), &b.encode_snapshot()).unwrap();
    assert_eq!(loaded.commits(), b.commits());
}

#[test]
fn concurrent_checkouts_end_on_one_head_everywhere_and_a_later_commit_moves_it() {
    let base = base();
    let (mut a, mut b) = (tree(1, &base), tree(2, &base));
    assert_eq!(a.head(), None, "HEAD is the base until something moves it");
    let on_a = a.record_checkout(vec![0xaa; 20], "feature".into()).unwrap();
    let on_b = b.record_checkout(vec![0xbb; 20], String::new()).unwrap();
    assert!(matches!(a.record_checkout(vec![1; 20], "bad\nname".into()), Err(TreeError::Invalid(_))));
    a.apply(on_b.clone()).unwrap();
    b.apply(on_a.clone()).unwrap();
    assert_eq!(a.head(), b.head(), "one HEAD on both");
    // Equal Lamport stamps: the greater replica id wins.
    let head = a.head().unwrap();
    assert_eq!((head.commit.clone(), head.branch.clone()), (vec![0xbb; 20], Some(String::new())));
    let commit = a.record_commit(vec![0xcc; 20]).unwrap();
    b.apply(commit).unwrap();
    let head = b.head().unwrap();
    assert_eq!((head.commit.clone(), head.branch.clone()), (vec![0xcc; 20], None), "a commit moves the branch");
    let loaded = WorkTree::decode_snapshot(b.replica(), base.clone(), &b.encode_snapshot()).unwrap();
    assert_eq!(loaded.head(), b.head(), "HEAD survives a snapshot");
    assert_eq!(TreeOp::decode(&on_a.encode()).unwrap(), on_a, "a checkout encodes and decodes");
}
