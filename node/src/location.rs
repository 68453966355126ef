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
    Ok(find(path)?.1)
}

/// The working copy that holds `path`: its root (where `.git` is) and its
/// Git directory.
fn find(path: &Path) -> Result<(PathBuf, PathBuf), LocationError> {
    let start = std::path::absolute(path).map_err(|source| io_error(path, source))?;
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return Ok((dir.to_path_buf(), dot_git));
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).map_err(|source| io_error(&dot_git, source))?;
            let target = text.lines().find_map(|line| line.strip_prefix("gitdir:"));
            let target = target.ok_or_else(|| LocationError::BadGitFile(dot_git.clone()))?;
            return Ok((dir.to_path_buf(), dir.join(target.trim())));
        }
    }
    Err(LocationError::NotAWorkingCopy(start))
}

/// Everything a node keeps for one working copy. All but the working copy
/// itself sit in the node's directory: the store's parent, so
/// `<git dir>/memo` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePaths {
    /// The working copy's root (where `.git` is).
    pub working_copy: PathBuf,
    /// The operation store (a RocksDB directory).
    pub store: PathBuf,
    /// The node's libp2p identity.
    pub identity: PathBuf,
    /// The working copy's membership: id, name, secret, known peers.
    pub membership: PathBuf,
    /// The running daemon's control socket.
    pub socket: PathBuf,
    /// The log of a daemon started in the background.
    pub log: PathBuf,
    /// What the disk last reflected of the tree ([`crate::disk`]'s state
    /// file, for start-up).
    pub disk_state: PathBuf,
}

impl NodePaths {
    /// The paths for the working copy that holds `path`, with the store
    /// at `explicit` if given (see [`store_dir`]).
    pub fn find(path: &Path, explicit_store: Option<&Path>) -> Result<NodePaths, LocationError> {
        let (working_copy, git_dir) = find(path)?;
        let store = match explicit_store {
            Some(dir) => std::path::absolute(dir).map_err(|source| io_error(dir, source))?,
            None => git_dir.join("memo").join("store"),
        };
        let dir = store.parent().unwrap_or(Path::new("/")).to_path_buf();
        Ok(NodePaths {
            working_copy,
            identity: dir.join("node.key"),
            membership: dir.join("membership.json"),
            socket: socket_path(&dir),
            log: dir.join("daemon.log"),
            disk_state: dir.join("disk-state"),
            store,
        })
    }
}

/// `daemon.sock` in the node's directory, unless that path is too long
/// for a Unix socket (108 bytes on Linux, with room to spare): then a
/// name derived from the directory in the user's runtime directory.
fn socket_path(dir: &Path) -> PathBuf {
    const MAX_SOCKET_PATH: usize = 100;
    let beside = dir.join("daemon.sock");
    if beside.as_os_str().len() <= MAX_SOCKET_PATH {
        return beside;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    let name = memo_core::hex::encode(&digest[..8]);
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    runtime.join(format!("memo-{name}.sock"))
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
    fn a_node_keeps_its_files_beside_the_store() {
        let wc = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(wc.path().join(".git")).unwrap();
        std::fs::create_dir_all(wc.path().join("src")).unwrap();
        let paths = NodePaths::find(&wc.path().join("src"), None).unwrap();
        let root = std::path::absolute(wc.path()).unwrap();
        assert_eq!(paths.working_copy, root);
        assert_eq!(paths.membership, root.join(".git/memo/membership.json"));
        let long = wc.path().join("x".repeat(120)).join("store");
        let paths = NodePaths::find(wc.path(), Some(&long)).unwrap();
        assert!(paths.socket.as_os_str().len() <= 108, "{}", paths.socket.display());
    }

    #[test]
    fn outside_a_working_copy_the_error_says_what_to_do() {
        let error = git_dir(Path::new("/")).unwrap_err();
        assert!(matches!(error, LocationError::NotAWorkingCopy(_)));
        assert!(error.to_string().contains("--store"), "{error}");
    }
}
