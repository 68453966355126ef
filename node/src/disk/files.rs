//! Reading and writing the working copy's files: what the node knows of a
//! file ([`Stat`]), reads that wait for a file to be stable, and writes
//! that no reader sees half done and that never follow a link.

use super::names::WRITE_PREFIX;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What the node last saw of a path: enough to tell, without reading it,
/// that a file is unchanged. (Not the change time: a rename changes it,
/// and the node renames its own writes into place.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stat {
    pub size: u64,
    pub mtime_ns: i128,
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
}

impl Stat {
    fn of(meta: &fs::Metadata) -> Stat {
        Stat {
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }

    /// A stat no file has: what the node records for a file whose content
    /// it must read again.
    pub const UNKNOWN: Stat = Stat { size: u64::MAX, mtime_ns: 0, dev: 0, ino: 0, mode: 0 };

    pub fn executable(&self) -> bool {
        self.mode & 0o100 != 0
    }

    /// Whether the file was written less than [`RACY_WINDOW`] ago.
    pub fn is_recent(&self) -> bool {
        self.age() < RACY_WINDOW
    }

    /// How long ago the file was last written (zero if in the future).
    fn age(&self) -> Duration {
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_nanos(self.mtime_ns.max(0) as u64);
        SystemTime::now().duration_since(mtime).unwrap_or(Duration::ZERO)
    }
}

/// How close to a write a stat cannot tell a later write of the same size
/// apart: above every file system's timestamp granularity (FAT's is 2 s).
const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What is at a path, without following a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Found {
    Dir(Stat),
    File(Stat),
    Symlink(Stat),
    /// A socket, FIFO or device: never replicated.
    Other,
}

impl Found {
    pub fn stat(&self) -> Option<Stat> {
        match self {
            Found::Dir(s) | Found::File(s) | Found::Symlink(s) => Some(*s),
            Found::Other => None,
        }
    }
}

/// What is at `path` (not following a link); `None` if nothing is.
pub(super) fn lstat(path: &Path) -> io::Result<Option<Found>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => return Ok(None),
        Err(e) => return Err(e),
    };
    let stat = Stat::of(&meta);
    let kind = meta.file_type();
    Ok(Some(if kind.is_dir() {
        Found::Dir(stat)
    } else if kind.is_file() {
        Found::File(stat)
    } else if kind.is_symlink() {
        Found::Symlink(stat)
    } else {
        Found::Other
    }))
}

/// Whether every directory from `root` down to `rel`'s parent is a real
/// directory, not a link: the node never reads or writes through a link.
pub(super) fn parents_are_dirs(root: &Path, rel: &str) -> io::Result<bool> {
    let mut at = root.to_path_buf();
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop();
    for part in parts {
        at.push(part);
        if !matches!(lstat(&at)?, Some(Found::Dir(_))) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A file's content, once it has stopped changing.
pub(super) enum Read {
    Stable {
        content: Vec<u8>,
        stat: Stat,
    },
    /// Still being written (changed while read, or written less than
    /// `settle` ago), or gone meanwhile: read it again later.
    Unstable,
}

/// Reads a regular file if it is stable: its stat is the same before and
/// after the read, and it was last written at least `settle` ago.
pub(super) fn read_stable(path: &Path, settle: Duration) -> io::Result<Read> {
    let Some(Found::File(before)) = lstat(path)? else { return Ok(Read::Unstable) };
    if before.age() < settle {
        return Ok(Read::Unstable);
    }
    let content = match fs::read(path) {
        Ok(content) => content,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Unstable),
        Err(e) => return Err(e),
    };
    match lstat(path)? {
        Some(Found::File(after)) if after == before && content.len() as u64 == before.size => {
            Ok(Read::Stable { content, stat: before })
        }
        _ => Ok(Read::Unstable),
    }
}

/// Whether a file that was not empty and now is should wait: editors that
/// truncate then write (VS Code) show an empty file for a moment, which is
/// never replicated; an empty file older than `grace` is.
pub(super) fn empty_too_recent(stat: &Stat, grace: Duration) -> bool {
    stat.size == 0 && stat.age() < grace
}

pub(super) type Hash = [u8; 32];

pub(super) fn hash(content: &[u8]) -> Hash {
    Sha256::digest(content).into()
}

/// Writes `content` to `dir/name` through a temporary file in `dir`,
/// renamed into place: a reader sees the old file or the new one, never
/// half of one, and a link at `dir/name` is replaced, not followed.
/// Returns the stat of the file written.
pub(super) fn write_atomic(dir: &Path, name: &str, content: &[u8], mode: u32, sync: bool) -> io::Result<Stat> {
    let temp = dir.join(temp_name(name));
    let result = (|| {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(content)?;
        file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
        if sync {
            file.sync_data()?;
        }
        let stat = Stat::of(&file.metadata()?);
        fs::rename(&temp, dir.join(name))?;
        Ok(stat)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Makes a symlink `dir/name` pointing to `target` through a temporary
/// link renamed into place. The target is data: never followed.
pub(super) fn symlink_atomic(dir: &Path, name: &str, target: &str) -> io::Result<Stat> {
    let temp = dir.join(temp_name(name));
    let result = (|| {
        std::os::unix::fs::symlink(target, &temp)?;
        let stat = Stat::of(&fs::symlink_metadata(&temp)?);
        fs::rename(&temp, dir.join(name))?;
        Ok(stat)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// A fresh temporary name beside `name` (the name is kept short: the
/// temporary must fit where the final name fits).
fn temp_name(name: &str) -> String {
    let mut random = [0u8; 6];
    getrandom::getrandom(&mut random).expect("the OS random source works");
    let tag = memo_core::hex::encode(&random);
    let short: String = name.chars().take(64).collect();
    format!("{WRITE_PREFIX}{tag}-{short}")
}

/// A file's permission bits with the executable bits set as asked (read
/// permission implies execute permission, as Git does).
pub(super) fn with_executable(mode: u32, executable: bool) -> u32 {
    let mode = mode & 0o7777;
    match executable {
        true => mode | ((mode & 0o444) >> 2),
        false => mode & !0o111,
    }
}
