//! `TextCrdt` hosted the way a working tree hosts one: its replica's units
//! are numbered from a sequence shared with other documents, so they have
//! gaps, and causal order is the host's business.

use super::*;
use crate::text::InvalidOp;
use proptest::prelude::*;

fn r(n: u128) -> ReplicaId {
    ReplicaId::from_u128(n)
}

/// A minimal host: the next stamp, and how many units other documents take
/// after each edit of this one.
struct Host {
    crdt: TextCrdt,
    next: LocalStamp,
    gap: u64,
}

impl Host {
    fn new(crdt: TextCrdt, gap: u64) -> Self {
        let next = LocalStamp { replica: crdt.replica(), seq: 0, lamport: 0 };
        Self { crdt, next, gap }
    }

    /// Makes a local edit, then lets other documents use `gap` units.
    fn edit<T>(&mut self, edit: impl FnOnce(&mut TextCrdt, &mut LocalStamp) -> T) -> T {
        let made = edit(&mut self.crdt, &mut self.next);
        self.skip(self.gap);
        made
    }

    fn skip(&mut self, units: u64) {
        self.next = self.next.plus(units);
    }

    fn receive(&mut self, op: TextOp) -> Vec<TextChange> {
        self.next.lamport = self.next.lamport.max(op.lamport + op.units());
        let mut changes = Vec::new();
        self.crdt.integrate(op, &mut changes).unwrap();
        changes
    }

    /// The host's version, as far as this document is concerned.
    fn version(&self) -> VersionVector {
        [(self.next.replica, self.next.seq)].into_iter().collect()
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Replace(usize, usize, String),
    UndoLast,
    RedoLast,
    /// Delivers every operation the other side has not received yet.
    Sync,
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = "[a-c é𝄞\n]{1,5}";
    prop_oneof![
        4 => (any::<usize>(), text).prop_map(|(p, t)| Edit::Insert(p, t)),
        2 => (any::<usize>(), 0usize..6).prop_map(|(p, n)| Edit::Delete(p, n)),
        1 => (any::<usize>(), 0usize..4, text).prop_map(|(p, n, t)| Edit::Replace(p, n, t)),
        1 => Just(Edit::UndoLast),
        1 => Just(Edit::RedoLast),
        2 => Just(Edit::Sync),
    ]
}

/// Makes `edit` on `host`; returns the operations to send.
fn make(host: &mut Host, edit: &Edit) -> Vec<TextOp> {
    let len = host.crdt.len();
    let range = |p: usize, n: usize| (p % (len + 1), (p % (len + 1) + n).min(len));
    match edit {
        Edit::Insert(p, t) => vec![host.edit(|crdt, at| crdt.insert(at, p % (len + 1), t)).unwrap()],
        Edit::Delete(p, n) => {
            let (start, end) = range(*p, *n);
            host.edit(|crdt, at| crdt.delete(at, start, end)).unwrap().into_iter().collect()
        }
        Edit::Replace(p, n, t) => {
            let (start, end) = range(*p, *n);
            host.edit(|crdt, at| crdt.replace(at, start, end, t)).unwrap()
        }
        Edit::UndoLast => host.edit(|crdt, at| crdt.undo_last(at)).map(|(op, _)| op).into_iter().collect(),
        Edit::RedoLast => host.edit(|crdt, at| crdt.redo_last(at)).map(|(op, _)| op).into_iter().collect(),
        Edit::Sync => Vec::new(),
    }
}

/// Delivers `ops` in order, checking that the reported changes turn the
/// receiver's old text into its new one.
fn deliver(host: &mut Host, ops: &mut Vec<TextOp>) {
    let mut mirror: Vec<char> = host.crdt.text().chars().collect();
    for op in ops.drain(..) {
        for change in host.receive(op) {
            mirror.splice(change.pos..change.pos + change.delete, change.insert.chars());
        }
    }
    assert_eq!(mirror.iter().collect::<String>(), host.crdt.text());
}

proptest! {
    #[test]
    fn sparse_replicas_converge(
        edits in prop::collection::vec((any::<bool>(), edit()), 1..80),
        gaps in (0u64..8, 0u64..8),
    ) {
        let mut a = Host::new(TextCrdt::new(r(1)), gaps.0);
        let mut b = Host::new(TextCrdt::new(r(2)), gaps.1);
        // Each side's outbox, in the order made: a causal order.
        let (mut to_b, mut to_a) = (Vec::new(), Vec::new());
        for (on_a, edit) in &edits {
            let (host, outbox, inbox) = match on_a {
                true => (&mut a, &mut to_b, &mut to_a),
                false => (&mut b, &mut to_a, &mut to_b),
            };
            match edit {
                Edit::Sync => deliver(host, inbox),
                _ => outbox.extend(make(host, edit)),
            }
        }
        deliver(&mut b, &mut to_b);
        deliver(&mut a, &mut to_a);
        prop_assert_eq!(a.crdt.text(), b.crdt.text());
        a.crdt.check();
        b.crdt.check();
    }

    #[test]
    fn the_text_at_every_sparse_version_is_what_it_was(
        edits in prop::collection::vec(edit(), 1..40),
        gap in 1u64..6,
    ) {
        let mut host = Host::new(TextCrdt::new(r(1)), gap);
        let mut snapshots = vec![(host.version(), String::new())];
        for edit in &edits {
            make(&mut host, edit);
            snapshots.push((host.version(), host.crdt.text()));
        }
        for (version, text) in &snapshots {
            prop_assert_eq!(&host.crdt.text_at(version), text);
            // Inside the gap that follows, nothing more had happened.
            let mut in_gap = version.clone();
            in_gap.set(host.next.replica, version.get(host.next.replica).saturating_sub(gap - 1));
            prop_assert_eq!(&host.crdt.text_at(&in_gap), text);
        }
    }
}

#[test]
fn typing_after_a_gap_starts_a_new_run() {
    let mut host = Host::new(TextCrdt::new(r(1)), 0);
    host.edit(|crdt, at| crdt.insert(at, 0, "ab")).unwrap();
    host.edit(|crdt, at| crdt.insert(at, 2, "c")).unwrap();
    // Contiguous typing is one run, one log entry, one undo step.
    assert_eq!(host.crdt.ops_since(&VersionVector::new()).len(), 1);
    host.skip(5);
    let d = host.edit(|crdt, at| crdt.insert(at, 3, "d")).unwrap();
    assert_eq!(d.id, OpId::new(r(1), 8));
    assert_eq!(d.lamport, 8);
    let TextOpKind::Insert { left, .. } = &d.kind else { panic!("an insert") };
    assert_eq!(*left, Some(OpId::new(r(1), 2)));
    // A Lamport jump alone (after a remote operation) breaks the run too.
    host.next.lamport += 3;
    let e = host.edit(|crdt, at| crdt.insert(at, 4, "e")).unwrap();
    assert_eq!((e.id.seq, e.lamport), (9, 12));
    let ops = host.crdt.ops_since(&VersionVector::new());
    let units: Vec<_> = ops.iter().map(|op| (op.id.seq, op.units())).collect();
    assert_eq!(units, [(0, 3), (8, 1), (9, 1)]);
    // Each piece is its own undo step.
    host.edit(|crdt, at| crdt.undo_last(at)).unwrap();
    assert_eq!(host.crdt.text(), "abcd");
    host.edit(|crdt, at| crdt.undo_last(at)).unwrap();
    assert_eq!(host.crdt.text(), "abc");
    // Another replica places every piece where it was typed.
    let mut other = Host::new(TextCrdt::new(r(2)), 0);
    for op in ops {
        other.receive(op);
    }
    assert_eq!(other.crdt.text(), "abcde");
}

#[test]
fn backspacing_after_a_gap_is_a_new_delete() {
    let mut host = Host::new(TextCrdt::new(r(1)), 0);
    host.edit(|crdt, at| crdt.insert(at, 0, "abcd")).unwrap();
    host.edit(|crdt, at| crdt.delete(at, 3, 4)).unwrap();
    host.edit(|crdt, at| crdt.delete(at, 2, 3)).unwrap();
    host.skip(2);
    host.edit(|crdt, at| crdt.delete(at, 1, 2)).unwrap();
    let units: Vec<_> = host.crdt.ops_since(&VersionVector::new()).iter().map(|op| (op.id.seq, op.units())).collect();
    assert_eq!(units, [(0, 4), (4, 2), (8, 1)]);
    host.edit(|crdt, at| crdt.undo_last(at)).unwrap();
    assert_eq!(host.crdt.text(), "ab");
}

#[test]
fn ops_since_a_sparse_version() {
    let mut host = Host::new(TextCrdt::new(r(1)), 5);
    host.edit(|crdt, at| crdt.insert(at, 0, "abc")).unwrap(); // units 0..3
    host.edit(|crdt, at| crdt.insert(at, 3, "def")).unwrap(); // units 8..11
    let since = |seq| host.crdt.ops_since(&[(r(1), seq)].into_iter().collect());
    let units = |ops: Vec<TextOp>| ops.iter().map(|op| (op.id.seq, op.units())).collect::<Vec<_>>();
    assert_eq!(units(since(0)), [(0, 3), (8, 3)]);
    assert_eq!(units(since(2)), [(2, 1), (8, 3)]);
    // Inside the gap: the next operation, whole.
    assert_eq!(units(since(5)), [(8, 3)]);
    assert_eq!(units(since(9)), [(9, 2)]);
    assert_eq!(units(since(11)), []);
    // What a trimmed operation carries is exactly its units not seen.
    let TextOpKind::Insert { text, left, .. } = &since(9)[0].kind else { panic!("an insert") };
    assert_eq!((text.as_str(), *left), ("ef", Some(OpId::new(r(1), 8))));
}

#[test]
fn undo_of_another_documents_units_is_rejected() {
    // Two documents of one tree: one sequence numbers both.
    let mut one = TextCrdt::new(r(1));
    let mut two = TextCrdt::new(r(1));
    let mut next = LocalStamp { replica: r(1), seq: 0, lamport: 0 };
    let in_one = one.insert(&mut next, 0, "abc").unwrap().range(); // units 0..3
    let in_two = two.insert(&mut next, 0, "xyz").unwrap().range(); // units 3..6
    let mut at = next;
    assert_eq!(one.undo(&mut at, &[in_two]), Err(TextError::UnknownEdit(in_two)));
    let straddling = IdRange::new(r(1), 2, 2);
    assert_eq!(one.undo(&mut at, &[straddling]), Err(TextError::UnknownEdit(straddling)));
    assert_eq!(at, next, "a refused undo uses no units");
    assert!(one.undo(&mut at, &[in_one]).is_ok());
    assert_eq!(one.text(), "");
    // The same undo arriving from another replica is refused too.
    let mut copy = TextCrdt::new(r(2));
    copy.integrate(one.ops_since(&VersionVector::new()).remove(0), &mut Vec::new()).unwrap();
    let foreign =
        TextOp { id: OpId::new(r(1), 7), lamport: 7, kind: TextOpKind::Undo { edits: vec![in_two], undone: true } };
    assert_eq!(copy.integrate(foreign, &mut Vec::new()), Err(InvalidOp::NotAnEdit(OpId::new(r(1), 3))));
    assert_eq!(copy.text(), "abc");
}

/// Distinctive enough that finding it in an encoding cannot be chance.
const BASE: &str = "fn secret() -> &'static str { \"hunter2: the base text\" }\n";

#[test]
fn the_base_text_never_goes_on_the_wire() {
    let base = r(100);
    let mut a = Host::new(TextCrdt::with_base(r(1), base, BASE), 3);
    let mut b = Host::new(TextCrdt::with_base(r(2), base, BASE), 0);
    assert_eq!(a.crdt.text(), BASE);
    let mut ops = Vec::new();
    ops.extend(a.edit(|crdt, at| crdt.insert(at, 3, "very_")).ok());
    ops.extend(a.edit(|crdt, at| crdt.delete(at, 35, 42)).unwrap());
    ops.extend(b.edit(|crdt, at| crdt.replace(at, 0, 2, "pub fn")).unwrap());
    ops.extend(b.edit(|crdt, at| crdt.undo_last(at)).map(|(op, _)| op));
    ops.extend(b.edit(|crdt, at| crdt.insert(at, BASE.chars().count(), "// end\n")).ok());
    for op in &ops {
        let to = if op.id.replica == r(1) { &mut b } else { &mut a };
        to.receive(op.clone());
    }
    assert_eq!(a.crdt.text(), b.crdt.text());
    assert!(a.crdt.text().contains("very_"));
    // Every operation, and both histories, name base characters only by id.
    let shows_base = |bytes: &[u8]| bytes.windows(8).any(|w| BASE.as_bytes().windows(8).any(|b| b == w));
    for op in &ops {
        assert!(!shows_base(&op.encode()), "{op:?} carries base text");
    }
    for host in [&a, &b] {
        let history = host.crdt.ops_since(&VersionVector::new());
        assert_eq!(history.len(), ops.len());
        assert!(history.iter().all(|op| op.id.replica != base));
        let encoded = host.crdt.encode_history();
        assert!(!shows_base(&encoded));
        let decoded = crate::encoding::decode_history(&encoded).unwrap();
        assert!(decoded.iter().all(|op| !shows_base(&op.encode())));
    }
    // Every past version starts from the base text.
    assert_eq!(a.crdt.text_at(&VersionVector::new()), BASE);
    // A replica with the same base and the history converges.
    let mut c = Host::new(TextCrdt::with_base(r(3), base, BASE), 0);
    for op in a.crdt.ops_since(&VersionVector::new()) {
        c.receive(op);
    }
    assert_eq!(c.crdt.text(), a.crdt.text());
}

#[test]
fn the_base_text_is_not_an_edit() {
    let base = r(100);
    let mut crdt = TextCrdt::with_base(r(1), base, "abc");
    let mut at = LocalStamp { replica: r(1), seq: 0, lamport: 0 };
    let all = IdRange::new(base, 0, 3);
    assert_eq!(crdt.undo(&mut at, &[all]), Err(TextError::UnknownEdit(all)));
    let undo = TextOp { id: OpId::new(r(2), 0), lamport: 0, kind: TextOpKind::Undo { edits: vec![all], undone: true } };
    assert_eq!(crdt.integrate(undo, &mut Vec::new()), Err(InvalidOp::NotAnEdit(OpId::new(base, 0))));
    // But its characters are characters: they can be deleted.
    crdt.delete(&mut at, 0, 3).unwrap();
    assert_eq!(crdt.text(), "");
    assert_eq!(crdt.text_at(&VersionVector::new()), "abc");
}

#[test]
fn a_host_with_a_new_replica_id_starts_a_new_run_and_undo_history() {
    let mut crdt = TextCrdt::new(r(1));
    let mut before = LocalStamp { replica: r(1), seq: 0, lamport: 0 };
    crdt.insert(&mut before, 0, "ab").unwrap();
    // Restarted under a new id, the host numbers from 0 again.
    let mut after = LocalStamp { replica: r(2), seq: 0, lamport: before.lamport };
    let op = crdt.insert(&mut after, 2, "c").unwrap();
    assert_eq!(crdt.replica(), r(2));
    let TextOpKind::Insert { left, .. } = &op.kind else { panic!("an insert") };
    assert_eq!(*left, Some(OpId::new(r(1), 1)));
    assert_eq!(crdt.ops_since(&VersionVector::new()).len(), 2);
    let (undo, _) = crdt.undo_last(&mut after).unwrap();
    assert_eq!(undo.kind, TextOpKind::Undo { edits: vec![op.range()], undone: true });
    assert_eq!(crdt.text(), "ab");
    assert!(crdt.undo_last(&mut after).is_none(), "the old replica's edits are not this session's");
}
