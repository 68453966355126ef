//! Git: the commit a working copy stands on, as the working tree's base
//! snapshot ([`GitBase`]). Every replica at that commit has its content,
//! so none of it is ever sent: the tree names base entries and characters
//! by ids derived from the commit's paths and blobs.
//!
//! Entries are listed once, when the base is opened (a walk of the commit's
//! tree: names and modes, no content); blob content is read when the tree
//! first needs it, from the repository's object database.
//!
//! What a base holds: directories, regular files (executable or not) and
//! symbolic links. Submodules (gitlinks) are left out: their content lives
//! in another repository. A path that is not UTF-8 is left out with a
//! warning (the tree names entries by UTF-8 strings).
//!
//! Besides the base: HEAD, how it moved ([`head_move`]) and moving it
//! where another replica's went ([`follow_head`]), which the daemon uses
//! to keep HEAD replicated; missing commits come from peers
//! ([`crate::objects`]).

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use memo_core::tree::{BaseEntry, BaseKind, BaseSnapshot, BlobId};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A Git mode: an executable regular file.
const MODE_EXECUTABLE: i32 = 0o100755;
/// A Git mode: a symbolic link (its blob holds the target).
const MODE_SYMLINK: i32 = 0o120000;

/// Why Git could not give a base.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    #[error("{path} is not a Git repository Memo can read: {source}")]
    Open { path: PathBuf, source: git2::Error },
    #[error("reading commit {commit}: {source}")]
    Commit { commit: String, source: git2::Error },
    #[error("reading HEAD of {path}: {source}")]
    Head { path: PathBuf, source: git2::Error },
    #[error("moving HEAD to commit {commit}: {source}")]
    Follow { commit: String, source: git2::Error },
}

/// A commit's tree as the working tree's base (see the module docs).
pub struct GitBase {
    repo: Mutex<Repository>,
    commit: Oid,
    entries: Vec<BaseEntry>,
}

impl std::fmt::Debug for GitBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitBase").field("commit", &self.commit).field("entries", &self.entries.len()).finish()
    }
}

impl GitBase {
    /// The base of `commit` in the repository at (or above) `path`.
    pub fn open(path: &Path, commit: Oid) -> Result<GitBase, GitError> {
        let repo = open_repository(path)?;
        let entries = list(&repo, commit).map_err(|source| GitError::Commit { commit: commit.to_string(), source })?;
        Ok(GitBase { repo: Mutex::new(repo), commit, entries })
    }

    /// The commit this base is.
    pub fn commit(&self) -> Oid {
        self.commit
    }
}

/// The commit HEAD points at in the repository at (or above) `path`;
/// `None` before the first commit.
pub fn head_commit(path: &Path) -> Result<Option<Oid>, GitError> {
    let repo = open_repository(path)?;
    let head = match repo.head() {
        Ok(head) => head,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch || e.code() == git2::ErrorCode::NotFound => {
            return Ok(None)
        }
        Err(source) => return Err(GitError::Head { path: path.to_owned(), source }),
    };
    let commit = head.peel_to_commit().map_err(|source| GitError::Head { path: path.to_owned(), source })?;
    Ok(Some(commit.id()))
}

/// Whether `commit` descends from `ancestor` (a commit made on top of it,
/// or several); `None` for `ancestor` (no commit yet) counts as an
/// ancestor of every commit.
pub fn descends_from(path: &Path, commit: Oid, ancestor: Option<Oid>) -> Result<bool, GitError> {
    let Some(ancestor) = ancestor else { return Ok(true) };
    let repo = open_repository(path)?;
    repo.graph_descendant_of(commit, ancestor).map_err(|source| GitError::Commit { commit: commit.to_string(), source })
}

/// How HEAD came to a commit, from HEAD's reflog: a commit made here (a
/// commit, an amend, a merge commit), or a move to a commit that was
/// there (a checkout, a switch, a reset, a rebase, a fast-forward).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadMove {
    Commit,
    /// On `branch`; empty for a detached HEAD.
    Checkout {
        branch: String,
    },
}

/// How HEAD, now at `commit`, got there (see [`HeadMove`]). Without a
/// reflog entry for it (reflogs turned off), a move.
pub fn head_move(path: &Path, commit: Oid) -> Result<HeadMove, GitError> {
    let repo = open_repository(path)?;
    let head_error = |source| GitError::Head { path: path.to_owned(), source };
    let reflog = repo.reflog("HEAD").map_err(head_error)?;
    let newest = reflog.get(0).filter(|entry| entry.id_new() == commit);
    if newest.and_then(|entry| entry.message().map(|m| m.starts_with("commit"))).unwrap_or(false) {
        return Ok(HeadMove::Commit);
    }
    let branch = match repo.head_detached().map_err(head_error)? {
        true => String::new(),
        false => repo.head().map_err(head_error)?.shorthand().unwrap_or_default().to_string(),
    };
    Ok(HeadMove::Checkout { branch })
}

/// Where [`follow_head`] put HEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Followed {
    /// On this branch, made or moved to the commit.
    Branch(String),
    /// Detached: no branch was named, or ours of that name holds commits
    /// the commit lacks (it is left as it was).
    Detached,
}

/// Moves this clone's HEAD to `commit`, which another replica checked out
/// or committed, without touching a file: the files come as operations.
/// The index is reset to the commit's tree (as `git reset --mixed`), so
/// `git status` shows the uncommitted edits of the working copy.
///
/// `branch`: the branch the other replica is on (`Some("")`: detached), or
/// `None` for a commit, which moves the branch checked out here. A branch
/// is made, or moved to `commit` if it holds nothing `commit` lacks or if
/// it is where HEAD was (it followed the working copy); otherwise HEAD is
/// detached and the branch left alone, so no commit of this clone is ever
/// dropped from a branch. A name Git would refuse detaches too.
pub fn follow_head(path: &Path, commit: Oid, branch: Option<&str>) -> Result<Followed, GitError> {
    let repo = open_repository(path)?;
    let error = |source| GitError::Follow { commit: commit.to_string(), source };
    let target = repo.find_commit(commit).map_err(error)?;
    let here = repo.head().ok().and_then(|head| head.target());
    let name = match branch {
        Some(name) => Some(name.to_string()),
        None if !repo.head_detached().map_err(error)? => {
            repo.head().ok().and_then(|h| h.shorthand().map(str::to_string))
        }
        None => None,
    };
    let reference = name.filter(|n| !n.is_empty()).map(|n| (format!("refs/heads/{n}"), n));
    let movable = |full: &str| match repo.refname_to_id(full) {
        Err(_) => true,
        Ok(tip) => Some(tip) == here || tip == commit || repo.graph_descendant_of(commit, tip).unwrap_or(false),
    };
    // The index first: if Git holds it now, nothing moved, and the next
    // look tries again (HEAD moved first would make it look followed).
    let mut index = repo.index().map_err(error)?;
    index.read_tree(&target.tree().map_err(error)?).map_err(error)?;
    index.write().map_err(error)?;
    let message = "memo: follow the working copy's HEAD";
    let followed = match reference {
        Some((full, short)) if git2::Reference::is_valid_name(&full) && movable(&full) => {
            repo.reference(&full, commit, true, message).map_err(error)?;
            repo.set_head(&full).map_err(error)?;
            Followed::Branch(short)
        }
        _ => {
            repo.set_head_detached(commit).map_err(error)?;
            Followed::Detached
        }
    };
    Ok(followed)
}

/// Checks out `commit` in the clone at `path` with a detached HEAD, as
/// `git checkout --detach` does: local changes to files the move leaves
/// alone are kept; a change it would overwrite makes it fail, changing
/// nothing.
pub fn checkout_detached(path: &Path, commit: Oid) -> Result<(), GitError> {
    let repo = open_repository(path)?;
    let error = |source| GitError::Follow { commit: commit.to_string(), source };
    let target = repo.find_commit(commit).map_err(error)?;
    let mut options = git2::build::CheckoutBuilder::new();
    options.safe();
    repo.checkout_tree(target.as_object(), Some(&mut options)).map_err(error)?;
    repo.set_head_detached(commit).map_err(error)
}

/// Whether the repository at (or above) `path` holds `commit`.
pub fn has_commit(path: &Path, commit: Oid) -> bool {
    open_repository(path).is_ok_and(|repo| repo.find_commit(commit).is_ok())
}

/// The paths Git sees as changed in the working copy at `path`: modified,
/// added, deleted or untracked (ignored ones left out).
pub fn changed_paths(path: &Path) -> Result<Vec<String>, GitError> {
    let repo = open_repository(path)?;
    let mut options = git2::StatusOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_ignored(false);
    let statuses =
        repo.statuses(Some(&mut options)).map_err(|source| GitError::Head { path: path.to_owned(), source })?;
    Ok(statuses.iter().filter_map(|entry| entry.path().map(str::to_string)).collect())
}

fn open_repository(path: &Path) -> Result<Repository, GitError> {
    Repository::discover(path).map_err(|source| GitError::Open { path: path.to_owned(), source })
}

/// Every entry of `commit`'s tree, without content (but for link targets).
fn list(repo: &Repository, commit: Oid) -> Result<Vec<BaseEntry>, git2::Error> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut entries = Vec::new();
    let mut failure = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let Some(name) = entry.name() else {
            tracing::warn!(dir, "a path in the commit is not UTF-8: left out of the base");
            return TreeWalkResult::Skip;
        };
        let path = format!("{dir}{name}");
        let kind = match (entry.kind(), entry.filemode()) {
            (Some(ObjectType::Tree), _) => BaseKind::Dir,
            (Some(ObjectType::Blob), MODE_SYMLINK) => match repo.find_blob(entry.id()) {
                Ok(blob) => BaseKind::Symlink { target: String::from_utf8_lossy(blob.content()).into_owned() },
                Err(error) => {
                    failure = Some(error);
                    return TreeWalkResult::Abort;
                }
            },
            (Some(ObjectType::Blob), mode) => {
                BaseKind::File { blob: BlobId(entry.id().as_bytes().to_vec()), executable: mode == MODE_EXECUTABLE }
            }
            // A submodule: its content is another repository's.
            _ => return TreeWalkResult::Skip,
        };
        entries.push(BaseEntry { path, kind });
        TreeWalkResult::Ok
    })?;
    failure.map_or(Ok(entries), Err)
}

impl BaseSnapshot for GitBase {
    fn entries(&self) -> Vec<BaseEntry> {
        self.entries.clone()
    }

    fn read(&self, blob: &BlobId) -> Option<Vec<u8>> {
        let oid = Oid::from_bytes(&blob.0).ok()?;
        let repo = self.repo.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let content = repo.find_blob(oid).map(|blob| blob.content().to_vec());
        content.map_err(|error| tracing::warn!(%oid, %error, "a base blob cannot be read")).ok()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use memo_core::tree::{Content, WorkTree};
    use memo_core::ReplicaId;
    use std::process::Command;
    use std::sync::Arc;

    /// Runs `git` in `dir` (as a test user, unsigned), asserting it
    /// succeeds; its output, trimmed. (For the crate's unit tests.)
    pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn a_commit_is_a_base_whose_content_is_read_lazily() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q"]);
        assert_eq!(head_commit(root).unwrap(), None, "no commit yet");
        std::fs::create_dir_all(root.join("src/deep")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(root.join("src/deep/data.bin"), [0u8, 1, 2, 255]).unwrap();
        std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(root.join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("src/main.rs", root.join("link")).unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "base"]);

        let commit = head_commit(&root.join("src")).unwrap().expect("a commit");
        let base = Arc::new(GitBase::open(root, commit).unwrap());
        let tree = WorkTree::new(ReplicaId::from_u128(1), base.clone());
        let paths = tree.paths();
        for path in ["src", "src/main.rs", "src/deep", "src/deep/data.bin", "run.sh", "link"] {
            assert!(paths.contains(&path.to_string()), "{path} in {paths:?}");
        }
        assert_eq!(tree.read_text("src/main.rs").unwrap(), "fn main() {}\n");
        assert_eq!(tree.read("src/deep/data.bin").unwrap(), Content::Binary(vec![0, 1, 2, 255]));
        assert_eq!(tree.read("link").unwrap(), Content::Symlink("src/main.rs".into()));
        let executable = base.entries().into_iter().find(|e| e.path == "run.sh").unwrap();
        assert!(matches!(executable.kind, BaseKind::File { executable: true, .. }));
        assert_eq!(base.read(&BlobId(vec![7; 20])), None, "a blob the repository lacks");
    }

    #[test]
    fn outside_a_repository_the_error_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let error = head_commit(dir.path()).unwrap_err();
        assert!(error.to_string().contains("not a Git repository"), "{error}");
    }
}
