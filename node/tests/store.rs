//! The operation store on a real RocksDB: layout, restart equivalence,
//! format versions and corruption.

use memo_core::tree::{EmptyBase, WorkTree};
use memo_core::{ReplicaId, TreeOp};
use memo_node::debug::step;
use memo_node::store::{OpKey, Store, StoreError, FORMAT_VERSION};
use memo_node::{replica, RecoveryError};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

fn tree(replica: ReplicaId) -> WorkTree {
    WorkTree::new(replica, Arc::new(EmptyBase))
}

/// The same visible state: paths, every path's content, and version.
fn assert_same(a: &WorkTree, b: &WorkTree, context: &str) {
    assert_eq!(a.paths(), b.paths(), "{context}: paths");
    for path in a.paths() {
        assert_eq!(a.read(&path), b.read(&path), "{context}: content of {path}");
    }
    assert_eq!(a.version(), b.version(), "{context}: version");
}

fn local_ops(tree: &mut WorkTree, seed: u64, steps: usize) -> Vec<TreeOp> {
    (0..steps).flat_map(|_| step(tree, seed)).collect()
}

#[test]
fn a_new_store_draws_a_replica_id_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path().join("store")).unwrap();
    let id = first.replica_id();
    assert!(first.is_empty() && first.next_seq() == 0);
    drop(first);
    let again = Store::open(dir.path().join("store")).unwrap();
    assert_eq!(again.replica_id(), id);
    let other = Store::open(dir.path().join("other")).unwrap();
    assert_ne!(other.replica_id(), id, "each store is a new replica");
}

/// A crash while a store is being made leaves its staging directory
/// behind: the next start makes the store again.
#[test]
fn an_interrupted_creation_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("store.new")).unwrap();
    std::fs::write(dir.path().join("store.new/LOCK"), "").unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    assert!(store.is_empty());
    assert!(!dir.path().join("store.new").exists());
}

#[test]
fn ops_of_is_a_range_scan_from_a_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut a = tree(ReplicaId::from_u128(1));
    let mut b = tree(ReplicaId::from_u128(2));
    let a_ops = local_ops(&mut a, 1, 40);
    let b_ops = local_ops(&mut b, 2, 40);
    store.append(&a_ops).unwrap();
    store.append(&b_ops).unwrap();
    assert_eq!(store.ops_of(a.replica(), 0).unwrap(), a_ops);
    assert_eq!(store.ops_of(b.replica(), 0).unwrap(), b_ops);
    for from in [1, 7, 20, a.version().get(a.replica()) - 1] {
        let expected: Vec<_> = a_ops.iter().filter(|op| op.range().end() > from).cloned().collect();
        assert_eq!(store.ops_of(a.replica(), from).unwrap(), expected, "from {from}");
    }
    assert!(store.ops_of(a.replica(), a.version().get(a.replica())).unwrap().is_empty());
    assert!(store.ops_of(ReplicaId::from_u128(3), 0).unwrap().is_empty());
}

#[test]
fn duplicates_are_stored_once_and_gaps_stop_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let mut a = tree(ReplicaId::from_u128(1));
    let ops = local_ops(&mut a, 3, 10);
    store.append(&ops[..5]).unwrap();
    store.append(&ops[3..5]).unwrap();
    store.append(&[ops[2].clone(), ops[2].clone()]).unwrap();
    assert_eq!(store.len(), 5);
    store.append(&ops[7..]).unwrap();
    assert_eq!(store.version().unwrap().get(a.replica()), ops[5].id.seq, "ops[5..7] are missing");
    store.append(&ops[5..7]).unwrap();
    assert_eq!(&store.version().unwrap(), a.version());
    assert_eq!(store.next_seq(), 0, "another replica's operations do not move our sequence");
}

#[test]
fn local_appends_move_the_sequence_and_it_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tree, mut store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    for _ in 0..20 {
        store.append(&step(&mut tree, 9)).unwrap();
        assert_eq!(store.next_seq(), tree.version().get(tree.replica()));
    }
    let next = store.next_seq();
    drop(store);
    let (rebuilt, store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    assert_eq!(store.next_seq(), next);
    assert_same(&rebuilt, &tree, "after restart");
}

/// Several replicas edit; replica A stores every operation it makes or
/// receives (reordered and duplicated) before applying it, snapshots now
/// and then, and restarts from its store now and then. After each restart
/// its tree (snapshot and tail) must equal a full replay and the one that
/// never restarted, and go on from there.
fn restart_equivalence(seed: u64, rounds: usize) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let (mut a, mut store) = replica::open(&path, Arc::new(EmptyBase)).unwrap();
    let mut never_restarted = tree(a.replica());
    let mut peers: Vec<WorkTree> = (2..5).map(|n| tree(ReplicaId::from_u128(n))).collect();
    let mut peer_ops: Vec<TreeOp> = Vec::new();
    for round in 0..rounds {
        let context = format!("seed {seed}, round {round}");
        if rng.gen_bool(0.5) {
            let ops = step(&mut a, seed);
            store.append(&ops).unwrap();
            ops.into_iter().for_each(|op| apply(&mut never_restarted, op));
        } else {
            let peer = rng.gen_range(0..peers.len());
            peer_ops.extend(step(&mut peers[peer], seed + peer as u64 + 1));
        }
        if rng.gen_bool(0.3) && !peer_ops.is_empty() {
            // Deliver some peer operations to A, out of order and twice.
            peer_ops.shuffle(&mut rng);
            let n = rng.gen_range(1..=peer_ops.len());
            let mut delivery: Vec<TreeOp> = peer_ops.drain(..n).collect();
            delivery.extend(delivery.clone().into_iter().take(2));
            store.append(&delivery).unwrap();
            for op in delivery {
                apply(&mut a, op.clone());
                apply(&mut never_restarted, op);
            }
        }
        if rng.gen_bool(0.15) {
            replica::save_snapshot(&mut store, &a).unwrap();
        }
        if rng.gen_bool(0.1) {
            drop(store);
            (a, store) = replica::open(&path, Arc::new(EmptyBase)).unwrap();
            assert_same(&a, &never_restarted, &format!("{context}, snapshot and tail"));
            let replayed = replica::rebuild_without_snapshot(&store, Arc::new(EmptyBase)).unwrap();
            assert_same(&replayed, &never_restarted, &format!("{context}, full replay"));
            assert_eq!(store.next_seq(), a.version().get(a.replica()), "{context}");
        }
    }
    drop(store);
    let (rebuilt, _store) = replica::open(&path, Arc::new(EmptyBase)).unwrap();
    assert_same(&rebuilt, &never_restarted, &format!("seed {seed}, end"));
}

fn apply(tree: &mut WorkTree, op: TreeOp) {
    tree.apply(op).expect("operations of honest replicas apply");
}

#[test]
fn restart_equivalence_over_random_histories() {
    for seed in 0..4 {
        restart_equivalence(seed, 150);
    }
}

#[test]
#[ignore = "long run: cargo test -p memo-node --test store -- --ignored"]
fn restart_equivalence_long_run() {
    for seed in 100..110 {
        restart_equivalence(seed, 1500);
    }
}

#[test]
fn a_store_opens_in_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let error = Store::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
}

#[test]
fn a_newer_format_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.put_raw_meta("format", &(FORMAT_VERSION + 1).to_be_bytes()).unwrap();
    drop(store);
    let error = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, StoreError::NewerFormat { found, supported, .. } if found == FORMAT_VERSION + 1 && supported == FORMAT_VERSION),
        "{error:?}"
    );
    assert!(error.to_string().contains("upgrade Memo"), "{error}");
}

#[test]
fn a_directory_that_is_not_a_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "my files").unwrap();
    let error = Store::open(dir.path()).unwrap_err();
    assert!(matches!(error, StoreError::NotAStore { .. }), "{error:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written into a foreign directory");

    let other_db = tempfile::tempdir().unwrap();
    drop(rocksdb::DB::open_default(other_db.path()).unwrap());
    let error = Store::open(other_db.path()).unwrap_err();
    assert!(matches!(error, StoreError::NotAStore { .. }), "{error:?}");
    assert!(error.to_string().contains("not a Memo store"), "{error}");
}

/// A stored value that is truncated, garbled, or another operation's gives
/// an error naming its key at start-up, never a silently different tree.
#[test]
fn a_corrupt_operation_is_an_error_naming_its_key() {
    type Garble = fn(&[u8], &[u8]) -> Vec<u8>;
    let garbles: [(&str, Garble); 4] = [
        ("truncated", |bytes, _| bytes[..bytes.len() / 2].to_vec()),
        ("emptied", |_, _| Vec::new()),
        ("garbled", |bytes, _| bytes.iter().map(|b| b ^ 0x5a).collect()),
        ("swapped", |_, other| other.to_vec()),
    ];
    for (name, garble) in garbles {
        let dir = tempfile::tempdir().unwrap();
        let (mut tree, mut store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
        let ops = local_ops(&mut tree, 5, 30);
        store.append(&ops).unwrap();
        let victim = &ops[ops.len() / 2];
        let key = OpKey::of(victim);
        store.put_raw_op(key, &garble(&victim.encode(), &ops[0].encode())).unwrap();
        drop(store);
        let error = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap_err();
        match &error {
            RecoveryError::Store(StoreError::CorruptOp { key: found, .. }) => assert_eq!(*found, key, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains(&format!("{}.{}", key.replica, key.seq)), "{name}: {message}");
    }
}

/// Bytes flipped in RocksDB's own files are caught by its checksums.
#[test]
fn a_damaged_table_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tree, mut store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    store.append(&local_ops(&mut tree, 6, 300)).unwrap();
    drop(store);
    // Reopening flushes the recovered log into a table file.
    drop(Store::open(dir.path()).unwrap());
    let tables: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    assert!(!tables.is_empty(), "no table file in {:?}", dir.path());
    for table in &tables {
        let mut bytes = std::fs::read(table).unwrap();
        let third = bytes.len() / 3;
        for b in &mut bytes[..third] {
            *b ^= 0xff;
        }
        std::fs::write(table, bytes).unwrap();
    }
    let error = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap_err();
    assert!(error.to_string().contains("Corruption"), "{error}");
}

/// A snapshot that is torn, garbled, from a newer Memo, or claims more
/// than is stored is skipped: start-up replays every operation and the
/// tree is still right.
#[test]
fn a_bad_snapshot_falls_back_to_full_replay() {
    type Garble = fn(&[u8]) -> Vec<u8>;
    let garbles: [(&str, Garble); 4] = [
        ("truncated", |bytes| bytes[..bytes.len() / 2].to_vec()),
        ("garbled", |bytes| bytes.iter().enumerate().map(|(i, b)| if i % 7 == 3 { b ^ 0x5a } else { *b }).collect()),
        ("newer", |bytes| [&bytes[..4], &99u32.to_le_bytes()[..], &bytes[8..]].concat()),
        ("emptied", |_| Vec::new()),
    ];
    for (name, garble) in garbles {
        let dir = tempfile::tempdir().unwrap();
        let (mut tree, mut store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
        store.append(&local_ops(&mut tree, 8, 60)).unwrap();
        let covers = store.len();
        store.put_snapshot(covers, &garble(&tree.encode_snapshot())).unwrap();
        store.append(&local_ops(&mut tree, 8, 20)).unwrap();
        drop(store);
        let (rebuilt, _store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
        assert_same(&rebuilt, &tree, name);
    }
    // A snapshot that claims to cover operations that are not stored.
    let dir = tempfile::tempdir().unwrap();
    let (mut tree, mut store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    store.append(&local_ops(&mut tree, 9, 30)).unwrap();
    let snapshot = tree.encode_snapshot();
    store.put_snapshot(store.len() + 5, &snapshot).unwrap();
    drop(store);
    let (rebuilt, _store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    assert_same(&rebuilt, &tree, "covers too much");
}

#[test]
fn start_up_loads_the_newest_snapshot_and_replays_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut tree, mut store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    store.set_snapshot_interval(25);
    let mut snapshots = 0;
    for _ in 0..200 {
        store.append(&step(&mut tree, 10)).unwrap();
        if store.snapshot_due() {
            replica::save_snapshot(&mut store, &tree).unwrap();
            snapshots += 1;
        }
    }
    assert!(snapshots >= 4 && !store.snapshot_due());
    let (covers, _) = store.newest_snapshot().unwrap().unwrap();
    assert!(covers <= store.len() && covers + 25 > store.len());
    drop(store);
    let (rebuilt, store) = replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    assert_same(&rebuilt, &tree, "snapshot and tail");
    assert_eq!(store.newest_snapshot().unwrap().unwrap().0, covers, "older snapshots were dropped, the newest kept");
}

/// The write path: a peer's operation is stored before it is applied, a
/// malformed one is neither, a copy changes nothing, and what was received
/// survives a restart.
#[test]
fn a_replica_stores_what_it_receives_before_applying_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = tree(ReplicaId::from_random_bytes([5; 16]));
    let from_peer = local_ops(&mut peer, 11, 30);
    let mut replica = memo_node::Replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    // Delivered backwards: everything but the first waits, and is stored.
    for op in from_peer.iter().rev() {
        replica.receive(op.clone()).unwrap();
        assert!(replica.store().contains(OpKey::of(op)).unwrap());
    }
    assert_same(replica.tree(), &peer, "after receiving");
    let stored = replica.store().len();
    assert_eq!(replica.receive(from_peer[3].clone()).unwrap(), 0);
    assert_eq!(replica.store().len(), stored, "a copy is stored once");
    let mut malformed = from_peer[0].clone();
    malformed.id.seq = 1 << 60;
    assert!(matches!(replica.receive(malformed), Err(replica::ReceiveError::Refused(_))));
    assert_eq!(replica.store().len(), stored, "a malformed operation is not stored");
    let mine = replica.change(|tree| tree.create_text("mine.txt", "local")).unwrap();
    assert!(replica.store().contains(OpKey::of(&mine[0])).unwrap());
    let before = replica.tree().paths();
    replica.close().unwrap();
    let again = memo_node::Replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    assert_eq!(again.tree().paths(), before);
    assert_eq!(again.tree().read_text("mine.txt").unwrap(), "local");
}

#[test]
fn a_batch_is_taken_as_each_of_its_operations_would_be() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = tree(ReplicaId::from_random_bytes([6; 16]));
    let from_peer = local_ops(&mut peer, 12, 60);
    let mut replica = memo_node::Replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    replica.receive(from_peer[0].clone()).unwrap();
    // Shuffled, with a copy of one already stored and a malformed one.
    let mut batch: Vec<TreeOp> = from_peer[1..].to_vec();
    batch.shuffle(&mut SmallRng::seed_from_u64(3));
    batch.push(from_peer[0].clone());
    let mut malformed = from_peer[1].clone();
    malformed.id.seq = 1 << 60;
    batch.push(malformed);
    let results = replica.receive_all(batch.clone()).unwrap();
    assert_eq!(results.len(), batch.len(), "one result per operation");
    assert!(results.last().unwrap().is_err(), "the malformed one is refused");
    assert_eq!(results[results.len() - 2], Ok(0), "the copy changes nothing");
    assert_same(replica.tree(), &peer, "after the batch");
    assert_eq!(replica.store().len(), from_peer.len() as u64, "stored once each, the malformed one not at all");
    replica.close().unwrap();
    let again = memo_node::Replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    assert_same(again.tree(), &peer, "after a restart");
}

#[test]
fn a_batch_the_causal_buffer_cannot_hold_is_taken_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = tree(ReplicaId::from_random_bytes([7; 16]));
    let from_peer = local_ops(&mut peer, 13, 20);
    let mut replica = memo_node::Replica::open(dir.path(), Arc::new(EmptyBase)).unwrap();
    replica.set_pending_bounds(memo_core::causal::Bounds { ops: 3, bytes: 1 << 20 });
    // Backwards: all but the first would wait, and only three fit.
    let mut batch: Vec<TreeOp> = from_peer.clone();
    batch.reverse();
    let results = replica.receive_all(batch.clone()).unwrap();
    let refused = results.iter().filter(|r| r.is_err()).count();
    assert!(refused > 0, "some did not fit");
    for (op, result) in batch.iter().zip(&results) {
        assert_eq!(replica.store().contains(OpKey::of(op)).unwrap(), result.is_ok(), "stored exactly what was taken");
    }
    // In order, the rest is taken.
    replica.receive_all(from_peer).unwrap();
    assert_same(replica.tree(), &peer, "in order at last");
}
