//! The working copy on disk (issue 6): two replicas in one process, each
//! on a real `git init`ed directory and a real RocksDB store; the tests
//! pump operations between them. MISSION scenarios 8-15 and 17 are named
//! after what the user does.

mod disk_common;

use disk_common::{git, pair, sync, Node};
use memo_core::tree::TreeOpKind;
use memo_node::disk::{DiskConfig, DiskError, WatchConfig, Watcher};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn a_working_copy_is_replicated_whole() {
    let (mut a, mut b) = pair();
    a.write("README.md", "# hello\n");
    a.write("src/main.rs", "fn main() {}\n");
    a.write("assets/logo.bin", [0u8, 1, 2, 255]);
    a.write("run.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(a.path("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("src/main.rs", a.path("link")).unwrap();
    std::fs::create_dir(a.path("empty")).unwrap();
    sync(&mut a, &mut b);
    assert_eq!(a.listing(), b.listing());
    assert_eq!(std::fs::metadata(b.path("run.sh")).unwrap().permissions().mode() & 0o111, 0o111);
    assert!(std::fs::symlink_metadata(b.path("link")).unwrap().file_type().is_symlink());
}

#[test]
fn editor_atomic_save_is_an_edit_of_the_same_file() {
    let (mut a, mut b) = pair();
    a.write("f.txt", "one\ntwo\n");
    sync(&mut a, &mut b);
    // vim: the old file becomes the backup, a new one is written.
    a.write(".f.txt.swp", "swap");
    std::fs::rename(a.path("f.txt"), a.path("f.txt~")).unwrap();
    a.write("f.txt", "one\ntwo\nthree\n");
    std::fs::remove_file(a.path("f.txt~")).unwrap();
    let vim = a.ingest(&["f.txt", "f.txt~", ".f.txt.swp"]).ops;
    // JetBrains: write a temporary, move the old file aside, rename.
    a.write("f.txt___jb_tmp___", "one\ntwo\nthree\nfour\n");
    std::fs::rename(a.path("f.txt"), a.path("f.txt___jb_old___")).unwrap();
    std::fs::rename(a.path("f.txt___jb_tmp___"), a.path("f.txt")).unwrap();
    std::fs::remove_file(a.path("f.txt___jb_old___")).unwrap();
    let jetbrains = a.ingest(&["f.txt", "f.txt___jb_tmp___", "f.txt___jb_old___"]).ops;
    for op in vim.iter().chain(&jetbrains) {
        assert!(matches!(op.kind, TreeOpKind::Edit { .. }), "a save must be edits only, got {op:?}");
    }
    b.receive(&vim);
    b.receive(&jetbrains);
    assert_eq!(b.read("f.txt"), "one\ntwo\nthree\nfour\n");
    assert!(!b.path(".f.txt.swp").exists(), "a swap file is never replicated");
}

#[test]
fn truncate_then_write_never_propagates_an_empty_file() {
    let config = DiskConfig::default().with_settle(Duration::ZERO, Duration::from_secs(3600));
    let (mut a, mut b) = (Node::new(config.clone()), Node::new(config));
    a.write("f.txt", "old content\n");
    sync(&mut a, &mut b);
    std::fs::write(a.path("f.txt"), "").unwrap();
    let truncated = a.ingest(&["f.txt"]);
    assert!(truncated.ops.is_empty(), "the transient empty file must not be replicated");
    assert_eq!(truncated.waiting, 1);
    std::fs::write(a.path("f.txt"), "new content\n").unwrap();
    let written = a.ingest(&["f.txt"]);
    assert_eq!(written.waiting, 0);
    b.receive(&written.ops);
    assert_eq!(b.read("f.txt"), "new content\n");
}

#[test]
fn a_file_emptied_for_good_is_replicated() {
    let config = DiskConfig::default().with_settle(Duration::ZERO, Duration::from_millis(100));
    let (mut a, mut b) = (Node::new(config.clone()), Node::new(config));
    a.write("f.txt", "content\n");
    sync(&mut a, &mut b);
    std::fs::write(a.path("f.txt"), "").unwrap();
    let mut ops = Vec::new();
    while ops.is_empty() {
        std::thread::sleep(Duration::from_millis(20));
        ops = a.ingest(&["f.txt"]).ops;
    }
    b.receive(&ops);
    assert_eq!(b.read("f.txt"), "");
}

#[test]
fn applying_remote_operations_makes_no_local_operations() {
    let (mut a, mut b) = pair();
    // 1,000 operations from A: files, directories, edits, renames.
    let mut ops = Vec::new();
    for i in 0..50 {
        a.write(&format!("d{}/f{i}.txt", i % 5), format!("file {i}\n"));
    }
    ops.extend(a.rescan());
    let mut round = 0;
    while ops.len() < 1000 {
        round += 1;
        assert!(round < 100, "edits were not seen");
        for i in 0..50 {
            a.write(&format!("d{}/f{i}.txt", i % 5), format!("file {i}\nround {round}\n"));
        }
        ops.extend(a.rescan());
    }
    let mut watcher = Watcher::start(b.dir.path(), WatchConfig::default()).unwrap();
    assert!(b.receive(&ops).is_empty());
    assert_eq!(a.listing(), b.listing());
    // The node then sits idle: its own writes come back as hints only.
    while let Some(batch) = watcher.next_batch(Duration::from_millis(500)) {
        let report = b.disk.ingest(&mut b.replica, &batch.hints).unwrap();
        assert!(report.ops.is_empty(), "the node's own writes came back as {:?}", report.ops);
    }
    assert!(b.rescan().is_empty());
    assert!(ops.len() >= 1000);
}

#[test]
fn typing_while_the_node_writes_keeps_every_keystroke() {
    let (mut a, mut b) = pair();
    a.write("f.txt", "line one\nline two\n");
    sync(&mut a, &mut b);
    // The user on B types; before B reads it, A's edit arrives.
    b.write("f.txt", "line one\nline two\ntyped on B\n");
    a.write("f.txt", "LINE ONE\nline two\n");
    let from_a = a.ingest(&["f.txt"]).ops;
    let from_b = b.receive(&from_a);
    assert!(!from_b.is_empty(), "B's keystrokes become operations");
    assert_eq!(b.read("f.txt"), "LINE ONE\nline two\ntyped on B\n");
    a.receive(&from_b);
    assert_eq!(a.read("f.txt"), b.read("f.txt"));
}

#[test]
fn a_large_file_copied_in_slowly_arrives_complete_and_once() {
    let config = DiskConfig::default().with_settle(Duration::from_secs(2), Duration::from_secs(2));
    let (mut a, mut b) = (Node::new(config.clone()), Node::new(config));
    let mut content = vec![0u8; 20 << 20];
    let mut seed = 0x9e3779b97f4a7c15u64;
    for byte in content.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *byte = seed as u8;
    }
    let mut ops = Vec::new();
    {
        use std::io::Write;
        let mut file = std::fs::File::create(a.path("big.bin")).unwrap();
        for chunk in content.chunks(1 << 20) {
            file.write_all(chunk).unwrap();
            file.flush().unwrap();
            ops.extend(a.ingest(&["big.bin"]).ops);
        }
    }
    let mut waiting = 1;
    while waiting > 0 {
        std::thread::sleep(Duration::from_millis(200));
        let report = a.ingest(&[]);
        waiting = report.waiting;
        ops.extend(report.ops);
    }
    assert_eq!(ops.len(), 1, "one create, made once the file was complete");
    b.receive(&ops);
    assert!(std::fs::read(b.path("big.bin")).unwrap() == content);
}

#[test]
fn mkdir_p_then_write_is_replicated_completely() {
    let (mut a, mut b) = pair();
    sync(&mut a, &mut b);
    a.write("a/b/c/f", "x\n");
    // The watcher may only have seen the top directory appear.
    let ops = a.ingest(&["a"]).ops;
    b.receive(&ops);
    assert_eq!(b.read("a/b/c/f"), "x\n");
}

#[test]
fn a_mv_is_a_move_not_a_delete_and_a_create() {
    let (mut a, mut b) = pair();
    a.write("f.txt", "content\n");
    a.write("d/g.txt", "other\n");
    sync(&mut a, &mut b);
    std::fs::rename(a.path("f.txt"), a.path("d/moved.txt")).unwrap();
    let file = a.ingest(&["f.txt", "d/moved.txt"]).ops;
    std::fs::rename(a.path("d"), a.path("e")).unwrap();
    let dir = a.ingest(&["d", "e"]).ops;
    for ops in [&file, &dir] {
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert!(matches!(ops[0].kind, TreeOpKind::Move { .. }));
    }
    b.receive(&file);
    b.receive(&dir);
    assert_eq!(a.listing(), b.listing());
    assert_eq!(b.read("e/moved.txt"), "content\n");
}

#[test]
fn checkout_on_one_side_keeps_the_others_uncommitted_edits() {
    let (mut a, mut b) = pair();
    a.write("x.txt", "x on main\n");
    a.write("y.txt", "y\n");
    git(a.dir.path(), &["add", "."]);
    git(a.dir.path(), &["commit", "-qm", "main"]);
    git(a.dir.path(), &["checkout", "-qb", "other"]);
    a.write("x.txt", "x on other\n");
    a.write("z.txt", "new on other\n");
    git(a.dir.path(), &["add", "."]);
    git(a.dir.path(), &["commit", "-qm", "other"]);
    git(a.dir.path(), &["checkout", "-q", "main"]);
    sync(&mut a, &mut b);
    b.write("y.txt", "y\nedited on B\n");
    git(a.dir.path(), &["checkout", "-q", "other"]);
    sync(&mut a, &mut b);
    assert_eq!(a.listing(), b.listing());
    assert_eq!(b.read("x.txt"), "x on other\n");
    assert_eq!(b.read("z.txt"), "new on other\n");
    assert_eq!(a.read("y.txt"), "y\nedited on B\n");
}

#[test]
fn build_output_is_not_replicated_but_a_tracked_ignored_file_is() {
    let (mut a, mut b) = pair();
    a.write(".gitignore", "target/\n*.log\n");
    a.write("keep.log", "tracked\n");
    git(a.dir.path(), &["add", "-f", "keep.log", ".gitignore"]);
    a.write("debug.log", "untracked\n");
    a.write("target/debug/out.bin", [1u8, 2, 3]);
    a.write("src/sub/.gitignore", "*.gen\n");
    a.write("src/sub/code.gen", "generated\n");
    a.write("src/sub/code.rs", "code\n");
    sync(&mut a, &mut b);
    let on_b = b.listing();
    assert!(on_b.contains_key("keep.log") && on_b.contains_key("src/sub/code.rs"));
    for left_out in ["debug.log", "target", "src/sub/code.gen"] {
        assert!(!on_b.contains_key(left_out), "{left_out} must not be replicated");
    }
    for round in 0..20 {
        a.write("target/debug/out.bin", [round as u8]);
        assert!(a.ingest(&["target/debug/out.bin", "target"]).ops.is_empty());
    }
}

/// A and B in step on `f.txt` holding `first`; A then saves `then`, and B
/// stores A's operations but stops before writing them out.
fn stored_but_not_written(first: &str, then: &str) -> (Node, Node) {
    let (mut a, mut b) = pair();
    a.write("f.txt", first);
    sync(&mut a, &mut b);
    a.write("f.txt", then);
    for op in a.ingest(&["f.txt"]).ops {
        b.replica.receive(op).unwrap();
    }
    (a, b)
}

#[test]
fn killed_mid_write_leaves_no_half_file_and_restart_reconciles() {
    let (a, b) = stored_but_not_written("first\n", "first\nsecond\n");
    // B died while writing them out: its temporary file is half written,
    // the real file untouched.
    b.write(".memo-write-0123456789ab-f.txt", "first\nsec");
    let mut b = b.restart();
    let local = b.rescan();
    assert!(local.is_empty(), "the stale file is not a local change: {local:?}");
    assert_eq!(b.read("f.txt"), "first\nsecond\n");
    assert!(!b.path(".memo-write-0123456789ab-f.txt").exists());
    assert_eq!(a.listing(), b.listing());
}

#[test]
fn an_edit_made_while_the_node_was_down_is_merged_at_start_up() {
    let (mut a, b) = stored_but_not_written("one\ntwo\n", "one\ntwo\nthree\n");
    b.write("f.txt", "zero\none\ntwo\n");
    let mut b = b.restart();
    let local = b.rescan();
    assert_eq!(b.read("f.txt"), "zero\none\ntwo\nthree\n");
    a.receive(&local);
    assert_eq!(a.read("f.txt"), "zero\none\ntwo\nthree\n");
}

#[test]
fn an_unmounted_root_stops_the_node() {
    let (mut a, mut b) = pair();
    a.write("f.txt", "x\n");
    sync(&mut a, &mut b);
    std::fs::remove_dir_all(a.path(".git")).unwrap();
    std::fs::remove_file(a.path("f.txt")).unwrap();
    let error = a.disk.rescan(&mut a.replica).unwrap_err();
    assert!(matches!(error, DiskError::RootGone(_)), "{error}");
}

#[test]
fn an_emptied_root_stops_the_node() {
    let (mut a, mut b) = pair();
    for i in 0..12 {
        a.write(&format!("f{i}.txt"), "x\n");
    }
    sync(&mut a, &mut b);
    for i in 0..12 {
        std::fs::remove_file(a.path(&format!("f{i}.txt"))).unwrap();
    }
    let error = a.disk.rescan(&mut a.replica).unwrap_err();
    assert!(matches!(error, DiskError::RootEmptied { known: 12, .. }), "{error}");
    assert_eq!(b.listing().len(), 12, "nothing was deleted on the peer");
}

#[test]
fn a_case_only_clash_is_resolved_the_same_way_every_time() {
    let mut a = Node::new(DiskConfig::default().without_settle());
    let mut b = Node::new(DiskConfig::default().without_settle().with_case_insensitive(true));
    a.write("README.md", "upper\n");
    a.write("Readme.md", "mixed\n");
    sync(&mut a, &mut b);
    let names: Vec<String> = b.listing().into_keys().collect();
    assert_eq!(names, ["README.md"]);
}

#[test]
fn remote_renames_deletes_and_swaps_reach_the_disk() {
    let (mut a, mut b) = pair();
    a.write("x.txt", "x\n");
    a.write("y.txt", "y\n");
    a.write("d/f.txt", "f\n");
    sync(&mut a, &mut b);
    // A swaps two names and moves a directory into a new one.
    let ops = a
        .replica
        .change(|tree| {
            Ok::<_, memo_core::tree::TreeError>(vec![
                tree.rename("x.txt", "tmp")?,
                tree.rename("y.txt", "x.txt")?,
                tree.rename("tmp", "y.txt")?,
                tree.create_dir("new")?,
                tree.rename("d", "new/d")?,
            ])
        })
        .unwrap();
    assert!(b.receive(&ops).is_empty());
    assert_eq!(b.read("x.txt"), "y\n");
    assert_eq!(b.read("y.txt"), "x\n");
    assert_eq!(b.read("new/d/f.txt"), "f\n");
    let deleted = a.replica.change(|tree| tree.delete("new").map(|op| vec![op])).unwrap();
    b.receive(&deleted);
    assert!(!b.path("new").exists());
    assert!(b.rescan().is_empty());
}

#[test]
fn the_watcher_hints_at_what_changed() {
    for config in [WatchConfig::default(), WatchConfig::default().polling(Duration::from_millis(100))] {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = Watcher::start(dir.path(), config).unwrap();
        std::fs::write(dir.path().join("saved.txt"), "x").unwrap();
        let wanted = watcher.root().join("saved.txt");
        let mut seen = false;
        for _ in 0..100 {
            if let Some(batch) = watcher.next_batch(Duration::from_millis(200)) {
                seen |= batch.hints.contains(&wanted) || batch.rescan;
            }
            if seen {
                break;
            }
        }
        assert!(seen, "polling: {}", watcher.is_polling());
    }
}

#[test]
fn a_new_replica_writes_what_arrived_before_its_first_scan() {
    use memo_core::tree::{MemoryBase, WorkTree};
    use memo_node::disk::DiskSync;
    use memo_node::Replica;
    use std::sync::Arc;
    // A clone at the base (its files just written), and a peer's edit of a
    // base file that reaches its new replica before the disk is scanned.
    let base = Arc::new(MemoryBase::new().file("notes.md", "# Notes\n"));
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("notes.md"), "# Notes\n").unwrap();
    let mut peer = WorkTree::new(memo_core::ReplicaId::from_u128(9), base.clone());
    let edit = peer.edit_text("notes.md", 8, 8, "\nAlice's idea.\n").unwrap();
    let store = tempfile::tempdir().unwrap();
    let mut replica = Replica::open(store.path().join("store"), base).unwrap();
    for op in edit {
        replica.receive(op).unwrap();
    }
    let config = DiskConfig::default().with_state_file(store.path().join("disk-state")).with_new_replica(true);
    let mut disk = DiskSync::open(dir.path(), config).unwrap();
    let mut local = disk.rescan(&mut replica).unwrap().ops;
    std::thread::sleep(Duration::from_millis(200));
    local.extend(disk.ingest(&mut replica, &[dir.path().join("notes.md")]).unwrap().ops);
    assert!(local.is_empty(), "the disk, still at the base, reverted the peer's edit: {local:?}");
    let on_disk = std::fs::read_to_string(dir.path().join("notes.md")).unwrap();
    assert_eq!(on_disk, "# Notes\n\nAlice's idea.\n");
}
