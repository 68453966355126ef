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
//!   directory stays to hold a surviving file).
//! - **Names**: when several shown entries of one directory have the same
//!   name, the one put there by the smallest stamp (Lamport, replica)
//!   keeps it and each other one is shown as `stem~rrrrrrrr.ext`, where
//!   `rrrrrrrr` starts the id of the replica that put it there (`-2`,
//!   `-3`, ... is added if that name is taken too). A binary file whose
//!   content has concurrent values shows the winner under its name and
//!   each other value as such a conflict copy beside it.
//!
//! The view is computed lazily, one directory at a time, walking down from
//! the top (which is how the deletes of the directories above are known),
//! and each directory's names are kept until a change touches them: an
//! edit costs nothing, a move or create only the directories it involves.

use super::entry::{Entry, Kind};
use super::ids::EntryId;
use super::op::ValueId;
use super::structure::{Stamp, Structure};
use crate::version::VersionVector;
use foldhash::HashMap;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a visible path shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shown {
    Entry(EntryId),
    /// A value of a binary file that lost to a concurrent one.
    ConflictCopy(EntryId, ValueId),
}

/// The names shown in one directory.
#[derive(Debug, Default)]
struct Names {
    by_name: BTreeMap<String, Shown>,
    of_entry: HashMap<EntryId, String>,
}

/// The cache of the visible tree (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct View {
    dirs: RefCell<HashMap<EntryId, Arc<Names>>>,
    shows: RefCell<HashMap<EntryId, bool>>,
    /// Whether any delete was ever applied: until then, everything placed
    /// shows and a move changes nothing below the moved entry.
    any_deletes: bool,
}

/// The view with the state it is computed from.
#[derive(Clone, Copy)]
pub(crate) struct ViewRef<'a> {
    pub view: &'a View,
    pub structure: &'a Structure,
    pub entries: &'a HashMap<EntryId, Entry>,
}

/// The deletes of the directories above a point of the walk.
type Scope<'a> = Vec<&'a VersionVector>;

impl<'a> ViewRef<'a> {
    /// What `path` shows (`""`, the top directory, shows nothing).
    pub fn get(&self, path: &str) -> Option<Shown> {
        let mut scope = self.deletes_of(EntryId::Root).collect();
        let mut dir = EntryId::Root;
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            let shown = *self.names(dir, &scope).by_name.get(part)?;
            match (shown, parts.peek()) {
                (_, None) => return Some(shown),
                (Shown::Entry(entry), Some(_)) => {
                    scope.extend(self.deletes_of(entry));
                    dir = entry;
                }
                (Shown::ConflictCopy(..), Some(_)) => return None,
            }
        }
        None
    }

    /// Where `entry` shows.
    pub fn path(&self, entry: EntryId) -> Option<String> {
        if entry == EntryId::Root {
            return Some(String::new());
        }
        let chain = self.chain(entry)?;
        let mut scope = self.deletes_of(EntryId::Root).collect();
        let (mut dir, mut path) = (EntryId::Root, String::new());
        for &entry in chain.iter().rev() {
            let names = self.names(dir, &scope);
            let name = names.of_entry.get(&entry)?;
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(name);
            scope.extend(self.deletes_of(entry));
            dir = entry;
        }
        Some(path)
    }

    /// Every visible path (the top directory excluded), in path order.
    pub fn iter(&self) -> Vec<(String, Shown)> {
        let mut shown = Vec::new();
        let mut dirs = vec![(EntryId::Root, String::new(), self.deletes_of(EntryId::Root).collect())];
        while let Some((dir, path, scope)) = dirs.pop() {
            for (name, what) in &self.names(dir, &scope).by_name {
                let child_path = if path.is_empty() { name.clone() } else { format!("{path}/{name}") };
                if let Shown::Entry(child) = what {
                    if self.is_dir(*child) {
                        let mut child_scope = scope.clone();
                        child_scope.extend(self.deletes_of(*child));
                        dirs.push((*child, child_path.clone(), child_scope));
                    }
                }
                shown.push((child_path, *what));
            }
        }
        shown.sort_by(|a, b| a.0.cmp(&b.0));
        shown
    }

    /// Whether `entry` shows (it and every directory above it).
    pub fn shows_entry(&self, entry: EntryId) -> bool {
        if entry == EntryId::Root {
            return true;
        }
        if !self.view.any_deletes {
            return self.structure.ancestors(entry).last() == Some(EntryId::Root);
        }
        let Some(chain) = self.chain(entry) else { return false };
        let mut scope = self.deletes_of(EntryId::Root).collect();
        chain.iter().rev().all(|&at| {
            let shows = self.shows(at, &scope);
            scope.extend(self.deletes_of(at));
            shows
        })
    }

    /// What directory `dir` (which shows) shows under `name`.
    pub fn child(&self, dir: EntryId, name: &str) -> Option<Shown> {
        let cached = self.view.dirs.borrow().get(&dir).cloned();
        let names = cached.unwrap_or_else(|| self.names(dir, &self.scope_of(dir)));
        names.by_name.get(name).copied()
    }

    /// The deletes of `dir` and the directories above it.
    fn scope_of(&self, dir: EntryId) -> Scope<'a> {
        let mut scope: Scope<'a> = self.deletes_of(dir).collect();
        for above in self.structure.ancestors(dir) {
            scope.extend(self.deletes_of(above));
        }
        scope
    }

    /// `entry` and the directories above it up to the root (excluded),
    /// nearest first; `None` if it is not in the tree under the root.
    fn chain(&self, entry: EntryId) -> Option<Vec<EntryId>> {
        let mut chain = vec![entry];
        chain.extend(self.structure.ancestors(entry));
        (chain.pop() == Some(EntryId::Root)).then_some(chain)
    }

    /// The deletes of `entry`.
    fn deletes_of(&self, entry: EntryId) -> impl Iterator<Item = &'a VersionVector> {
        self.entries.get(&entry).into_iter().flat_map(|e| e.deletes.iter())
    }

    fn is_dir(&self, entry: EntryId) -> bool {
        matches!(self.entries.get(&entry).map(|e| &e.kind), Some(Kind::Dir))
    }

    /// The names of `dir`'s children; `scope` holds the deletes of `dir`
    /// and the directories above it.
    fn names(&self, dir: EntryId, scope: &Scope<'a>) -> Arc<Names> {
        if let Some(names) = self.view.dirs.borrow().get(&dir) {
            return names.clone();
        }
        let names = Arc::new(self.compute_names(dir, scope));
        self.view.dirs.borrow_mut().insert(dir, names.clone());
        names
    }

    fn compute_names(&self, dir: EntryId, scope: &Scope<'a>) -> Names {
        let mut by_name: BTreeMap<&str, Vec<(Stamp, EntryId)>> = BTreeMap::new();
        for child in self.structure.children(dir).filter(|c| self.shows(*c, scope)) {
            let place = self.structure.place(child).expect("a child has a place");
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
            if let Some(Kind::Binary { content, .. }) = self.entries.get(id).map(|e| &e.kind) {
                copies.extend(content.losers().map(|(value, stamp, _)| (name.clone(), stamp, *id, value)));
            }
        }
        copies.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (name, stamp, id, value) in copies {
            named.push((conflict_name(&name, stamp, &mut taken), Shown::ConflictCopy(id, value)));
        }
        let mut names = Names::default();
        for (name, shown) in named {
            if let Shown::Entry(id) = shown {
                names.of_entry.insert(id, name.clone());
            }
            names.by_name.insert(name, shown);
        }
        names
    }

    /// Whether `entry`, a child of a directory with deletes `scope`, shows:
    /// it is not removed, or something inside it shows. (Iterative: a peer
    /// can build a tree deeper than the stack.)
    fn shows(&self, entry: EntryId, scope: &Scope<'a>) -> bool {
        if !self.view.any_deletes {
            return true;
        }
        if let Some(&shows) = self.view.shows.borrow().get(&entry) {
            return shows;
        }
        let mut walk = vec![(entry, scope.clone())];
        let mut shows = false;
        while let Some((at, mut scope)) = walk.pop() {
            let Some(e) = self.entries.get(&at) else { continue };
            scope.extend(e.deletes.iter());
            if !e.removed_by(scope.iter().copied()) {
                shows = true;
                break;
            }
            walk.extend(self.structure.children(at).map(|child| (child, scope.clone())));
        }
        self.view.shows.borrow_mut().insert(entry, shows);
        shows
    }
}

impl View {
    /// A view of the same state with nothing computed yet.
    pub fn emptied(&self) -> View {
        View { any_deletes: self.any_deletes, ..View::default() }
    }

    /// Forgets what a change of `entry`'s place, removal or content can
    /// have changed: whether it shows, and the names of every directory
    /// above it (whose showing may depend on it).
    pub fn forget_up(&mut self, structure: &Structure, entry: EntryId) {
        let (dirs, shows) = (self.dirs.get_mut(), self.shows.get_mut());
        shows.remove(&entry);
        for above in structure.ancestors(entry) {
            shows.remove(&above);
            dirs.remove(&above);
        }
    }

    /// Forgets everything at and below `entry` (deletes above it changed),
    /// and above it.
    pub fn forget_subtree(&mut self, structure: &Structure, entry: EntryId) {
        let (dirs, shows) = (self.dirs.get_mut(), self.shows.get_mut());
        let mut walk = vec![entry];
        while let Some(x) = walk.pop() {
            shows.remove(&x);
            dirs.remove(&x);
            walk.extend(structure.children(x));
        }
        self.forget_up(structure, entry);
    }

    /// Forgets what moving `entry` out of `old_parent` can have changed.
    /// Until a delete is applied everything shows, so that is only the
    /// names of the two directories.
    pub fn forget_move(&mut self, structure: &Structure, entry: EntryId, old_parent: Option<EntryId>) {
        if !self.any_deletes {
            let dirs = self.dirs.get_mut();
            if let Some(old) = old_parent {
                dirs.remove(&old);
            }
            if let Some(place) = structure.place(entry) {
                dirs.remove(&place.parent);
            }
            return;
        }
        if let Some(old) = old_parent {
            self.dirs.get_mut().remove(&old);
            self.forget_up(structure, old);
        }
        self.forget_subtree(structure, entry);
    }

    /// Forgets what a delete of `entry` can have changed.
    pub fn forget_delete(&mut self, structure: &Structure, entry: EntryId) {
        self.any_deletes = true;
        self.forget_subtree(structure, entry);
    }

    /// Forgets what a change of `entry`'s content, bit or place can have
    /// changed: the conflict copies beside it when `copies_changed`, and
    /// whether it shows unless it is known to show as not removed (more
    /// changes only keep it so; until a delete is applied, all show).
    pub fn forget_change(&mut self, structure: &Structure, entry: EntryId, copies_changed: bool) {
        if let (true, Some(place)) = (copies_changed, structure.place(entry)) {
            self.dirs.get_mut().remove(&place.parent);
        }
        let shows = self.shows.get_mut().get(&entry).copied();
        if self.any_deletes && shows != Some(true) {
            self.forget_up(structure, entry);
        }
    }
}

/// `name` marked as put there by the replica of `stamp`, unique in `taken`.
fn conflict_name(name: &str, stamp: Stamp, taken: &mut BTreeSet<String>) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let who = crate::hex::encode(&stamp.1.as_bytes()[..4]);
    let mut candidate = format!("{stem}~{who}{ext}");
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{stem}~{who}-{n}{ext}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}
