//! The shape of the tree: which directory holds each entry, under which
//! name, decided by the move operations in one total order.
//!
//! This is the algorithm of Kleppmann et al., "A highly-available move
//! operation for replicated trees" (2021). Creates and moves are all moves
//! of an entry to (parent, name), applied in the order of their stamps
//! (Lamport, replica). A move that would put an entry inside itself is
//! skipped. When a move arrives with a stamp older than moves already
//! applied, those are undone, the new one done, and they are redone: so
//! every replica applies the same moves in the same order and reaches the
//! same tree, and no replica ever holds a cycle. A move into a directory
//! not known yet is kept: its entry is out of sight until the directory
//! arrives (the algorithm only needs parents to be ids).

use super::ids::EntryId;
use crate::id::{Lamport, ReplicaId};
use compact_str::CompactString;
use foldhash::HashMap;
use std::collections::BTreeSet;

/// The order of moves: (Lamport, replica), unique per operation.
pub(crate) type Stamp = (Lamport, ReplicaId);

/// Where an entry stands, and which move put it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    pub parent: EntryId,
    pub name: CompactString,
    pub stamp: Stamp,
}

/// An applied move, with what it replaced, so that it can be undone.
#[derive(Clone, Debug)]
struct Move {
    entry: Index,
    to: Place,
    /// The entry's place before; `None` before its first move. Equal to
    /// the place after when the move was skipped.
    from: Option<Place>,
}

/// An entry's dense index in the structure: walks up the tree follow
/// indices, not hashes.
type Index = u32;

#[derive(Debug, Default, Clone)]
pub(crate) struct Structure {
    index: HashMap<EntryId, Index>,
    ids: Vec<EntryId>,
    places: Vec<Option<Place>>,
    /// The index of each entry's parent, mirroring `places`.
    parents: Vec<Option<Index>>,
    children: Vec<BTreeSet<EntryId>>,
    /// Every move, in stamp order.
    log: Vec<Move>,
    /// Entries whose place changed since the last `take_moved`, with the
    /// parent each left (for the view to forget what it showed there).
    moved: Vec<(EntryId, Option<EntryId>)>,
}

impl Structure {
    pub fn place(&self, entry: EntryId) -> Option<&Place> {
        self.places[*self.index.get(&entry)? as usize].as_ref()
    }

    pub fn children(&self, dir: EntryId) -> impl Iterator<Item = EntryId> + '_ {
        let children = self.index.get(&dir).map(|&i| &self.children[i as usize]);
        children.into_iter().flatten().copied()
    }

    /// The directories above `entry`, nearest first, as far as they are
    /// placed (the last is the root when `entry` is in the tree).
    pub fn ancestors(&self, entry: EntryId) -> impl Iterator<Item = EntryId> + '_ {
        let mut at = self.index.get(&entry).copied();
        std::iter::from_fn(move || {
            at = self.parents[at? as usize];
            at.map(|i| self.ids[i as usize])
        })
    }

    /// Places an entry of the base snapshot (before any move).
    pub fn place_base(&mut self, entry: EntryId, place: Place) {
        let entry = self.intern(entry);
        self.set(entry, Some(place));
    }

    /// Applies the move of `entry` to `to`, at its place in stamp order.
    pub fn apply(&mut self, entry: EntryId, to: Place) {
        let entry = self.intern(entry);
        let at = self.log.partition_point(|m| m.to.stamp < to.stamp);
        let later = self.log.split_off(at);
        for m in later.iter().rev() {
            self.set(m.entry, m.from.clone());
        }
        self.do_move(entry, to);
        for m in later {
            self.do_move(m.entry, m.to);
        }
    }

    fn do_move(&mut self, entry: Index, to: Place) {
        let from = self.places[entry as usize].clone();
        let id = self.ids[entry as usize];
        // Only an entry with children can have `to.parent` below it (and
        // most moves are creates, of entries without any).
        let cycle = match self.children[entry as usize].is_empty() {
            true => to.parent == id,
            false => self.is_inside(to.parent, id),
        };
        if !cycle {
            self.set(entry, Some(to.clone()));
        }
        self.log.push(Move { entry, to, from });
    }

    /// Whether `dir` is `entry` or inside it.
    pub fn is_inside(&self, dir: EntryId, entry: EntryId) -> bool {
        let (Some(&dir), Some(&entry)) = (self.index.get(&dir), self.index.get(&entry)) else {
            return dir == entry;
        };
        let mut at = Some(dir);
        while let Some(i) = at {
            if i == entry {
                return true;
            }
            at = self.parents[i as usize];
        }
        false
    }

    fn intern(&mut self, entry: EntryId) -> Index {
        if let Some(&i) = self.index.get(&entry) {
            return i;
        }
        let i = self.ids.len() as Index;
        self.index.insert(entry, i);
        self.ids.push(entry);
        self.places.push(None);
        self.parents.push(None);
        self.children.push(BTreeSet::new());
        i
    }

    /// The entries whose place changed since the last call, with the
    /// parent each left.
    pub fn take_moved(&mut self) -> Vec<(EntryId, Option<EntryId>)> {
        std::mem::take(&mut self.moved)
    }

    fn set(&mut self, entry: Index, place: Option<Place>) {
        let id = self.ids[entry as usize];
        let old = self.places[entry as usize].take();
        self.moved.push((id, old.as_ref().map(|old| old.parent)));
        if let Some(old) = self.parents[entry as usize].take() {
            self.children[old as usize].remove(&id);
        }
        if let Some(place) = place {
            let parent = self.intern(place.parent);
            self.children[parent as usize].insert(id);
            self.parents[entry as usize] = Some(parent);
            self.places[entry as usize] = Some(place);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(parent: EntryId, name: &str, lamport: Lamport) -> Place {
        Place { parent, name: name.into(), stamp: (lamport, ReplicaId::from_u128(1)) }
    }

    fn dir(n: u8) -> EntryId {
        EntryId::Derived([n; 16])
    }

    #[test]
    fn concurrent_moves_into_each_other_leave_no_cycle_in_either_order() {
        let (a, b) = (dir(1), dir(2));
        let setup = |s: &mut Structure| {
            s.apply(a, place(EntryId::Root, "a", 1));
            s.apply(b, place(EntryId::Root, "b", 2));
        };
        let a_into_b = place(b, "a", 3);
        let b_into_a = place(a, "b", 4);
        let mut one = Structure::default();
        setup(&mut one);
        one.apply(a, a_into_b.clone());
        one.apply(b, b_into_a.clone());
        let mut two = Structure::default();
        setup(&mut two);
        two.apply(b, b_into_a);
        two.apply(a, a_into_b);
        // The later move (b into a) would make a cycle after a into b: skipped.
        for s in [&one, &two] {
            assert_eq!(s.place(a).unwrap().parent, b);
            assert_eq!(s.place(b).unwrap().parent, EntryId::Root);
        }
    }

    #[test]
    fn an_old_move_arriving_late_is_applied_underneath_newer_ones() {
        let (a, x) = (dir(1), dir(9));
        let mut s = Structure::default();
        s.apply(a, place(EntryId::Root, "a", 1));
        s.apply(x, place(EntryId::Root, "x", 2));
        s.apply(x, place(EntryId::Root, "y", 10));
        s.apply(x, place(a, "x", 5));
        assert_eq!(s.place(x).unwrap().name, "y");
        assert_eq!(s.place(x).unwrap().parent, EntryId::Root);
        assert_eq!(s.children(a).count(), 0);
        assert_eq!(s.children(EntryId::Root).count(), 2);
    }
}
