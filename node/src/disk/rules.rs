//! Which paths are replicated (MISSION F22): not `.git/` (ever), not
//! editors' temporaries, not the node's own temporaries, and not what is
//! ignored *and* untracked: a path matched by a `.gitignore` (at any
//! level), `.git/info/exclude` or the user's global excludes file is left
//! out unless Git tracks it.
//!
//! "Tracked" is what `git ls-files` lists, read at start-up and again when
//! `.git/index` changes (the Git base of a later issue will give it
//! without a subprocess). Without `git` on the machine nothing counts as
//! tracked, and a warning says so.

use super::names::{is_editor_temp, is_internal};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The ignore rules of one working copy.
#[derive(Debug)]
pub struct IgnoreRules {
    root: PathBuf,
    /// One matcher per directory holding a `.gitignore`, by relative path
    /// (`""` for the top).
    gitignores: BTreeMap<String, Gitignore>,
    /// `.git/info/exclude` and the global excludes file: the lowest
    /// precedence, as in Git.
    excludes: Gitignore,
    tracked: HashSet<String>,
    /// Every directory above a tracked file.
    tracked_dirs: HashSet<String>,
}

impl IgnoreRules {
    /// The rules of the working copy at `root` (an absolute path): its top
    /// `.gitignore`, excludes and tracked files. Nested `.gitignore` files
    /// are read as [`IgnoreRules::reload`] sees them (the start-up scan
    /// reloads each one it meets).
    pub fn load(root: &Path) -> IgnoreRules {
        let mut rules = IgnoreRules {
            root: root.to_path_buf(),
            gitignores: BTreeMap::new(),
            excludes: Gitignore::empty(),
            tracked: HashSet::new(),
            tracked_dirs: HashSet::new(),
        };
        rules.reload_excludes();
        rules.reload_tracked();
        rules.reload_gitignore("");
        rules
    }

    /// Reads again what a change of `rel` can have changed: a `.gitignore`,
    /// `.git/info/exclude` or `.git/index`. Returns whether `rel` was one.
    pub fn reload(&mut self, rel: &str) -> bool {
        match rel {
            ".git/index" => self.reload_tracked(),
            ".git/info/exclude" => self.reload_excludes(),
            _ if rel == ".gitignore" || rel.ends_with("/.gitignore") => {
                self.reload_gitignore(rel.strip_suffix(".gitignore").unwrap_or("").trim_end_matches('/'))
            }
            _ => return false,
        }
        true
    }

    fn reload_gitignore(&mut self, dir: &str) {
        let abs = self.root.join(dir);
        let file = abs.join(".gitignore");
        if !file.is_file() {
            self.gitignores.remove(dir);
            return;
        }
        let mut builder = GitignoreBuilder::new(&abs);
        if let Some(error) = builder.add(&file) {
            tracing::warn!(file = %file.display(), %error, "part of a .gitignore is not understood");
        }
        match builder.build() {
            Ok(matcher) => drop(self.gitignores.insert(dir.to_string(), matcher)),
            Err(error) => tracing::warn!(file = %file.display(), %error, "a .gitignore is not understood"),
        }
    }

    fn reload_excludes(&mut self) {
        let mut builder = GitignoreBuilder::new(&self.root);
        let files = [Some(self.root.join(".git/info/exclude")), ignore::gitignore::gitconfig_excludes_path()];
        for file in files.into_iter().flatten().filter(|f| f.is_file()) {
            if let Some(error) = builder.add(&file) {
                tracing::warn!(file = %file.display(), %error, "part of an excludes file is not understood");
            }
        }
        self.excludes = builder.build().unwrap_or_else(|_| Gitignore::empty());
    }

    fn reload_tracked(&mut self) {
        let listed = Command::new("git").arg("-C").arg(&self.root).args(["ls-files", "-z"]).output();
        let names = match listed {
            Ok(out) if out.status.success() => out.stdout,
            Ok(out) => {
                let error = String::from_utf8_lossy(&out.stderr);
                tracing::warn!(%error, "`git ls-files` failed: ignored files count as untracked");
                Vec::new()
            }
            Err(error) => {
                tracing::warn!(%error, "cannot run `git`: ignored files count as untracked");
                Vec::new()
            }
        };
        self.tracked.clear();
        self.tracked_dirs.clear();
        for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
            let Ok(name) = std::str::from_utf8(name) else { continue };
            let mut dir = name;
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if !self.tracked_dirs.insert(parent.to_string()) {
                    break;
                }
                dir = parent;
            }
            self.tracked.insert(name.to_string());
        }
    }

    /// Whether the path `rel` (relative, `/`-separated) is left out of
    /// replication.
    pub fn is_ignored(&self, rel: &str, is_dir: bool) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if rel.split('/').any(|part| part.eq_ignore_ascii_case(".git")) || is_internal(name) {
            return true;
        }
        if is_editor_temp(name) {
            return true;
        }
        if self.tracked.contains(rel) || (is_dir && self.tracked_dirs.contains(rel)) {
            return false;
        }
        self.matches_ignore(rel, is_dir)
    }

    /// The nearest `.gitignore` that has a say decides, then the excludes.
    fn matches_ignore(&self, rel: &str, is_dir: bool) -> bool {
        let abs = self.root.join(rel);
        let mut dir = rel;
        loop {
            dir = dir.rsplit_once('/').map_or("", |(parent, _)| parent);
            if let Some(matcher) = self.gitignores.get(dir) {
                match matcher.matched_path_or_any_parents(&abs, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            if dir.is_empty() {
                break;
            }
        }
        matches!(self.excludes.matched_path_or_any_parents(&abs, is_dir), Match::Ignore(_))
    }
}
