//! The visible tree: which entries show, and under which paths. It is a
//! pure function of the replicated state, so every replica that applied
//! the same operations shows the same tree, and name conflicts settle
//! without fix-up operations (which is what kept the original Memo
//! renaming forever under symmetric delivery).
//!
//! - **Deletes** remove what their author saw: an entry is *removed* when a
//!   delete of it or of a directory above it had seen every operation that
//!   created, moved or changed it ([`Entry::touched`]). So an edit, rename
//!   or move concurrent with a delete keeps the entry, and a file created
//!   in a directory while a peer deletes it keeps the file. An entry shows
//!   when it is not removed or something inside it shows (a deleted
//!   directory stays to hold a surviving file), and its directory shows.
//! - **Names**: when several shown entries of one directory have the same
//!   name, the one put there by the smallest stamp (Lamport, replica)
//!   keeps it and each other one is shown as `stem~rrrrrrrr.ext`, where
//!   `rrrrrrrr` starts the id of the replica that put it there (`-2`,
//!   `-3`, ... is added if that name is taken too). A binary file whose
//!   content has concurrent values shows the winner under its name and
//!   each other value as such a conflict copy beside it.

use super::entry::{Entry, Kind};
use super::ids::EntryId;
use super::op::ValueId;
use super::structure::{Stamp, Structure};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What a visible path shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shown {
    Entry(EntryId),
    /// A value of a binary file that lost to a concurrent one.
    ConflictCopy(EntryId, ValueId),
}

#[derive(Debug, Default)]
pub(crate) struct View {
    by_path: BTreeMap<String, Shown>,
    paths: HashMap<EntryId, String>,
}

impl View {
    pub fn compute(structure: &Structure, entries: &HashMap<EntryId, Entry>) -> View {
        let visible = visible_entries(structure, entries);
        let mut view = View::default();
        view.paths.insert(EntryId::Root, String::new());
        let mut dirs = vec![EntryId::Root];
        while let Some(dir) = dirs.pop() {
            let prefix = match view.paths[&dir].as_str() {
                "" => String::new(),
                path => format!("{path}/"),
            };
            for (name, shown) in name_children(dir, structure, entries, &visible) {
                let path = format!("{prefix}{name}");
                if let Shown::Entry(id) = shown {
                    view.paths.insert(id, path.clone());
                    if matches!(entries.get(&id).map(|e| &e.kind), Some(Kind::Dir)) {
                        dirs.push(id);
                    }
                }
                view.by_path.insert(path, shown);
            }
        }
        view
    }

    pub fn get(&self, path: &str) -> Option<Shown> {
        self.by_path.get(path).copied()
    }

    pub fn path(&self, entry: EntryId) -> Option<&str> {
        self.paths.get(&entry).map(String::as_str)
    }

    /// Every visible path (the root excluded), in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Shown)> + '_ {
        self.by_path.iter().map(|(path, shown)| (path.as_str(), *shown))
    }
}

/// The entries that show (the root included), found in one walk down the
/// tree carrying the deletes of the directories above, then up again:
/// a shown entry makes its directory shown. (Iterative: a peer can build
/// a tree deeper than the stack.)
fn visible_entries(structure: &Structure, entries: &HashMap<EntryId, Entry>) -> HashSet<EntryId> {
    enum Step {
        Enter(EntryId),
        Leave(EntryId, usize),
    }
    let mut visible = HashSet::new();
    let mut scope = Vec::new();
    let mut steps = vec![Step::Enter(EntryId::Root)];
    while let Some(step) = steps.pop() {
        match step {
            Step::Enter(id) => {
                let before = scope.len();
                if let Some(entry) = entries.get(&id) {
                    scope.extend(entry.deletes.iter());
                    if id == EntryId::Root || !entry.removed_by(scope.iter().copied()) {
                        visible.insert(id);
                    }
                }
                steps.push(Step::Leave(id, before));
                steps.extend(structure.children(id).map(Step::Enter));
            }
            Step::Leave(id, before) => {
                scope.truncate(before);
                if let (true, Some(place)) = (visible.contains(&id), structure.place(id)) {
                    visible.insert(place.parent);
                }
            }
        }
    }
    visible
}

/// The names of a directory's shown children and conflict copies.
fn name_children(
    dir: EntryId,
    structure: &Structure,
    entries: &HashMap<EntryId, Entry>,
    visible: &HashSet<EntryId>,
) -> Vec<(String, Shown)> {
    let mut by_name: BTreeMap<&str, Vec<(Stamp, EntryId)>> = BTreeMap::new();
    for child in structure.children(dir).filter(|c| visible.contains(c)) {
        let place = structure.place(child).expect("a child has a place");
        by_name.entry(place.name.as_str()).or_default().push((place.stamp, child));
    }
    let mut taken: BTreeSet<String> = by_name.keys().map(|name| name.to_string()).collect();
    let mut named = Vec::new();
    let mut losers = Vec::new();
    for (name, mut group) in by_name {
        group.sort();
        named.push((name.to_string(), Shown::Entry(group[0].1)));
        losers.extend(group[1..].iter().map(|&(stamp, id)| (name.to_string(), stamp, Shown::Entry(id))));
    }
    losers.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (name, stamp, shown) in losers {
        named.push((conflict_name(&name, stamp, &mut taken), shown));
    }
    let mut copies = Vec::new();
    for (name, shown) in &named {
        let Shown::Entry(id) = shown else { continue };
        if let Some(Kind::Binary { content, .. }) = entries.get(id).map(|e| &e.kind) {
            copies.extend(content.losers().map(|(value, stamp, _)| (name.clone(), stamp, *id, value)));
        }
    }
    copies.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (name, stamp, id, value) in copies {
        named.push((conflict_name(&name, stamp, &mut taken), Shown::ConflictCopy(id, value)));
    }
    named
}

/// `name` marked as put there by the replica of `stamp`, unique in `taken`.
fn conflict_name(name: &str, stamp: Stamp, taken: &mut BTreeSet<String>) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let who = &stamp.1.as_bytes()[..4];
    let who = who.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut candidate = format!("{stem}~{who}{ext}");
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{stem}~{who}-{n}{ext}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}
