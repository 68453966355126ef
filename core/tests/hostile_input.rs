//! Remote input is hostile: whatever bytes arrive, decoding and applying
//! them returns an error or applies, and never panics; the replica keeps
//! working afterwards.

use memo_core::encoding::{decode_history, decode_op};
use memo_core::{ReplicaId, TextDoc, TextOp};
use proptest::prelude::*;

/// A small document with some history, and its operations encoded.
fn sample() -> (TextDoc, Vec<Vec<u8>>, Vec<u8>) {
    let mut a = TextDoc::new(ReplicaId::from_u128(1));
    let mut b = TextDoc::new(ReplicaId::from_u128(2));
    let mut ops = vec![a.insert(0, "hello wörld").unwrap()];
    for op in a.ops_since(b.version()) {
        b.apply(op).unwrap();
    }
    ops.push(b.insert(5, ",").unwrap());
    ops.extend(a.delete(0, 2).unwrap());
    ops.push(a.undo(&[ops[0].range()]).unwrap().0);
    let encoded = ops.iter().map(TextOp::encode).collect();
    let history = a.encode_history();
    (a, encoded, history)
}

/// Applies whatever decodes, then checks the replica still works.
fn feed(bytes: &[u8]) {
    let mut doc = TextDoc::new(ReplicaId::from_u128(3));
    if let Ok(op) = decode_op(bytes) {
        let _ = doc.apply(op);
    }
    if let Ok(ops) = decode_history(bytes) {
        for op in ops {
            let _ = doc.apply(op);
        }
    }
    let len = doc.len();
    doc.insert(len, "still works").unwrap();
    assert!(doc.text().ends_with("still works"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        feed(&bytes);
    }

    #[test]
    fn mutated_operations_never_panic(which in 0usize..4, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let (_, ops, _) = sample();
        let mut bytes = ops[which % ops.len()].clone();
        for (at, xor) in flips {
            let i = at % bytes.len();
            bytes[i] ^= xor | 1;
        }
        feed(&bytes);
    }

    #[test]
    fn mutated_histories_never_panic(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let (_, _, mut history) = sample();
        for (at, xor) in flips {
            let i = at % history.len();
            history[i] ^= xor | 1;
        }
        let cut = cut % (history.len() + 1);
        feed(&history[..cut]);
        feed(&history);
    }
}

#[test]
fn a_decoded_op_keeps_its_meaning_and_garbage_is_refused() {
    let (a, ops, history) = sample();
    let mut fresh = TextDoc::new(ReplicaId::from_u128(4));
    for bytes in &ops {
        // Every op decodes; some wait for ops of replica 2 that the sample
        // applied through b, which is fine: they stay waiting or apply.
        let _ = fresh.apply(decode_op(bytes).unwrap());
    }
    let loaded = TextDoc::decode_history(ReplicaId::from_u128(5), &history).unwrap();
    assert_eq!(loaded.text(), a.text());
    assert!(decode_op(&[]).is_err());
    assert!(decode_history(b"not a history").is_err());
}

#[test]
fn a_history_that_claims_a_huge_backspace_run_is_refused_quickly() {
    // Hand-made: one replica, one delete op of 2^40 units whose one target
    // group is a descending run of 2^40 characters. Expanding it would take
    // terabytes; the decoder must refuse it.
    fn uint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let int = |out: &mut Vec<u8>, v: i64| uint(out, ((v << 1) ^ (v >> 63)) as u64);
    let huge = 1u64 << 40;
    let (mut head, mut ranges) = (Vec::new(), Vec::new());
    uint(&mut head, 1); // kind: delete
    uint(&mut head, 0); // replica 0
    int(&mut head, 0); // seq delta
    int(&mut head, 0); // lamport delta
    uint(&mut head, huge); // units
    uint(&mut ranges, 1); // one group
    uint(&mut ranges, 0); // replica 0
    int(&mut ranges, huge as i64); // first target relative to the op's seq
    int(&mut ranges, -(huge as i64)); // descending, 2^40 long
    let mut raw = Vec::new();
    for v in [1, 1, head.len() as u64, 0, 0, ranges.len() as u64] {
        uint(&mut raw, v);
    }
    raw.extend([7u8; 16]);
    raw.extend(head);
    raw.extend(ranges);
    let structure = miniz_oxide::deflate::compress_to_vec(&raw, 6);
    let mut bytes = b"MEMH\x01".to_vec();
    uint(&mut bytes, structure.len() as u64);
    bytes.extend(structure);
    bytes.extend(miniz_oxide::deflate::compress_to_vec(b"", 6));
    let error = decode_history(&bytes).unwrap_err();
    assert!(error.to_string().contains("longer than its operation or the history"), "{error}");
}

/// Found by CI's fuzzing: an operation naming its author's unit 2^64 - 1
/// decoded, and encoding it again overflowed.
#[test]
fn an_operation_naming_the_last_possible_unit_encodes_again() {
    let bytes = [
        0xff, 0xff, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x50, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0x01, 0, 0, 0x80, 0, 0x02, 0, 0,
    ];
    let op = decode_op(&bytes).expect("it decodes");
    assert_eq!(decode_op(&op.encode()).as_ref(), Ok(&op));
    feed(&bytes);
}
