//! Seeded randomized convergence: replicas edit, undo and redo at random
//! while a hostile network reorders (also within one sender), duplicates,
//! delays and partitions their operations. At quiescence every replica
//! must show the same text, and nothing may wait.
//!
//! `cargo test` runs a quick set of seeds; the long run is
//! `cargo test --release -p memo-core --test text_convergence -- --ignored`.
//! A failure names its seed: rerun it alone with `MEMO_SEED=<seed>`.

mod common;

use memo_core::{IdRange, ReplicaId, TextChange, TextDoc, TextOp};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const REPLICAS: usize = 5;

struct Replica {
    doc: TextDoc,
    /// The text as an editor would hold it, following only change events.
    mirror: Vec<char>,
    /// Edits made here, for selective undo.
    edits: Vec<IdRange>,
}

impl Replica {
    fn follow(&mut self, changes: &[TextChange]) {
        for c in changes {
            self.mirror.splice(c.pos..c.pos + c.delete, c.insert.chars());
        }
    }
}

struct Network {
    in_flight: Vec<(usize, TextOp)>,
    cut_off: [bool; REPLICAS],
}

fn random_text(rng: &mut SmallRng) -> String {
    const ALPHABET: &[char] = &['a', 'b', 'c', 'd', ' ', '\n', 'é', '𝄞'];
    let len = rng.gen_range(1..6);
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect()
}

/// One local action on replica `r`: returns the operations it made.
fn local_action(rng: &mut SmallRng, replica: &mut Replica) -> Vec<TextOp> {
    let doc = &mut replica.doc;
    let len = doc.len();
    let pos = rng.gen_range(0..=len);
    let mut ops = Vec::new();
    match rng.gen_range(0..100) {
        0..=44 => {
            let text = random_text(rng);
            replica.mirror.splice(pos..pos, text.chars());
            ops.push(doc.insert(pos, &text).unwrap());
        }
        45..=69 => {
            let end = (pos + rng.gen_range(1..6)).min(len);
            replica.mirror.drain(pos..end);
            ops.extend(doc.delete(pos, end).unwrap());
        }
        70..=79 => {
            let end = (pos + rng.gen_range(0..4)).min(len);
            let text = random_text(rng);
            replica.mirror.splice(pos..end, text.chars());
            ops.extend(doc.replace(pos, end, &text).unwrap());
        }
        80..=87 => {
            if let Some((op, changes)) = doc.undo_last() {
                ops.push(op);
                replica.follow(&changes);
            }
        }
        88..=93 => {
            if let Some((op, changes)) = doc.redo_last() {
                ops.push(op);
                replica.follow(&changes);
            }
        }
        _ => {
            // Selective undo or redo of any earlier edit of ours.
            if !replica.edits.is_empty() {
                let edit = replica.edits[rng.gen_range(0..replica.edits.len())];
                let (op, changes) = match rng.gen_bool(0.6) {
                    true => doc.undo(&[edit]).unwrap(),
                    false => doc.redo(&[edit]).unwrap(),
                };
                ops.push(op);
                replica.follow(&changes);
            }
        }
    }
    replica
        .edits
        .extend(ops.iter().filter(|op| !matches!(op.kind, memo_core::TextOpKind::Undo { .. })).map(|op| op.range()));
    ops
}

fn deliver(rng: &mut SmallRng, replicas: &mut [Replica], net: &mut Network, index: usize) {
    let (to, op) = net.in_flight.swap_remove(index);
    if rng.gen_bool(0.05) {
        // Duplicated by the network: this copy arrives later again.
        net.in_flight.push((to, op.clone()));
    }
    let changes = replicas[to].doc.apply(op).unwrap();
    replicas[to].follow(&changes);
}

fn run(seed: u64, steps: usize) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut replicas: Vec<Replica> = (0..REPLICAS)
        .map(|_| Replica {
            doc: TextDoc::new(ReplicaId::from_random_bytes(rng.gen())),
            mirror: Vec::new(),
            edits: Vec::new(),
        })
        .collect();
    let mut net = Network { in_flight: Vec::new(), cut_off: [false; REPLICAS] };
    for _ in 0..steps {
        match rng.gen_range(0..100) {
            0..=39 => {
                let r = rng.gen_range(0..REPLICAS);
                for op in local_action(&mut rng, &mut replicas[r]) {
                    for to in (0..REPLICAS).filter(|&to| to != r) {
                        net.in_flight.push((to, op.clone()));
                    }
                }
            }
            40..=94 => {
                // Any message may go next: reordering, also within a sender.
                let deliverable: Vec<usize> =
                    (0..net.in_flight.len()).filter(|&i| !net.cut_off[net.in_flight[i].0]).collect();
                if !deliverable.is_empty() {
                    let index = deliverable[rng.gen_range(0..deliverable.len())];
                    deliver(&mut rng, &mut replicas, &mut net, index);
                }
            }
            _ => {
                let r = rng.gen_range(0..REPLICAS);
                net.cut_off[r] = !net.cut_off[r];
            }
        }
    }
    // Heal and go quiet: deliver everything, in random order.
    net.cut_off = [false; REPLICAS];
    while !net.in_flight.is_empty() {
        let index = rng.gen_range(0..net.in_flight.len());
        deliver(&mut rng, &mut replicas, &mut net, index);
    }
    let text = replicas[0].doc.text();
    for (i, replica) in replicas.iter().enumerate() {
        assert_eq!(replica.doc.text(), text, "replica {i} diverged");
        assert_eq!(replica.mirror.iter().collect::<String>(), text, "replica {i}'s change events diverged");
        assert!(replica.doc.waiting().is_empty(), "replica {i} has operations waiting");
        assert_eq!(replica.doc.version(), replicas[0].doc.version());
    }
    // A replica that joins from scratch by replaying everything agrees.
    let mut late = TextDoc::new(ReplicaId::from_random_bytes(rng.gen()));
    for op in replicas[rng.gen_range(0..REPLICAS)].doc.ops_since(&Default::default()) {
        late.apply(op).unwrap();
    }
    assert_eq!(late.text(), text, "a replica rebuilt from the operations diverged");
    let loaded = TextDoc::decode_history(ReplicaId::from_u128(1), &replicas[0].doc.encode_history()).unwrap();
    assert_eq!(loaded.text(), text, "a replica loaded from an encoded history diverged");
}

#[test]
fn random_histories_converge_quick() {
    common::run_seeds(0..300, |seed| run(seed, 300));
}

#[test]
#[ignore = "long run: 10,000 seeds"]
fn random_histories_converge_long() {
    common::run_seeds(0..10_000, |seed| run(seed, 500));
}
