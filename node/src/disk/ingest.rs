//! Disk to tree: what changed on disk becomes local operations.

use super::files::{self, Found, Read, Stat};
use super::names::{is_internal, refuse_remote_path, WRITE_PREFIX};
use super::text;
use super::{join, split, DiskError, DiskSync, Ident, Kind, Known, SyncReport};
use crate::replica::{ChangeError, Replica};
use memo_core::tree::{is_text, Content, EntryKind, Status, TreeError};
use memo_core::{TreeOp, VersionVector, WorkTree};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::Arc;

/// What the disk showed in the paths looked at.
type Seen = BTreeMap<String, Found>;

impl DiskSync {
    /// Reads `scopes` (paths, each with what is under it; `""` is
    /// everything) and the waiting paths, and turns what changed into local
    /// operations, made and stored as one change.
    pub(super) fn ingest_scopes(
        &mut self,
        replica: &mut Replica,
        mut scopes: Vec<String>,
        full: bool,
    ) -> Result<SyncReport, DiskError> {
        self.check_root()?;
        scopes.extend(std::mem::take(&mut self.waiting));
        let scopes = outermost(scopes);
        if scopes.is_empty() {
            return Ok(SyncReport::default());
        }
        let mut seen = Seen::new();
        let mut in_scope = BTreeSet::new();
        for scope in &scopes {
            self.observe(scope, full, &mut seen)?;
            in_scope.extend(self.known_under(scope));
        }
        let guard = self.config.mass_delete_guard;
        if full && seen.is_empty() && guard > 0 && self.known.len() >= guard {
            return Err(DiskError::RootEmptied { root: self.root.clone(), known: self.known.len() });
        }
        let mut fresh = Vec::new();
        let made = replica.change(|tree| Ok::<_, Infallible>(self.apply(tree, &seen, &in_scope, &mut fresh)));
        let ops = made.map_err(|e| match e {
            ChangeError::Store(error) => DiskError::Store(error),
            ChangeError::Refused(never) => match never {},
        })?;
        let version = Arc::new(replica.tree().version().clone());
        for rel in fresh {
            if let Some(known) = self.known.get_mut(&rel) {
                known.version = version.clone();
            }
        }
        Ok(SyncReport { ops, written: 0, waiting: self.waiting.len() })
    }

    /// Walks `scope` on disk (never through a link), recording what is
    /// replicated or already known. A full scan reads every `.gitignore`
    /// again and clears the node's temporaries left by a crash.
    fn observe(&mut self, scope: &str, full: bool, seen: &mut Seen) -> Result<(), DiskError> {
        let parents_ok = files::parents_are_dirs(&self.root, scope).map_err(DiskError::io(self.abs(scope)))?;
        if !scope.is_empty() && !parents_ok {
            return Ok(());
        }
        let mut stack = vec![scope.to_string()];
        while let Some(rel) = stack.pop() {
            let abs = self.abs(&rel);
            let Some(found) = files::lstat(&abs).map_err(DiskError::io(&abs))? else { continue };
            if !rel.is_empty() {
                let name = split(&rel).1;
                if is_internal(name) {
                    if full && name.starts_with(WRITE_PREFIX) && matches!(found, Found::File(_) | Found::Symlink(_)) {
                        let _ = std::fs::remove_file(&abs);
                    }
                    continue;
                }
                let is_dir = matches!(found, Found::Dir(_));
                if found == Found::Other || (self.rules.is_ignored(&rel, is_dir) && !self.known.contains_key(&rel)) {
                    continue;
                }
                seen.insert(rel.clone(), found);
            }
            if let Found::Dir(_) = found {
                self.list_dir(&rel, full, &mut stack)?;
            }
        }
        Ok(())
    }

    fn list_dir(&mut self, rel: &str, full: bool, stack: &mut Vec<String>) -> Result<(), DiskError> {
        let abs = self.abs(rel);
        let listing = match std::fs::read_dir(&abs) {
            Ok(listing) => listing,
            Err(error) => {
                tracing::warn!(dir = %abs.display(), %error, "cannot list a directory: skipped");
                return Ok(());
            }
        };
        for item in listing {
            let item = item.map_err(DiskError::io(&abs))?;
            let Some(name) = item.file_name().to_str().map(str::to_string) else {
                tracing::warn!(dir = %abs.display(), name = ?item.file_name(), "a name that is not UTF-8 is not replicated");
                continue;
            };
            if rel.is_empty() && name == ".git" {
                continue;
            }
            if full && name == ".gitignore" {
                self.rules.reload(&join(rel, &name));
            }
            stack.push(join(rel, &name));
        }
        Ok(())
    }

    /// Turns the differences between `seen` and the record of `in_scope`
    /// into operations on `tree`. A change the tree refuses is skipped
    /// with a warning: nothing here may fail once the tree has changed.
    fn apply(
        &mut self,
        tree: &mut WorkTree,
        seen: &Seen,
        in_scope: &BTreeSet<String>,
        fresh: &mut Vec<String>,
    ) -> Vec<TreeOp> {
        let mut pass = Pass { ops: Vec::new(), fresh };
        let mut gone: Vec<String> = Vec::new();
        for rel in in_scope {
            let Some(known) = self.known.get(rel) else { continue };
            match seen.get(rel) {
                None => gone.push(rel.clone()),
                Some(found) if !same_kind(known.kind, found) => self.delete(tree, rel, &mut pass),
                Some(_) => {}
            }
        }
        let mut new: Vec<&String> = seen.keys().filter(|rel| !self.known.contains_key(*rel)).collect();
        new.sort_by_key(|rel| (rel.matches('/').count(), *rel));
        let by_inode: HashMap<(u64, u64), &String> =
            gone.iter().filter_map(|rel| self.known.get(rel).map(|k| ((k.stat.dev, k.stat.ino), rel))).collect();
        for rel in new {
            if self.known.contains_key(rel) {
                continue; // arrived with its directory's move
            }
            let found = seen[rel];
            let stat = found.stat().expect("only files, links and directories are seen");
            let moved_from = by_inode.get(&(stat.dev, stat.ino)).filter(|from| self.is_gone(from, seen));
            if let Some(from) = moved_from.filter(|from| same_kind(self.known[from.as_str()].kind, &found)) {
                if self.move_entry(tree, from, rel, &mut pass) {
                    continue;
                }
            }
            self.create(tree, rel, found, &gone, seen, &mut pass);
        }
        for (rel, found) in seen {
            let changed = self.known.get(rel).is_some_and(|k| k.kind != Kind::Dir && k.may_differ(found));
            if changed {
                self.update(tree, rel, *found, &mut pass);
            }
        }
        for rel in gone {
            if self.is_gone(&rel, seen) {
                self.delete(tree, &rel, &mut pass);
            }
        }
        pass.ops
    }

    fn is_gone(&self, rel: &str, seen: &Seen) -> bool {
        self.known.contains_key(rel) && !seen.contains_key(rel)
    }

    /// The tree path of the directory at `rel` on disk, made in the tree
    /// (with its parents) if the tree lacks it.
    fn ensure_dir(&mut self, tree: &mut WorkTree, rel: &str, pass: &mut Pass<'_>) -> Option<String> {
        if rel.is_empty() {
            return Some(String::new());
        }
        if let Some(Known { ident: Ident::Entry(id), kind: Kind::Dir, .. }) = self.known.get(rel) {
            if let Some(path) = tree.path_of(*id) {
                return Some(path);
            }
            // Deleted by a peer meanwhile: made again (only its record
            // goes; what is under it is still known, and written out or
            // removed as the tree says).
            self.known.remove(rel);
        }
        let (dir, name) = split(rel);
        let path = join(&self.ensure_dir(tree, dir, pass)?, name);
        match tree.create_dir(&path) {
            Ok(op) => pass.ops.push(op),
            Err(TreeError::Exists(_)) if tree.entry_info(&path).is_some_and(|i| i.kind == EntryKind::Dir) => {}
            Err(error) => {
                tracing::warn!(path = rel, %error, "directory not replicated");
                return None;
            }
        }
        let stat = files::lstat(&self.abs(rel)).ok().flatten().and_then(|f| f.stat()).unwrap_or(Stat::UNKNOWN);
        let id = tree.entry_at(&path)?;
        self.known.insert(rel.to_string(), Known::new(Ident::Entry(id), Kind::Dir, stat, [0; 32]));
        pass.fresh.push(rel.to_string());
        Some(path)
    }

    /// Moves the entry known at `from` to `to` (a `mv` on disk).
    fn move_entry(&mut self, tree: &mut WorkTree, from: &str, to: &str, pass: &mut Pass<'_>) -> bool {
        let Ident::Entry(id) = self.known[from].ident else { return false };
        if tree.path_of(id).is_none() {
            return false;
        }
        let Some(parent_path) = self.ensure_dir(tree, split(to).0, pass) else { return false };
        let Some(parent) = tree.entry_at(&parent_path) else { return false };
        match tree.move_entry(id, parent, split(to).1) {
            Ok(op) => pass.ops.push(op),
            Err(error) => {
                tracing::debug!(from, to, %error, "not a move here: made as a new entry");
                return false;
            }
        }
        self.rekey(from, to);
        true
    }

    /// Makes a new entry for what is at `rel` on disk.
    fn create(
        &mut self,
        tree: &mut WorkTree,
        rel: &str,
        found: Found,
        gone: &[String],
        seen: &Seen,
        pass: &mut Pass<'_>,
    ) {
        match found {
            Found::Dir(_) => drop(self.ensure_dir(tree, rel, pass)),
            Found::Symlink(stat) => {
                let Some(target) = self.read_link(rel) else { return };
                let Some(parent) = self.ensure_dir(tree, split(rel).0, pass) else { return };
                let path = join(&parent, split(rel).1);
                match tree.create_symlink(&path, &target) {
                    Ok(op) => {
                        pass.ops.push(op);
                        let id = tree.entry_at(&path).expect("just made");
                        let known = Known::new(Ident::Entry(id), Kind::Symlink, stat, files::hash(target.as_bytes()));
                        self.record(rel, known, pass);
                    }
                    Err(error) => tracing::warn!(path = rel, %error, "symlink not replicated"),
                }
            }
            Found::File(_) => {
                let Some((content, stat)) = self.read_file(rel, None) else { return };
                let hash = files::hash(&content);
                let twin = gone.iter().find(|g| {
                    self.is_gone(g, seen)
                        && self.known[g.as_str()].hash == hash
                        && self.known[g.as_str()].kind != Kind::Dir
                });
                if let Some(from) = twin.cloned() {
                    if self.move_entry(tree, &from, rel, pass) {
                        let moved = self.known.remove(rel).expect("moved here");
                        self.known.insert(rel.to_string(), moved.with_stat(stat));
                        return;
                    }
                }
                self.create_file(tree, rel, stat, content, pass);
            }
            Found::Other => {}
        }
    }

    fn create_file(&mut self, tree: &mut WorkTree, rel: &str, stat: Stat, content: Vec<u8>, pass: &mut Pass<'_>) {
        let Some(parent) = self.ensure_dir(tree, split(rel).0, pass) else { return };
        let path = join(&parent, split(rel).1);
        let (hash, executable) = (files::hash(&content), stat.executable());
        let as_text = self.text_of(&content).map(str::to_string);
        let made = match &as_text {
            Some(text) => tree.create_text(&path, text).and_then(|mut ops| {
                if executable {
                    ops.push(tree.set_executable(&path, true)?);
                }
                Ok(ops)
            }),
            None => tree.create_binary(&path, content.clone(), executable).map(|op| vec![op]),
        };
        match made {
            Ok(ops) => {
                pass.ops.extend(ops);
                let id = tree.entry_at(&path).expect("just made");
                let kind = if as_text.is_some() { Kind::Text } else { Kind::Binary };
                self.record(rel, Known::new(Ident::Entry(id), kind, stat, hash), pass);
            }
            Err(TreeError::Exists(_)) => self.join_clash(tree, rel, &path, stat, content, pass),
            Err(error) => tracing::warn!(path = rel, %error, "file not replicated"),
        }
    }

    /// The tree shows an entry at `path` that the disk never had (a peer's
    /// create not written yet) and the user made a file there: both are
    /// kept in the one entry (texts merged, a binary file's content set).
    fn join_clash(
        &mut self,
        tree: &mut WorkTree,
        rel: &str,
        path: &str,
        stat: Stat,
        content: Vec<u8>,
        pass: &mut Pass<'_>,
    ) {
        let Some(info) = tree.entry_info(path).filter(|i| i.kind == EntryKind::File) else {
            tracing::warn!(path = rel, "not replicated: the tree has another kind of entry there");
            return;
        };
        let hash = files::hash(&content);
        let mut known = Known::new(Ident::Entry(info.id), Kind::Binary, stat, hash);
        match (tree.read(path), self.text_of(&content)) {
            (Ok(Content::Text(theirs)), Some(ours)) => {
                known.kind = Kind::Text;
                if theirs != ours {
                    self.apply_edits(tree, path, text::rebase("", ours, &theirs), pass);
                    known.text_base = Some(ours.into());
                    self.dirty.insert(info.id);
                }
            }
            (Ok(Content::Binary(theirs)), None) if theirs == content => {}
            (Ok(Content::Binary(_)), None) => match tree.write(path, content) {
                Ok(op) => pass.ops.push(op),
                Err(error) => return tracing::warn!(path = rel, %error, "file not replicated"),
            },
            _ => return tracing::warn!(path = rel, "not replicated: the tree has a file of another kind there"),
        }
        self.record(rel, known, pass);
    }

    /// A known file or link whose stat changed: its new content.
    fn update(&mut self, tree: &mut WorkTree, rel: &str, found: Found, pass: &mut Pass<'_>) {
        let known = self.known[rel].clone();
        let (content, stat) = match found {
            Found::Symlink(stat) => match self.read_link(rel) {
                Some(target) => (target.into_bytes(), stat),
                None => return,
            },
            _ => match self.read_file(rel, Some(&known)) {
                Some(read) => read,
                None => return,
            },
        };
        let hash = files::hash(&content);
        let same_bit = known.kind == Kind::Symlink || stat.executable() == known.executable();
        if hash == known.hash && same_bit {
            // Touched, or read again because racy: no change.
            self.known.insert(rel.to_string(), known.with_stat(stat));
            return;
        }
        let entry = match known.ident {
            Ident::Entry(id) => tree.path_of(id).map(|path| (id, path)),
            Ident::Copy => {
                if hash != known.hash {
                    tracing::warn!(path = rel, "an edit of a conflict copy is not replicated: edit the file itself");
                }
                None
            }
        };
        let Some((id, path)) = entry else {
            if known.ident != Ident::Copy {
                // Deleted by a peer while the user changed it: the change
                // wins, as a new entry.
                self.forget(rel);
                self.create_file(tree, rel, stat, content, pass);
            } else {
                self.known.insert(rel.to_string(), Known { hash, ..known }.with_stat(stat));
            }
            return;
        };
        let mut next = Known { hash, text_base: None, ..known.clone() }.with_stat(stat);
        if hash != known.hash {
            match (known.kind, self.text_of(&content)) {
                (Kind::Text, Some(ours)) => {
                    if self.merge_text(tree, id, &path, &known, ours, pass) {
                        next.text_base = Some(ours.into());
                    }
                }
                (Kind::Binary | Kind::Symlink, None) | (Kind::Symlink, Some(_)) => match tree.write(&path, content) {
                    Ok(op) => pass.ops.push(op),
                    Err(error) => return tracing::warn!(path = rel, %error, "change not replicated"),
                },
                _ => {
                    // Text became binary or back: a new entry of the new kind.
                    if let Ok(op) = tree.delete(&path) {
                        pass.ops.push(op);
                    }
                    self.forget(rel);
                    return self.create_file(tree, rel, stat, content, pass);
                }
            }
        }
        if known.kind != Kind::Symlink && stat.executable() != known.executable() {
            match tree.set_executable(&path, stat.executable()) {
                Ok(op) => pass.ops.push(op),
                Err(error) => tracing::warn!(path = rel, %error, "executable bit not replicated"),
            }
        }
        self.record(rel, next, pass);
    }

    /// Makes the tree's text at `path` hold the user's edits. Returns
    /// whether the tree had changed too (a merge: the disk must be written).
    fn merge_text(
        &mut self,
        tree: &mut WorkTree,
        id: memo_core::tree::EntryId,
        path: &str,
        known: &Known,
        ours: &str,
        pass: &mut Pass<'_>,
    ) -> bool {
        let Ok(theirs) = tree.read_text(path) else { return false };
        let base: Option<String> = match &known.text_base {
            Some(base) => Some(base.to_string()),
            None if files::hash(theirs.as_bytes()) == known.hash => None,
            None => tree.text_at(id, &known.version).ok(),
        };
        let (edits, merged) = match base {
            Some(base) => (text::rebase(&base, ours, &theirs), true),
            None => (text::diff(&theirs, ours).into_iter().rev().collect(), false),
        };
        self.apply_edits(tree, path, edits, pass);
        if merged {
            self.dirty.insert(id);
        }
        merged
    }

    fn apply_edits(&mut self, tree: &mut WorkTree, path: &str, edits: Vec<text::Edit>, pass: &mut Pass<'_>) {
        for edit in edits {
            match tree.edit_text(path, edit.start, edit.end, &edit.text) {
                Ok(ops) => pass.ops.extend(ops),
                Err(error) => tracing::warn!(path, %error, "an edit of the text was refused"),
            }
        }
    }

    /// Deletes the entry known at `rel` (and forgets what is under it).
    fn delete(&mut self, tree: &mut WorkTree, rel: &str, pass: &mut Pass<'_>) {
        let path = match self.known[rel].ident {
            Ident::Entry(id) => tree.path_of(id),
            Ident::Copy => Some(rel.to_string()),
        };
        if let Some(path) = path {
            match tree.delete(&path) {
                Ok(op) => pass.ops.push(op),
                Err(error) => tracing::debug!(path = rel, %error, "already gone from the tree"),
            }
        }
        self.forget(rel);
    }

    fn record(&mut self, rel: &str, known: Known, pass: &mut Pass<'_>) {
        self.known.insert(rel.to_string(), known);
        pass.fresh.push(rel.to_string());
    }

    /// A file's content once stable; `None` (and the path waits) if not.
    fn read_file(&mut self, rel: &str, known: Option<&Known>) -> Option<(Vec<u8>, Stat)> {
        let abs = self.abs(rel);
        match files::read_stable(&abs, self.config.settle) {
            Ok(Read::Stable { content, stat }) => {
                let was_full = known.is_some_and(|k| k.stat.size > 0 && k.stat != Stat::UNKNOWN);
                if was_full && files::empty_too_recent(&stat, self.config.empty_grace) {
                    self.waiting.insert(rel.to_string());
                    return None;
                }
                if content.len() > memo_core::tree::MAX_CONTENT_BYTES {
                    tracing::warn!(path = rel, bytes = content.len(), "file too large to replicate: skipped");
                    return None;
                }
                Some((content, stat))
            }
            Ok(Read::Unstable) => {
                self.waiting.insert(rel.to_string());
                None
            }
            Err(error) => {
                tracing::warn!(path = rel, %error, "cannot read a file: not replicated");
                None
            }
        }
    }

    fn read_link(&self, rel: &str) -> Option<String> {
        match std::fs::read_link(self.abs(rel)) {
            Ok(target) => match target.into_os_string().into_string() {
                Ok(target) => Some(target),
                Err(_) => {
                    tracing::warn!(path = rel, "a symlink whose target is not UTF-8 is not replicated");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(path = rel, %error, "cannot read a symlink");
                None
            }
        }
    }

    /// The content as text, if it is replicated as text.
    fn text_of<'c>(&self, content: &'c [u8]) -> Option<&'c str> {
        match content.len() <= self.config.max_text_bytes && is_text(content) {
            true => std::str::from_utf8(content).ok(),
            false => None,
        }
    }

    /// The start-up scan's first half: the record rebuilt from what disk
    /// and tree agree on (see the module documentation).
    pub(super) fn adopt(&mut self, replica: &mut Replica) -> Result<(), DiskError> {
        self.started = true;
        let then = self.synced_before.take().map(Arc::new);
        let now = Arc::new(replica.tree().version().clone());
        let tree = replica.tree();
        for info in tree.entries() {
            if info.status == Status::Deleted || refuse_remote_path(&info.path).is_some() {
                continue;
            }
            let ident = match info.kind {
                EntryKind::ConflictCopy => Ident::Copy,
                _ => Ident::Entry(info.id),
            };
            let abs = self.abs(&info.path);
            let parents_ok = files::parents_are_dirs(&self.root, &info.path).map_err(DiskError::io(&abs))?;
            let found = match parents_ok {
                true => files::lstat(&abs).map_err(DiskError::io(&abs))?,
                false => None,
            };
            match self.adopt_one(tree, &info.path, info.kind, ident, found, &now, then.as_ref()) {
                Some(known) => drop(self.known.insert(info.path, known)),
                None => self.needs_reconcile = true,
            }
        }
        Ok(())
    }

    /// The record of one tree entry at start-up; `None` if the disk lacks
    /// it and it is to be written.
    #[allow(clippy::too_many_arguments)]
    fn adopt_one(
        &mut self,
        tree: &WorkTree,
        rel: &str,
        kind: EntryKind,
        ident: Ident,
        found: Option<Found>,
        now: &Arc<VersionVector>,
        then: Option<&Arc<VersionVector>>,
    ) -> Option<Known> {
        let content = tree.read(rel).ok()?;
        let (bytes, is_text) = match &content {
            Content::Dir => (Vec::new(), false),
            Content::Text(text) => (text.as_bytes().to_vec(), true),
            Content::Binary(bytes) => (bytes.clone(), false),
            Content::Symlink(target) => (target.as_bytes().to_vec(), false),
        };
        let kind = super::kind_of(kind, is_text);
        let Some(found) = found.filter(|f| same_kind(kind, f)) else {
            // Missing here: deleted while the node was down if it existed
            // when the disk was last in step (then recorded, so the scan
            // sees it gone), else a peer's entry to write.
            let existed = match ident {
                Ident::Entry(memo_core::tree::EntryId::Created(op)) => then.is_some_and(|v| v.contains(op)),
                _ => false,
            };
            return (existed && found.is_none()).then(|| Known::new(ident, kind, Stat::UNKNOWN, [0; 32]));
        };
        let stat = found.stat()?;
        let mut known = Known::new(ident, kind, stat, files::hash(&bytes));
        known.version = now.clone();
        if kind == Kind::Dir {
            return Some(known);
        }
        let disk = match found {
            Found::Symlink(_) => self.read_link(rel).map(String::into_bytes),
            _ => std::fs::read(self.abs(rel)).ok(),
        }?;
        if disk == bytes {
            return Some(known);
        }
        let stale = match (ident, then) {
            (Ident::Entry(id), Some(then)) if is_text => tree.text_at(id, then).is_ok_and(|t| t.as_bytes() == disk),
            _ => false,
        };
        if let (true, Ident::Entry(id), Some(then)) = (stale, ident, then) {
            // Unchanged since the last sync: the tree is newer.
            self.dirty.insert(id);
            return Some(Known { hash: files::hash(&disk), version: then.clone(), ..known });
        }
        // Changed while the node was down: read by the scan and merged
        // from the version of the last sync (or, without one, the disk
        // wins over the tree).
        let base = match (ident, then) {
            (Ident::Entry(id), Some(then)) if is_text => tree.text_at(id, then).ok().map(String::into_bytes),
            _ => None,
        };
        let version = if base.is_some() { then.cloned() } else { None }.unwrap_or_else(|| now.clone());
        Some(Known { stat: Stat::UNKNOWN, hash: files::hash(&base.unwrap_or(bytes)), version, ..known })
    }
}

/// What one pass of ingestion made.
struct Pass<'f> {
    ops: Vec<TreeOp>,
    /// Paths recorded in this pass: stamped with the tree version after it.
    fresh: &'f mut Vec<String>,
}

fn same_kind(kind: Kind, found: &Found) -> bool {
    matches!(
        (kind, found),
        (Kind::Dir, Found::Dir(_)) | (Kind::Text | Kind::Binary, Found::File(_)) | (Kind::Symlink, Found::Symlink(_))
    )
}

/// The scopes with those inside another left out, in order.
fn outermost(mut scopes: Vec<String>) -> Vec<String> {
    scopes.sort();
    scopes.dedup();
    let mut kept: Vec<String> = Vec::new();
    for scope in scopes {
        let inside = kept.iter().any(|k| k.is_empty() || scope == *k || scope.starts_with(&format!("{k}/")));
        if !inside {
            kept.push(scope);
        }
    }
    kept
}
