//! Property tests that also check the item list's internal indexes.

use super::*;
use crate::ReplicaId;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    /// Typing on where the previous insert ended (the typing fast path).
    TypeOn(String),
    Delete(usize, usize),
    Replace(usize, usize, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    let text = "[a-c é𝄞\n]{1,6}";
    prop_oneof![
        (any::<usize>(), text).prop_map(|(p, t)| Edit::Insert(p, t)),
        "[a-z𝄞]{1,3}".prop_map(Edit::TypeOn),
        "[a-z]".prop_map(Edit::TypeOn),
        (any::<usize>(), 0usize..8).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), 0usize..4, text).prop_map(|(p, n, t)| Edit::Replace(p, n, t)),
    ]
}

/// Applies `edit` to the document and to a plain `String` model.
fn apply(doc: &mut TextDoc, model: &mut Vec<char>, cursor: &mut usize, edit: &Edit) -> Vec<TextOp> {
    let len = model.len();
    match edit {
        Edit::TypeOn(t) => {
            let p = (*cursor).min(len);
            model.splice(p..p, t.chars());
            *cursor = p + t.chars().count();
            vec![doc.insert(p, t).unwrap()]
        }
        Edit::Insert(p, t) => {
            let p = p % (len + 1);
            model.splice(p..p, t.chars());
            *cursor = p + t.chars().count();
            vec![doc.insert(p, t).unwrap()]
        }
        Edit::Delete(p, n) => {
            let p = p % (len + 1);
            let end = (p + n).min(len);
            model.drain(p..end);
            doc.delete(p, end).unwrap().into_iter().collect()
        }
        Edit::Replace(p, n, t) => {
            let p = p % (len + 1);
            let end = (p + n).min(len);
            model.splice(p..end, t.chars());
            doc.replace(p, end, t).unwrap()
        }
    }
}

proptest! {
    #[test]
    fn one_replica_matches_a_string(edits in prop::collection::vec(edit(), 1..200)) {
        let mut doc = TextDoc::new(ReplicaId::from_u128(1));
        let (mut model, mut cursor) = (Vec::new(), 0);
        for edit in &edits {
            apply(&mut doc, &mut model, &mut cursor, edit);
            prop_assert_eq!(doc.text(), model.iter().collect::<String>());
            prop_assert_eq!(doc.len(), model.len());
        }
        doc.check();
        // Undoing every edit, newest first, leaves the empty text.
        while doc.undo_last().is_some() {}
        prop_assert_eq!(doc.text(), "");
        doc.check();
    }

    #[test]
    fn remote_application_and_change_events_match(edits in prop::collection::vec(edit(), 1..120)) {
        let mut doc = TextDoc::new(ReplicaId::from_u128(1));
        let mut remote = TextDoc::new(ReplicaId::from_u128(2));
        let (mut model, mut cursor) = (Vec::new(), 0);
        let mut mirror: Vec<char> = Vec::new();
        for edit in &edits {
            for op in apply(&mut doc, &mut model, &mut cursor, edit) {
                for change in remote.apply(op).unwrap() {
                    mirror.splice(change.pos..change.pos + change.delete, change.insert.chars());
                }
            }
        }
        prop_assert_eq!(remote.text(), doc.text());
        prop_assert_eq!(mirror.iter().collect::<String>(), doc.text());
        remote.check();
    }
}

/// An anchor as the model tracks it: its position, its bias, and whether
/// its character has been deleted (it then sits at the deletion point, and
/// text inserted exactly there goes before its tombstone, as for a
/// right-biased anchor).
#[derive(Clone, Copy, Debug)]
struct ModelAnchor {
    pos: usize,
    bias: Bias,
    collapsed: bool,
    /// Anchors at the document's ends name no character: they never collapse.
    at_end: bool,
}

/// Moves a model anchor through `edit` (a delete, then an insert at its
/// start).
fn follow(anchor: &mut ModelAnchor, edit: &Edit, len_before: usize, cursor: usize) {
    let (start, deleted, inserted) = match edit {
        Edit::Insert(p, t) => (p % (len_before + 1), 0, t.chars().count()),
        Edit::TypeOn(t) => (cursor.min(len_before), 0, t.chars().count()),
        Edit::Delete(p, n) => {
            let p = p % (len_before + 1);
            (p, (p + n).min(len_before) - p, 0)
        }
        Edit::Replace(p, n, t) => {
            let p = p % (len_before + 1);
            (p, (p + n).min(len_before) - p, t.chars().count())
        }
    };
    let pos = anchor.pos;
    // The character the anchor names: before it (left) or after it (right).
    let char = match anchor.bias {
        Bias::Left => pos.checked_sub(1),
        Bias::Right => Some(pos),
    };
    if !anchor.at_end && char.is_some_and(|c| c >= start && c < start + deleted) {
        anchor.collapsed = true;
    }
    anchor.pos = match pos {
        p if p <= start => p,
        p if p >= start + deleted => p - deleted,
        _ => start,
    };
    let right = anchor.bias == Bias::Right || anchor.collapsed;
    if anchor.pos > start || (anchor.pos == start && right && inserted > 0) {
        anchor.pos += inserted;
    }
}

proptest! {
    #[test]
    fn anchors_follow_the_text(
        start in "[a-z]{0,12}",
        anchors in prop::collection::vec((any::<usize>(), any::<bool>()), 1..6),
        edits in prop::collection::vec(edit(), 1..40),
    ) {
        let mut doc = TextDoc::new(ReplicaId::from_u128(1));
        let mut model: Vec<char> = start.chars().collect();
        if !start.is_empty() {
            doc.insert(0, &start).unwrap();
        }
        let mut cursor = model.len();
        let mut tracked: Vec<(Anchor, ModelAnchor)> = anchors
            .iter()
            .map(|&(p, left)| {
                let bias = if left { Bias::Left } else { Bias::Right };
                let pos = p % (model.len() + 1);
                let at_end = (bias == Bias::Left && pos == 0) || (bias == Bias::Right && pos == model.len());
                (doc.anchor(pos, bias).unwrap(), ModelAnchor { pos, bias, collapsed: false, at_end })
            })
            .collect();
        for edit in &edits {
            let len_before = model.len();
            let cursor_before = cursor;
            apply(&mut doc, &mut model, &mut cursor, edit);
            for (anchor, expected) in &mut tracked {
                follow(expected, edit, len_before, cursor_before);
                prop_assert_eq!(doc.resolve(anchor), Some(expected.pos), "after {:?}: {:?}", edit, expected);
            }
        }
    }

    #[test]
    fn the_text_at_every_past_version_is_what_it_was(edits in prop::collection::vec(edit(), 1..40), undos in 0usize..4) {
        let mut doc = TextDoc::new(ReplicaId::from_u128(1));
        let (mut model, mut cursor) = (Vec::new(), 0);
        let mut snapshots = vec![(doc.version().clone(), String::new())];
        for edit in &edits {
            apply(&mut doc, &mut model, &mut cursor, edit);
            snapshots.push((doc.version().clone(), doc.text()));
        }
        for _ in 0..undos {
            doc.undo_last();
            snapshots.push((doc.version().clone(), doc.text()));
        }
        for (version, text) in &snapshots {
            prop_assert_eq!(&doc.text_at(version), text);
        }
    }

    #[test]
    fn operations_and_histories_round_trip(edits in prop::collection::vec(edit(), 1..40), undos in 0usize..3) {
        let mut a = TextDoc::new(ReplicaId::from_u128(1));
        let mut b = TextDoc::new(ReplicaId::from_u128(2));
        let mut cursor = 0;
        let mut ops = Vec::new();
        for (i, edit) in edits.iter().enumerate() {
            // Alternate the author so that origins name both replicas.
            let (author, other) = if i % 3 == 2 { (&mut b, &mut a) } else { (&mut a, &mut b) };
            for op in author.ops_since(other.version()) {
                other.apply(op).unwrap();
            }
            let mut text: Vec<char> = author.text().chars().collect();
            ops.extend(apply(author, &mut text, &mut cursor, edit));
        }
        for _ in 0..undos {
            ops.extend(a.undo_last().map(|(op, _)| op));
        }
        for op in &ops {
            prop_assert_eq!(&TextOp::decode(&op.encode()).unwrap(), op);
        }
        let loaded = TextDoc::decode_history(ReplicaId::from_u128(3), &a.encode_history()).unwrap();
        prop_assert_eq!(loaded.text(), a.text());
        prop_assert_eq!(loaded.version(), a.version());
    }
}
