//! Property tests that also check the item list's internal indexes.

use super::*;
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
