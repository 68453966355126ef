//! The user's configuration: defaults for the `memo` settings that
//! environment variables also set, in a file at the XDG place.
//!
//! Where things live:
//! - configuration: `$XDG_CONFIG_HOME/memo/config` (`~/.config/memo/config`
//!   when `XDG_CONFIG_HOME` is unset), or the file `MEMO_CONFIG` names;
//! - data: each working copy's own, in its Git directory (`.git/memo/`:
//!   the store, the node's identity, the membership, the daemon's log and
//!   socket), because it belongs to that clone and goes away with it, as
//!   Git's own data does; `--store` or `MEMO_STORE` move it;
//! - runtime: the daemon's socket beside its data, or in
//!   `$XDG_RUNTIME_DIR` when that path is too long for a Unix socket.
//!
//! The file holds `NAME=value` lines (blank lines and `#` comments are
//! skipped), each naming one of [`SETTINGS`]. Precedence: a flag, then the
//! environment, then this file, then the built-in default.

use std::path::{Path, PathBuf};

/// The environment variable that names another configuration file.
pub const CONFIG_ENV: &str = "MEMO_CONFIG";

/// The settings the file may hold: the environment variables `memo` reads.
pub const SETTINGS: &[&str] = &[
    "MEMO_LISTEN",
    "MEMO_MDNS",
    "MEMO_MDNS_INTERVAL",
    "MEMO_CATCHUP_INTERVAL",
    "MEMO_MAX_TEXT_BYTES",
    "MEMO_STORE",
    "RUST_LOG",
];

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {reason}")]
    Line { path: PathBuf, line: usize, reason: String },
}

/// Where the user's configuration file is (it may not exist).
pub fn path() -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os(CONFIG_ENV) {
        return Some(PathBuf::from(explicit));
    }
    let home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(home.join("memo").join("config"))
}

/// The settings in the file at `path`; none if it does not exist.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ConfigError::Io { path: path.to_owned(), source }),
    };
    let mut settings = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |reason: String| ConfigError::Line { path: path.to_owned(), line: index + 1, reason };
        let (name, value) = line.split_once('=').ok_or_else(|| error("expected NAME=value".into()))?;
        let name = name.trim();
        if !SETTINGS.contains(&name) {
            return Err(error(format!("unknown setting {name:?} (known: {})", SETTINGS.join(", "))));
        }
        settings.push((name.to_string(), value.trim().to_string()));
    }
    Ok(settings)
}

/// The file's settings that the environment does not set already: what
/// the caller should put in its environment before it reads its flags.
pub fn defaults() -> Result<Vec<(String, String)>, ConfigError> {
    let Some(path) = path() else { return Ok(Vec::new()) };
    Ok(read(&path)?.into_iter().filter(|(name, _)| std::env::var_os(name).is_none()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_and_mistakes_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config");
        assert!(read(&file).unwrap().is_empty(), "no file, no settings");
        std::fs::write(&file, "# mine\n\nMEMO_MDNS = off\nMEMO_LISTEN=/ip4/0.0.0.0/tcp/4001\n").unwrap();
        let settings = read(&file).unwrap();
        assert_eq!(settings[0], ("MEMO_MDNS".to_string(), "off".to_string()));
        assert_eq!(settings[1].1, "/ip4/0.0.0.0/tcp/4001");
        std::fs::write(&file, "MEMO_MDNS=off\nMEMO_TYPO=1\n").unwrap();
        let error = read(&file).unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("MEMO_TYPO"), "{error}");
        std::fs::write(&file, "just words\n").unwrap();
        assert!(read(&file).unwrap_err().to_string().contains("NAME=value"));
    }
}
