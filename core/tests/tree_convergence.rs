//! Seeded randomized convergence of whole working trees: five replicas
//! create, rename, move, delete, edit and write at random over a random base
//! tree, while a hostile network reorders (also within one sender),
//! duplicates and partitions their operations. At quiescence every replica
//! shows the same entries, names and contents, every path's directory
//! shows (no cycle cut anything off), nothing waits, and a replica that
//! rejoins from scratch by replaying every operation agrees.
//!
//! `cargo test` runs a quick set of seeds; the long run is
//! `cargo test --release -p memo-core --test tree_convergence -- --ignored`.
//! A failure names its seed: rerun it alone with `MEMO_SEED=<seed>`.

mod common;

use common::trees::{local_action, random_base, snapshot};
use memo_core::tree::{TreeOp, WorkTree};
use memo_core::ReplicaId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

const REPLICAS: usize = 5;
/// Every shown path's directory shows too (nothing cut off by a cycle),
/// and no two entries show on one path.
fn assert_connected(tree: &WorkTree) {
    let paths = tree.paths();
    let unique: std::collections::BTreeSet<&String> = paths.iter().collect();
    assert_eq!(unique.len(), paths.len(), "two entries on one path");
    for path in &paths {
        if let Some((dir, _)) = path.rsplit_once('/') {
            assert!(paths.iter().any(|p| p == dir), "{path} shows but {dir} does not");
        }
    }
}

fn run(seed: u64, steps: usize) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let base = Arc::new(random_base(&mut rng));
    let mut trees: Vec<WorkTree> =
        (0..REPLICAS).map(|_| WorkTree::new(ReplicaId::from_random_bytes(rng.gen()), base.clone())).collect();
    let mut in_flight: Vec<(usize, TreeOp)> = Vec::new();
    let mut cut_off = [false; REPLICAS];
    for _ in 0..steps {
        match rng.gen_range(0..100) {
            0..=39 => {
                let r = rng.gen_range(0..REPLICAS);
                let ops = local_action(&mut rng, &mut trees[r]);
                assert!(trees[r].view_is_fresh(), "replica {r}'s view went stale after a local change");
                for op in ops {
                    let op = TreeOp::decode(&op.encode()).expect("an encoded operation decodes");
                    in_flight.extend((0..REPLICAS).filter(|&to| to != r).map(|to| (to, op.clone())));
                }
            }
            40..=94 => {
                let deliverable: Vec<usize> = (0..in_flight.len()).filter(|&i| !cut_off[in_flight[i].0]).collect();
                if !deliverable.is_empty() {
                    let (to, op) = in_flight.swap_remove(deliverable[rng.gen_range(0..deliverable.len())]);
                    if rng.gen_bool(0.05) {
                        in_flight.push((to, op.clone()));
                    }
                    trees[to].apply(op).expect("a valid operation");
                    assert!(trees[to].view_is_fresh(), "replica {to}'s view went stale after applying");
                }
            }
            _ => {
                let r = rng.gen_range(0..REPLICAS);
                cut_off[r] = !cut_off[r];
            }
        }
    }
    while !in_flight.is_empty() {
        let (to, op) = in_flight.swap_remove(rng.gen_range(0..in_flight.len()));
        trees[to].apply(op).expect("a valid operation");
    }
    let expected = snapshot(&trees[0]);
    for (i, tree) in trees.iter().enumerate() {
        assert!(tree.waiting().is_empty(), "replica {i} has operations waiting");
        assert_eq!(tree.version(), trees[0].version(), "replica {i}");
        assert_eq!(snapshot(tree), expected, "replica {i} diverged");
        assert_eq!(tree.head(), trees[0].head(), "replica {i}'s HEAD");
        assert_connected(tree);
    }
    let mut ops = trees[rng.gen_range(0..REPLICAS)].ops_since(&Default::default());
    let mut late = WorkTree::new(ReplicaId::from_random_bytes(rng.gen()), base.clone());
    while !ops.is_empty() {
        late.apply(ops.swap_remove(rng.gen_range(0..ops.len()))).expect("a valid operation");
    }
    assert_eq!(snapshot(&late), expected, "a replica rebuilt from the operations diverged");
    assert_eq!(late.head(), trees[0].head(), "a replica rebuilt from the operations has another HEAD");
}

#[test]
fn random_working_trees_converge_quick() {
    common::run_seeds(0..300, |seed| run(seed, 300));
}

#[test]
#[ignore = "long run: 10,000 seeds"]
fn random_working_trees_converge_long() {
    common::run_seeds(0..10_000, |seed| run(seed, 400));
}
