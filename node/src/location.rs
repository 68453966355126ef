//! Where a working copy's store lives.
//!
//! By default in the working copy's Git directory, at `.git/memo/store`:
//! it belongs to that clone, goes away with it, and Git never looks inside
//! (no `git status` noise, nothing committed). A linked worktree (`.git` is
//! a file naming the real Git directory) gets its own store in its own Git
//! directory. `--store <dir>` or the `MEMO_STORE` environment variable put
//! it anywhere else, e.g. on another disk.
//!
//! Only the node writes there; nothing that comes from a peer decides a
//! path inside `.git/`.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the store's location.
pub const STORE_ENV: &str = "MEMO_STORE";

/// Why no store location could be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    #[error("{0} is not inside a Git working copy (no .git above it): run memo in one, or choose a store with --store or {STORE_ENV}")]
    NotAWorkingCopy(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} is a .git file without a \"gitdir: <path>\" line")]
    BadGitFile(PathBuf),
}

/// The store directory for the working copy that holds `path`: `explicit`
/// if given, else `<git dir>/memo/store`.
pub fn store_dir(path: &Path, explicit: Option<&Path>) -> Result<PathBuf, LocationError> {
    match explicit {
        Some(dir) => Ok(dir.to_path_buf()),
        None => Ok(git_dir(path)?.join("memo").join("store")),
    }
}

/// The Git directory of the working copy that holds `path`, found by
/// walking up to the first `.git` (a directory, or a file that names one).
pub fn git_dir(path: &Path) -> Result<PathBuf, LocationError> {
    let start = std::path::absolute(path).map_err(|source| io_error(path, source))?;
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Ok(dot_git);
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).map_err(|source| io_error(&dot_git, source))?;
            let target = text.lines().find_map(|line| line.strip_prefix("gitdir:"));
            let target = target.ok_or_else(|| LocationError::BadGitFile(dot_git.clone()))?;
            return Ok(dir.join(target.trim()));
        }
    }
    Err(LocationError::NotAWorkingCopy(start))
}

fn io_error(path: &Path, source: std::io::Error) -> LocationError {
    LocationError::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_in_the_git_directory_of_the_enclosing_working_copy() {
        let wc = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(wc.path().join(".git")).unwrap();
        std::fs::create_dir_all(wc.path().join("src/deep")).unwrap();
        let expected = std::path::absolute(wc.path().join(".git/memo/store")).unwrap();
        assert_eq!(store_dir(&wc.path().join("src/deep"), None).unwrap(), expected);
        let elsewhere = Path::new("/somewhere/else");
        assert_eq!(store_dir(wc.path(), Some(elsewhere)).unwrap(), elsewhere);
    }

    #[test]
    fn a_linked_worktree_uses_the_git_directory_its_git_file_names() {
        let wc = tempfile::tempdir().unwrap();
        std::fs::write(wc.path().join(".git"), "gitdir: /repo/.git/worktrees/feature\n").unwrap();
        assert_eq!(git_dir(wc.path()).unwrap(), Path::new("/repo/.git/worktrees/feature"));
        std::fs::write(wc.path().join(".git"), "nonsense\n").unwrap();
        assert!(matches!(git_dir(wc.path()), Err(LocationError::BadGitFile(_))));
    }

    #[test]
    fn outside_a_working_copy_the_error_says_what_to_do() {
        let error = git_dir(Path::new("/")).unwrap_err();
        assert!(matches!(error, LocationError::NotAWorkingCopy(_)));
        assert!(error.to_string().contains("--store"), "{error}");
    }
}
