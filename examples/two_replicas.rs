//! Two replicas of one text edit it at the same time, then exchange their
//! operations in a scrambled order (reversed, and one sent twice), and end
//! with the same text: no conflict, no interleaving of their typing.
//!
//! Run it with `cargo run -p memo-examples --example two_replicas`.

use memo_core::{ReplicaId, TextDoc, TextOp};

fn main() {
    let mut alice = TextDoc::new(ReplicaId::from_u128(0xA11CE));
    let mut bob = TextDoc::new(ReplicaId::from_u128(0xB0B));

    // A shared starting point.
    let start = alice.insert(0, "Memo merges edits.").unwrap();
    bob.apply(start).unwrap();
    println!("both start from:  {:?}", alice.text());

    // Offline for a while: both type at the same place, and elsewhere.
    let mut from_alice: Vec<TextOp> = Vec::new();
    let mut from_bob: Vec<TextOp> = Vec::new();
    from_alice.push(alice.insert(11, " concurrent").unwrap());
    from_alice.push(alice.insert(alice.len() - 1, ", character by character").unwrap());
    from_bob.push(bob.insert(11, " everyone's").unwrap());
    from_bob.extend(bob.delete(0, 5).unwrap()); // "Memo " goes
    from_bob.push(bob.insert(0, "Your working copy ").unwrap());
    println!("alice, offline:   {:?}", alice.text());
    println!("bob, offline:     {:?}", bob.text());

    // Delivery in the worst order: reversed, with a duplicate.
    from_bob.reverse();
    from_bob.push(from_bob[0].clone());
    for op in from_bob {
        for change in alice.apply(op).unwrap() {
            println!("  alice applies at {}: -{} +{:?}", change.pos, change.delete, change.insert);
        }
    }
    from_alice.reverse();
    for op in from_alice {
        bob.apply(op).unwrap();
    }

    println!("alice, merged:    {:?}", alice.text());
    println!("bob, merged:      {:?}", bob.text());
    assert_eq!(alice.text(), bob.text(), "replicas converge");
    assert!(alice.waiting().is_empty() && bob.waiting().is_empty());
    println!("converged: {} characters, nothing waiting", alice.len());
}
