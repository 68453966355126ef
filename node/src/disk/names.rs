//! Which names the node writes and reads: remote names are checked before
//! any disk access (MISSION rule 6), and the node's own temporary names and
//! editors' temporary files are never replicated.

use memo_core::tree::check_name;

/// Prefix of the temporary file a write goes through before it is renamed
/// into place (see `files::write_atomic`).
pub(super) const WRITE_PREFIX: &str = ".memo-write-";
/// Prefix of the name an entry is parked under while the node reorders
/// moves (a swap of two names, a directory moved into a new one).
pub(super) const PARK_PREFIX: &str = ".memo-park-";

/// Why a name from the tree is not written here, or `None` if it may be.
///
/// The core already refuses `/`, `\`, `.`, `..`, NUL, `.git` in any letter
/// case and names over 255 bytes ([`check_name`]); on top of that this
/// refuses control characters (which some file systems refuse and every
/// terminal mangles) and the node's own temporary names (a peer could
/// otherwise make the node delete or overwrite them).
pub(super) fn refuse_remote_name(name: &str) -> Option<&'static str> {
    if let Err(memo_core::tree::InvalidTreeOp::Name(_, why)) = check_name(name) {
        return Some(why);
    }
    if name.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    if is_internal(name) {
        return Some("is a name the node uses for its own temporary files");
    }
    if cfg!(windows) && refused_by_windows(name) {
        return Some("is a name Windows refuses");
    }
    None
}

/// Every component of a `/`-separated relative path may be written.
pub(super) fn refuse_remote_path(path: &str) -> Option<String> {
    path.split('/').find_map(|name| refuse_remote_name(name).map(|why| format!("{name:?} {why}")))
}

fn refused_by_windows(name: &str) -> bool {
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1",
        "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    let stem = name.split('.').next().unwrap_or(name);
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem))
        || name.ends_with(['.', ' '])
        || name.contains(['<', '>', ':', '"', '|', '?', '*'])
}

/// The node's own temporary names: never ingested.
pub(super) fn is_internal(name: &str) -> bool {
    name.starts_with(WRITE_PREFIX) || name.starts_with(PARK_PREFIX)
}

/// Temporary, swap and backup files of editors, never replicated (MISSION
/// scenario 8): vim (`.x.swp`, `x~`, its `4913` probe), Emacs (`#x#`,
/// `.#x`), JetBrains (`x___jb_tmp___`, `x___jb_old___`), Sublime and
/// others (`.x.tmp`-like `*.tmp`, `.sublime-*` temporaries), Office
/// (`~$x`), and macOS' `.DS_Store`.
pub fn is_editor_temp(name: &str) -> bool {
    name == "4913"
        || name == ".DS_Store"
        || name.ends_with('~')
        || (name.starts_with('.') && [".swp", ".swo", ".swx", ".swn"].iter().any(|s| name.ends_with(s)))
        || (name.starts_with('#') && name.ends_with('#') && name.len() > 1)
        || name.starts_with(".#")
        || name.starts_with("~$")
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".tmp")
        || name.contains(".sublime-tmp")
        || name.starts_with(".goutputstream-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused() {
        for name in ["", ".", "..", "a/b", "a\\b", "a\0b", ".git", ".GIT", "a\nb", ".memo-write-1", ".memo-park-2"] {
            assert!(refuse_remote_name(name).is_some(), "{name:?} must be refused");
        }
        assert!(refuse_remote_path("ok/../x").is_some());
        assert!(refuse_remote_path("src/main.rs").is_none());
    }

    #[test]
    fn editor_temporaries_are_recognised() {
        for name in [".main.rs.swp", "main.rs~", "4913", "#main.rs#", ".#main.rs", "main.rs___jb_tmp___", "x.tmp"] {
            assert!(is_editor_temp(name), "{name}");
        }
        for name in ["main.rs", "swp", "template.rs", ".gitignore"] {
            assert!(!is_editor_temp(name), "{name}");
        }
    }
}
