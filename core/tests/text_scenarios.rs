//! The text CRDT's behaviours, one named scenario each.

use memo_core::{
    Anchor, ApplyError, Bias, IdRange, OpId, ReplicaId, TextChange, TextDoc, TextError, TextOp, TextOpKind,
    VersionVector,
};

fn replica(n: u128) -> TextDoc {
    TextDoc::new(ReplicaId::from_u128(n))
}

/// Applies every operation of `from` that `to` lacks.
fn sync(from: &TextDoc, to: &mut TextDoc) -> Vec<TextChange> {
    let mut changes = Vec::new();
    for op in from.ops_since(to.version()) {
        changes.extend(to.apply(op).unwrap());
    }
    changes
}

fn converge(a: &mut TextDoc, b: &mut TextDoc) {
    sync(a, b);
    sync(b, a);
    assert_eq!(a.text(), b.text());
}

/// Types `text` one character at a time at `pos` moving forward.
fn type_forward(doc: &mut TextDoc, pos: usize, text: &str) {
    for (i, c) in text.chars().enumerate() {
        doc.insert(pos + i, &c.to_string()).unwrap();
    }
}

/// Types `text` one character at a time, each before the previous one.
fn type_backward(doc: &mut TextDoc, pos: usize, text: &str) {
    for c in text.chars().rev() {
        doc.insert(pos, &c.to_string()).unwrap();
    }
}

#[test]
fn concurrent_typing_at_one_place_does_not_interleave() {
    for typing in [type_forward as fn(&mut TextDoc, usize, &str), type_backward] {
        let (mut a, mut b) = (replica(1), replica(2));
        a.insert(0, "[]").unwrap();
        sync(&a, &mut b);
        typing(&mut a, 1, "alice");
        typing(&mut b, 1, "bob");
        converge(&mut a, &mut b);
        assert!(["[alicebob]", "[bobalice]"].contains(&a.text().as_str()), "interleaved: {}", a.text());
    }
}

#[test]
fn three_replicas_typing_at_one_place_stay_in_runs() {
    let mut docs = [replica(1), replica(2), replica(3)];
    for (doc, word) in docs.iter_mut().zip(["one", "two", "six"]) {
        type_forward(doc, 0, word);
    }
    let [a, b, c] = &mut docs;
    sync(b, a);
    sync(c, a);
    sync(a, b);
    sync(a, c);
    assert_eq!(a.text(), b.text());
    assert_eq!(a.text(), c.text());
    let text = a.text();
    for word in ["one", "two", "six"] {
        assert!(text.contains(word), "{word} was interleaved in {text}");
    }
}

#[test]
fn a_delete_spares_text_inserted_concurrently_inside_it() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "hello world").unwrap();
    sync(&a, &mut b);
    a.delete(0, 11).unwrap();
    b.insert(5, " brave").unwrap();
    converge(&mut a, &mut b);
    assert_eq!(a.text(), " brave");
}

#[test]
fn concurrent_deletes_of_the_same_text_delete_it_once() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "abcdef").unwrap();
    sync(&a, &mut b);
    a.delete(1, 4).unwrap();
    b.delete(2, 5).unwrap();
    converge(&mut a, &mut b);
    assert_eq!(a.text(), "af");
}

#[test]
fn change_events_turn_the_old_text_into_the_new() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "one two three").unwrap();
    sync(&a, &mut b);
    a.delete(4, 8).unwrap();
    a.insert(0, ">> ").unwrap();
    a.replace(3, 6, "ONE").unwrap();
    let mut mirror = b.text();
    for change in sync(&a, &mut b) {
        let start = mirror.char_indices().nth(change.pos).map_or(mirror.len(), |(i, _)| i);
        let end = mirror[start..].char_indices().nth(change.delete).map_or(mirror.len(), |(i, _)| start + i);
        mirror.replace_range(start..end, &change.insert);
    }
    assert_eq!(mirror, ">> ONE three");
    assert_eq!(b.text(), mirror);
}

#[test]
fn operations_out_of_order_within_a_sender_wait_and_then_apply() {
    let mut a = replica(1);
    let ops = [a.insert(0, "ab").unwrap(), a.insert(2, "cd").unwrap(), a.delete(1, 3).unwrap().unwrap()];
    let mut b = replica(2);
    assert_eq!(b.apply(ops[2].clone()).unwrap(), vec![]);
    assert_eq!(b.apply(ops[1].clone()).unwrap(), vec![]);
    let waiting = b.waiting();
    assert_eq!(waiting.len(), 2);
    assert!(waiting[0].missing.contains(&IdRange::new(a.replica(), 0, 2)), "the insert waits for units 0..2");
    let changes = b.apply(ops[0].clone()).unwrap();
    assert_eq!(changes.len(), 3, "all three apply as soon as the first arrives");
    assert_eq!(b.text(), "ad");
    assert!(b.waiting().is_empty());
}

#[test]
fn a_duplicate_is_a_no_op() {
    let mut a = replica(1);
    let op = a.insert(0, "x").unwrap();
    let mut b = replica(2);
    assert_eq!(b.apply(op.clone()).unwrap().len(), 1);
    assert_eq!(b.apply(op).unwrap(), vec![]);
    assert_eq!(b.text(), "x");
}

#[test]
fn an_operation_overlapping_what_was_applied_applies_only_its_new_part() {
    let mut a = replica(1);
    a.insert(0, "abc").unwrap();
    a.insert(3, "def").unwrap(); // merges into one run with the first
    let merged = a.ops_since(&VersionVector::new());
    assert_eq!(merged.len(), 1, "a run of typing is stored and sent as one run");
    let mut b = replica(2);
    let mut first = merged[0].clone();
    if let TextOpKind::Insert { text, .. } = &mut first.kind {
        text.truncate(2);
    }
    b.apply(first).unwrap();
    b.apply(merged[0].clone()).unwrap();
    assert_eq!(b.text(), "abcdef");
}

#[test]
fn the_waiting_buffer_is_bounded() {
    let mut a = replica(1);
    let ops: Vec<TextOp> = (0..4).map(|i| a.insert(i, "x").unwrap()).collect();
    let mut b = replica(2);
    b.set_pending_limit(2);
    b.apply(ops[3].clone()).unwrap();
    b.apply(ops[2].clone()).unwrap();
    assert!(matches!(b.apply(ops[1].clone()), Err(ApplyError::BufferFull(_))));
    // The dropped operation comes again (catch-up) and everything applies.
    b.apply(ops[0].clone()).unwrap();
    b.apply(ops[1].clone()).unwrap();
    assert_eq!(b.text(), "xxxx");
}

#[test]
fn malformed_operations_are_rejected_and_the_replica_keeps_working() {
    let mut a = replica(1);
    let good = a.insert(0, "ab").unwrap();
    let mut b = replica(2);
    b.apply(good).unwrap();
    let evil = ReplicaId::from_u128(666);
    let at = |seq| OpId::new(a.replica(), seq);
    let bad = [
        // Refers to its own future.
        TextOp {
            id: OpId::new(evil, 0),
            lamport: 0,
            kind: TextOpKind::Insert { left: Some(OpId::new(evil, 5)), right: None, text: "x".into() },
        },
        // Nothing to insert.
        TextOp {
            id: OpId::new(evil, 0),
            lamport: 0,
            kind: TextOpKind::Insert { left: None, right: None, text: Default::default() },
        },
        // Origins in the wrong order.
        TextOp {
            id: OpId::new(evil, 0),
            lamport: 0,
            kind: TextOpKind::Insert { left: Some(at(1)), right: Some(at(0)), text: "x".into() },
        },
        // Sequence numbers that overflow.
        TextOp {
            id: OpId::new(evil, u64::MAX - 1),
            lamport: 0,
            kind: TextOpKind::Insert { left: None, right: None, text: "xyz".into() },
        },
    ];
    for op in bad {
        assert!(matches!(b.apply(op.clone()), Err(ApplyError::Invalid { .. })), "accepted {op:?}");
    }
    // Deleting something that is not a character (an undo unit).
    let mut c = replica(3);
    let undo = c.undo(&[IdRange::new(a.replica(), 0, 2)]);
    assert!(matches!(undo, Err(TextError::UnknownEdit(_))));
    let del = TextOp {
        id: OpId::new(evil, 0),
        lamport: 9,
        kind: TextOpKind::Delete { targets: [IdRange::new(a.replica(), 0, 5)].into() },
    };
    assert!(b.apply(del).is_err() || b.waiting().len() == 1, "a delete of unknown units waits or fails");
    b.insert(2, "c").unwrap();
    assert_eq!(b.text(), "abc");
}

#[test]
fn an_unknown_operation_kind_keeps_its_units_and_is_relayed() {
    let author = ReplicaId::from_u128(7);
    let future = TextOp {
        id: OpId::new(author, 0),
        lamport: 0,
        kind: TextOpKind::Opaque { kind: 99, units: 3, body: vec![1, 2, 3] },
    };
    let decoded = TextOp::decode(&future.encode()).unwrap();
    assert_eq!(decoded, future);
    let next = TextOp {
        id: OpId::new(author, 3),
        lamport: 3,
        kind: TextOpKind::Insert { left: None, right: None, text: "hi".into() },
    };
    let mut b = replica(2);
    b.apply(decoded).unwrap();
    b.apply(next).unwrap();
    assert_eq!(b.text(), "hi");
    assert_eq!(b.ops_since(&VersionVector::new())[0], future, "stored and relayed as it came");
}

#[test]
fn concurrent_undos_of_one_edit_do_not_cancel_and_redo_restores() {
    let (mut a, mut b) = (replica(1), replica(2));
    let edit = a.insert(0, "typo").unwrap().range();
    sync(&a, &mut b);
    a.undo(&[edit]).unwrap();
    b.undo(&[edit]).unwrap();
    converge(&mut a, &mut b);
    assert_eq!(a.text(), "", "two undos of one edit leave it undone");
    a.redo(&[edit]).unwrap();
    converge(&mut a, &mut b);
    assert_eq!(b.text(), "typo");
}

#[test]
fn undoing_a_delete_brings_the_text_back_and_converges_with_concurrent_edits() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "keep this text").unwrap();
    sync(&a, &mut b);
    let delete = a.delete(4, 9).unwrap().unwrap().range();
    sync(&a, &mut b);
    let (_, changes) = a.undo(&[delete]).unwrap();
    assert_eq!(changes, vec![TextChange { pos: 4, delete: 0, insert: " this".into() }]);
    b.insert(0, ">").unwrap();
    converge(&mut a, &mut b);
    assert_eq!(a.text(), ">keep this text");
}

#[test]
fn undo_last_and_redo_last_walk_the_local_history() {
    let mut a = replica(1);
    type_forward(&mut a, 0, "one"); // a run of typing: one undo step
    a.insert(0, ">").unwrap(); // elsewhere: a step of its own
    a.replace(0, 4, "XY").unwrap(); // delete and insert: one step
    a.undo_last().unwrap();
    assert_eq!(a.text(), ">one");
    a.undo_last().unwrap();
    assert_eq!(a.text(), "one");
    a.undo_last().unwrap();
    assert_eq!(a.text(), "");
    assert!(a.undo_last().is_none());
    a.redo_last().unwrap();
    a.redo_last().unwrap();
    a.redo_last().unwrap();
    assert_eq!(a.text(), "XY");
    assert!(a.redo_last().is_none());
    // A new edit clears what could be redone.
    a.undo_last().unwrap();
    a.insert(0, "!").unwrap();
    assert!(a.redo_last().is_none());
    assert_eq!(a.text(), "!>one");
}

#[test]
fn anchors_resolve_alike_everywhere_and_collapse_into_deletions() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "0123456789").unwrap();
    sync(&a, &mut b);
    let left = a.anchor(5, Bias::Left).unwrap();
    let right = a.anchor(5, Bias::Right).unwrap();
    a.insert(5, "__").unwrap();
    b.insert(0, "++").unwrap();
    converge(&mut a, &mut b);
    for doc in [&a, &b] {
        assert_eq!(doc.resolve(&left), Some(7), "left bias stays before the insertion");
        assert_eq!(doc.resolve(&right), Some(9), "right bias moves past it");
    }
    a.delete(3, 12).unwrap();
    converge(&mut a, &mut b);
    assert_eq!(a.text(), "++089");
    assert_eq!(a.resolve(&left), Some(3), "collapsed to the deletion point");
    assert_eq!(b.resolve(&right), Some(3), "collapsed to the deletion point");
    let end = Anchor { char: None, bias: Bias::Right };
    assert_eq!(b.resolve(&end), Some(5));
}

#[test]
fn the_text_at_any_past_version() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "first").unwrap();
    let v1 = a.version().clone();
    sync(&a, &mut b);
    b.insert(5, " second").unwrap();
    a.delete(0, 1).unwrap();
    let v2 = a.version().clone();
    converge(&mut a, &mut b);
    let edit = a.ops_since(&VersionVector::new())[0].range();
    a.undo(&[edit]).unwrap();
    assert_eq!(a.text_at(&v1), "first");
    assert_eq!(a.text_at(&v2), "irst");
    assert_eq!(a.text_at(b.version()), "irst second");
    assert_eq!(a.text_at(a.version()), " second");
    assert_eq!(a.text_at(&VersionVector::new()), "");
}

/// The wire size of a one-character insert typed after one's own text, and
/// of one typed inside another replica's text, after `history` units each.
fn keystroke_sizes(history: usize) -> (usize, usize) {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, &"a".repeat(history.max(1))).unwrap();
    b.insert(0, &"b".repeat(history.max(1))).unwrap();
    sync(&b, &mut a);
    let typing = a.insert(3, "x").unwrap();
    let typing_on = a.insert(4, "y").unwrap().encode();
    sync(&a, &mut b);
    let in_a_text = b.text().find("axya").expect("a's text") + 2;
    let inside = b.insert(in_a_text, "z").unwrap();
    let TextOpKind::Insert { left: Some(left), .. } = inside.kind else { panic!("an insert after a character") };
    assert_eq!(left.replica, a.replica(), "typed inside the other replica's text");
    assert!(matches!(typing.kind, TextOpKind::Insert { .. }));
    (typing_on.len(), inside.encode().len())
}

#[test]
fn a_keystroke_is_small_on_the_wire() {
    let (typing_on, inside) = keystroke_sizes(10);
    let (typing_on_late, inside_late) = keystroke_sizes(100_000);
    println!("keystroke bytes: typing on {typing_on} ({typing_on_late} after 100k units), inside another's text {inside} ({inside_late})");
    assert!(typing_on <= 40 && typing_on_late <= 40, "typing costs {typing_on} / {typing_on_late} bytes");
    assert!(inside <= 40, "a keystroke inside another's text costs {inside} bytes");
    // Two full replica ids (the author's and the one typed after) and
    // three-byte sequence numbers: the one case past 40 bytes.
    assert!(inside_late <= 44, "a keystroke inside another's text costs {inside_late} bytes");
}

#[test]
fn operations_round_trip_through_the_wire_encoding() {
    let (mut a, mut b) = (replica(1), replica(2));
    let mut ops = vec![a.insert(0, "héllo 𝄞").unwrap()];
    sync(&a, &mut b);
    ops.push(b.insert(3, "XYZ").unwrap());
    sync(&b, &mut a);
    ops.extend(a.delete(1, 6).unwrap());
    ops.push(a.undo(&[ops[1].range()]).unwrap().0);
    ops.push(a.redo(&[ops[1].range()]).unwrap().0);
    for op in ops {
        assert_eq!(TextOp::decode(&op.encode()).unwrap(), op);
    }
    assert!(TextOp::decode(&[0xff; 3]).is_err());
    assert!(TextOp::decode(&[]).is_err());
}

#[test]
fn a_history_round_trips_and_garbage_is_refused() {
    let mut a = replica(1);
    type_forward(&mut a, 0, "hello history");
    a.delete(0, 6).unwrap();
    a.undo_last().unwrap();
    let bytes = a.encode_history();
    let b = TextDoc::decode_history(ReplicaId::from_u128(2), &bytes).unwrap();
    assert_eq!(b.text(), a.text());
    assert_eq!(b.version(), a.version());
    assert!(TextDoc::decode_history(ReplicaId::from_u128(2), &bytes[..bytes.len() / 2]).is_err());
    assert!(TextDoc::decode_history(ReplicaId::from_u128(2), b"MEMH\x02").is_err());
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    // Corruption is caught by DEFLATE, the decoder, or the validation.
    if let Ok(doc) = TextDoc::decode_history(ReplicaId::from_u128(2), &flipped) {
        assert!(doc.text().len() < 1000);
    }
}

#[test]
fn an_anchor_made_at_a_past_version_resolves_then_and_now() {
    let (mut a, mut b) = (replica(1), replica(2));
    a.insert(0, "fn main() {}").unwrap();
    let v1 = a.version().clone();
    a.insert(0, "// entry\n").unwrap();
    sync(&a, &mut b);
    // On b, which never saw the text at v1 as its current text: an anchor
    // at "main" as it was then.
    let anchor = b.anchor_at(&v1, 3, Bias::Right).unwrap();
    assert_eq!(b.resolve_at(&v1, &anchor), Some(3));
    b.insert(0, "#![allow(unused)]\n").unwrap();
    converge(&mut a, &mut b);
    let now = a.text();
    assert_eq!(a.resolve(&anchor), now.find("main"));
    assert_eq!(b.resolve(&anchor), now.find("main"));
    assert_eq!(a.resolve_at(&VersionVector::new(), &anchor), None, "its character did not exist yet");
}

#[test]
fn a_replace_that_cannot_be_made_changes_nothing() {
    let mut a = replica(1);
    a.insert(0, "abcdef").unwrap();
    let version = a.version().clone();
    assert!(matches!(a.replace(4, 2, "x"), Err(TextError::ReversedRange { .. })));
    assert!(matches!(a.replace(2, 9, "x"), Err(TextError::OutOfRange { .. })));
    assert_eq!(a.text(), "abcdef");
    assert_eq!(a.version(), &version, "no operation was made");
}
