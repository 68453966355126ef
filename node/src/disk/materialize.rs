//! Tree to disk: what remote operations changed is written out, safely.

use super::files::{self, Found, Stat};
use super::names::{refuse_remote_path, PARK_PREFIX};
use super::{kind_of, split, DiskError, DiskSync, Ident, Kind, Known, SyncReport};
use crate::replica::Replica;
use memo_core::tree::{Content, EntryId, EntryKind, Status, TreeOpKind};
use memo_core::{TreeOp, WorkTree};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What the tree shows at a path.
#[derive(Clone, Copy, Debug)]
struct Want {
    ident: Ident,
    kind: EntryKind,
}

type Desired = BTreeMap<String, Want>;

impl DiskSync {
    /// Notes what applied remote operations changed: contents to write,
    /// or the tree's shape to reconcile.
    pub(super) fn note_applied(&mut self, applied: &[TreeOp]) {
        for op in applied {
            match &op.kind {
                TreeOpKind::Edit { file, .. } | TreeOpKind::SetExecutable { file, .. } => {
                    self.dirty.insert(*file);
                }
                TreeOpKind::SetContent { entry, .. } => {
                    // Concurrent values show as conflict copies: new paths.
                    self.dirty.insert(*entry);
                    self.needs_reconcile = true;
                }
                TreeOpKind::Create { .. } | TreeOpKind::Move { .. } | TreeOpKind::Delete { .. } => {
                    self.needs_reconcile = true;
                }
                TreeOpKind::Commit { .. } | TreeOpKind::Checkout { .. } | TreeOpKind::Opaque { .. } => {}
            }
        }
    }

    /// Brings the disk's shape (which paths exist, of which kind) to the
    /// tree's: removals and moves out first (deepest first), then creates
    /// and moves in (parents first).
    pub(super) fn reconcile(&mut self, replica: &mut Replica, report: &mut SyncReport) -> Result<(), DiskError> {
        self.needs_reconcile = false;
        let mut desired = self.desired(replica.tree());
        let in_the_way = self.in_the_way(&desired);
        if !in_the_way.is_empty() {
            let ingested = self.ingest_scopes(replica, in_the_way, false)?;
            if !ingested.ops.is_empty() {
                desired = self.desired(replica.tree());
            }
            report.absorb(ingested);
        }
        self.move_out(&desired, report)?;
        self.move_in(replica.tree(), &desired, report)
    }

    /// Every path the tree shows and this disk may hold. On a file system
    /// that folds case, of paths equal but for case the first (in byte
    /// order) is kept.
    fn desired(&self, tree: &WorkTree) -> Desired {
        let mut desired = Desired::new();
        let mut folded = std::collections::HashSet::new();
        for info in tree.entries() {
            if info.status == Status::Deleted {
                continue;
            }
            if self.case_insensitive && !folded.insert(info.path.to_lowercase()) {
                tracing::warn!(path = info.path, "not written: its name differs only in case from another one");
                continue;
            }
            let ident = match info.kind {
                EntryKind::ConflictCopy => Ident::Copy,
                _ => Ident::Entry(info.id),
            };
            desired.insert(info.path, Want { ident, kind: info.kind });
        }
        desired
    }

    /// Paths the reconcile is about to change whose disk content may hold
    /// a user's change: the known ones that go or move, and the free ones
    /// where something unknown appeared.
    fn in_the_way(&self, desired: &Desired) -> Vec<String> {
        let mut paths: Vec<String> = self
            .known
            .iter()
            .filter(|(rel, known)| desired.get(*rel).map(|w| w.ident) != Some(known.ident))
            .map(|(rel, _)| rel.clone())
            .collect();
        for rel in desired.keys().filter(|rel| !self.known.contains_key(*rel)) {
            if matches!(files::lstat(&self.abs(rel)), Ok(Some(_))) {
                paths.push(rel.clone());
            }
        }
        paths
    }

    /// Removes what the tree no longer shows and moves out what it shows
    /// elsewhere: straight to the new place when that is free, else parked
    /// under a temporary name until `move_in`.
    fn move_out(&mut self, desired: &Desired, report: &mut SyncReport) -> Result<(), DiskError> {
        let placed: HashMap<EntryId, &String> = desired
            .iter()
            .filter_map(|(rel, w)| match w.ident {
                Ident::Entry(id) => Some((id, rel)),
                Ident::Copy => None,
            })
            .collect();
        let paths: Vec<String> = self.known.keys().rev().cloned().collect();
        for rel in paths {
            let Some(known) = self.known.get(&rel) else { continue };
            if desired.get(&rel).map(|w| w.ident) == Some(known.ident) {
                continue;
            }
            let to = match known.ident {
                Ident::Entry(id) => placed.get(&id).copied(),
                Ident::Copy => None,
            };
            match to {
                Some(to) if self.is_free(to, desired) => self.rename(&rel, to, report)?,
                Some(_) => self.park(&rel, report)?,
                None => self.remove(&rel, report)?,
            }
        }
        Ok(())
    }

    /// Whether an entry can be moved to `to` right away: its directory is
    /// on disk as the tree wants it, and nothing is there.
    fn is_free(&self, to: &str, desired: &Desired) -> bool {
        let dir = split(to).0;
        let dir_ready = dir.is_empty()
            || matches!((self.known.get(dir), desired.get(dir)), (Some(k), Some(w)) if k.ident == w.ident);
        dir_ready && !self.known.contains_key(to) && matches!(files::lstat(&self.abs(to)), Ok(None))
    }

    fn rename(&mut self, from: &str, to: &str, report: &mut SyncReport) -> Result<(), DiskError> {
        let (from_abs, to_abs) = (self.abs(from), self.abs(to));
        std::fs::rename(&from_abs, &to_abs).map_err(DiskError::io(&from_abs))?;
        self.rekey(from, to);
        report.written += 1;
        Ok(())
    }

    fn park(&mut self, rel: &str, report: &mut SyncReport) -> Result<(), DiskError> {
        let parked = (0..)
            .map(|n| format!("{PARK_PREFIX}{n}"))
            .find(|name| !self.known.contains_key(name) && matches!(files::lstat(&self.abs(name)), Ok(None)))
            .expect("some name is free");
        self.rename(rel, &parked, report)
    }

    /// Removes a path the tree no longer shows, if it is still what the
    /// node knew (a directory only if empty: one holding files that are
    /// not replicated stays).
    fn remove(&mut self, rel: &str, report: &mut SyncReport) -> Result<(), DiskError> {
        let known = self.known.remove(rel).expect("listed");
        let abs = self.abs(rel);
        let removed = match (known.kind, files::lstat(&abs).map_err(DiskError::io(&abs))?) {
            (_, None) => return Ok(()),
            (Kind::Dir, Some(Found::Dir(_))) => std::fs::remove_dir(&abs),
            (_, Some(_)) if self.disk_matches(rel, &known)? => std::fs::remove_file(&abs),
            (_, Some(_)) => {
                tracing::warn!(path = rel, "kept: deleted by a peer, but changed here since the node last read it");
                return Ok(());
            }
        };
        match removed {
            Ok(()) => report.written += 1,
            Err(error) => tracing::warn!(path = rel, %error, "kept: holds files that are not replicated"),
        }
        Ok(())
    }

    /// Writes every path the tree shows that the disk lacks, moving parked
    /// or misplaced entries into place.
    fn move_in(&mut self, tree: &WorkTree, desired: &Desired, report: &mut SyncReport) -> Result<(), DiskError> {
        let mut known_at = self.known_paths();
        for (rel, want) in desired {
            if self.known.get(rel).is_some_and(|k| k.ident == want.ident) {
                continue;
            }
            if let Some(why) = refuse_remote_path(rel) {
                tracing::warn!(path = rel, why, "a remote name is not written");
                continue;
            }
            if !self.parent_ready(rel)? {
                continue;
            }
            if files::lstat(&self.abs(rel)).map_err(DiskError::io(self.abs(rel)))?.is_some() {
                tracing::warn!(path = rel, "not written: a file the node has not read yet is in the way");
                continue;
            }
            let mut from = match want.ident {
                Ident::Entry(id) => known_at.get(&id).cloned(),
                Ident::Copy => None,
            };
            if from.as_ref().is_some_and(|p| self.known.get(p).map(|k| k.ident) != Some(want.ident)) {
                known_at = self.known_paths();
                from = known_at.get(&entry_of(want.ident)).cloned();
            }
            match from {
                Some(from) => self.rename(&from, rel, report)?,
                None => self.write_new(tree, rel, *want, report)?,
            }
        }
        Ok(())
    }

    /// Where each known entry is on disk.
    fn known_paths(&self) -> HashMap<EntryId, String> {
        self.known
            .iter()
            .filter_map(|(rel, k)| match k.ident {
                Ident::Entry(id) => Some((id, rel.clone())),
                Ident::Copy => None,
            })
            .collect()
    }

    /// Whether `rel`'s directory is on disk, a real directory all the way
    /// down from the root (never a link), and known.
    fn parent_ready(&self, rel: &str) -> Result<bool, DiskError> {
        let dir = split(rel).0;
        if !dir.is_empty() && !self.known.get(dir).is_some_and(|k| k.kind == Kind::Dir) {
            return Ok(false);
        }
        files::parents_are_dirs(&self.root, rel).map_err(DiskError::io(self.abs(rel)))
    }

    /// Makes a new path on disk holding the tree's entry.
    fn write_new(&mut self, tree: &WorkTree, rel: &str, want: Want, report: &mut SyncReport) -> Result<(), DiskError> {
        let abs = self.abs(rel);
        let (dir, name) = split(rel);
        let dir_abs = self.abs(dir);
        let content = match tree.read(rel) {
            Ok(content) => content,
            Err(error) => {
                tracing::warn!(path = rel, %error, "not written: unreadable in the tree");
                return Ok(());
            }
        };
        let executable = tree.entry_info(rel).is_some_and(|i| i.executable);
        let mode = if executable { 0o755 } else { 0o644 };
        let sync = self.config.sync_writes;
        let (stat, bytes, text) = match content {
            Content::Dir => {
                std::fs::create_dir(&abs).map_err(DiskError::io(&abs))?;
                let stat = files::lstat(&abs).ok().flatten().and_then(|f| f.stat()).unwrap_or(Stat::UNKNOWN);
                (stat, Vec::new(), false)
            }
            Content::Text(text) => {
                let bytes = text.into_bytes();
                (files::write_atomic(&dir_abs, name, &bytes, mode, sync).map_err(DiskError::io(&abs))?, bytes, true)
            }
            Content::Binary(bytes) => {
                (files::write_atomic(&dir_abs, name, &bytes, mode, sync).map_err(DiskError::io(&abs))?, bytes, false)
            }
            Content::Symlink(target) => (
                files::symlink_atomic(&dir_abs, name, &target).map_err(DiskError::io(&abs))?,
                target.into_bytes(),
                false,
            ),
        };
        let mut known = Known::new(want.ident, kind_of(want.kind, text), stat, files::hash(&bytes));
        known.version = Arc::new(tree.version().clone());
        self.known.insert(rel.to_string(), known);
        report.written += 1;
        Ok(())
    }

    /// Whether the file or link at `rel` is still what `known` records: by
    /// its stat, and by its content when the stat cannot tell.
    fn disk_matches(&self, rel: &str, known: &Known) -> Result<bool, DiskError> {
        let abs = self.abs(rel);
        let Some(found) = files::lstat(&abs).map_err(DiskError::io(&abs))? else { return Ok(false) };
        if !known.may_differ(&found) {
            return Ok(true);
        }
        if found.stat() != Some(known.stat) {
            return Ok(false);
        }
        let content = match found {
            Found::Symlink(_) => std::fs::read_link(&abs).map(|t| t.into_os_string().into_encoded_bytes()),
            _ => std::fs::read(&abs),
        };
        Ok(content.is_ok_and(|content| files::hash(&content) == known.hash))
    }

    /// Writes out the entries whose tree content may differ from the disk.
    pub(super) fn flush_dirty(&mut self, replica: &mut Replica, report: &mut SyncReport) -> Result<(), DiskError> {
        for id in std::mem::take(&mut self.dirty) {
            let Some(rel) = replica.tree().path_of(id) else { continue };
            match self.known.get(&rel) {
                Some(known) if known.ident == Ident::Entry(id) => self.write_content(replica, &rel, id, report)?,
                _ => self.needs_reconcile = true,
            }
        }
        Ok(())
    }

    /// Replaces the file at `rel` with the tree's content, if it differs.
    /// The disk must be what the node last knew: a user's change found
    /// there is ingested first (and merged), then the write is retried.
    fn write_content(
        &mut self,
        replica: &mut Replica,
        rel: &str,
        id: EntryId,
        report: &mut SyncReport,
    ) -> Result<(), DiskError> {
        for _ in 0..3 {
            let tree = replica.tree();
            let Some(known) = self.known.get(rel).cloned() else { return Ok(()) };
            let Some(info) = tree.entry_info(rel) else { return Ok(()) };
            let bytes = match tree.read(rel) {
                Ok(Content::Text(text)) => text.into_bytes(),
                Ok(Content::Binary(bytes)) => bytes,
                Ok(Content::Symlink(target)) => target.into_bytes(),
                Ok(Content::Dir) | Err(_) => return Ok(()),
            };
            let hash = files::hash(&bytes);
            let same_bit = known.kind == Kind::Symlink || known.executable() == info.executable;
            if hash == known.hash && same_bit && known.text_base.is_none() {
                return Ok(()); // what the disk has (e.g. the echo of our own edit)
            }
            let abs = self.abs(rel);
            if !self.disk_matches(rel, &known)? {
                report.absorb(self.ingest_scopes(replica, vec![rel.to_string()], false)?);
                if self.waiting.contains(rel) {
                    self.dirty.insert(id);
                    return Ok(());
                }
                continue;
            }
            let (dir, name) = split(rel);
            let dir_abs = self.abs(dir);
            let stat = match known.kind {
                Kind::Symlink => files::symlink_atomic(&dir_abs, name, std::str::from_utf8(&bytes).unwrap_or_default()),
                _ => {
                    let mode = files::with_executable(known.stat.mode, info.executable);
                    files::write_atomic(&dir_abs, name, &bytes, mode, self.config.sync_writes)
                }
            }
            .map_err(DiskError::io(&abs))?;
            let version = Arc::new(tree.version().clone());
            self.known.insert(rel.to_string(), Known { hash, version, text_base: None, ..known }.with_stat(stat));
            report.written += 1;
            return Ok(());
        }
        self.dirty.insert(id);
        Ok(())
    }
}

fn entry_of(ident: Ident) -> EntryId {
    match ident {
        Ident::Entry(id) => id,
        Ident::Copy => EntryId::Root,
    }
}
