//! A working copy's membership, kept on disk: which working copy this
//! clone belongs to, its secret, and where its peers were last seen.
//!
//! `memo share` makes one (a fresh id and secret); `memo join <ticket>`
//! writes the ticket's. The file (`membership.json` in the node's
//! directory, see [`crate::location::NodePaths`]) holds the secret, so it
//! is created with mode 0600 and replaced atomically (a temporary file,
//! synced, renamed into place): a crash leaves the old file or the new
//! one, never half of each.

use crate::net::WorkingCopySecret;
use libp2p::Multiaddr;
use memo_core::ticket::{Ticket, TicketError, MAX_ADDRESSES};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many peer addresses are remembered at most (the newest win).
pub const MAX_REMEMBERED: usize = 64;

/// Why a membership could not be read, written, or made from a ticket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is damaged ({reason}): remove it and join again with a ticket")]
    Damaged { path: PathBuf, reason: String },
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error("the ticket holds an address that is not a multiaddr: {0}")]
    Address(String),
    #[error(
        "this clone already belongs to working copy {ours} ({name}); the ticket is for {theirs}: \
         join from another clone, or remove {path} first"
    )]
    Other { ours: String, name: String, theirs: String, path: PathBuf },
}

/// A working copy's membership (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The working copy's id: the gossip topic derives from it.
    pub working_copy: [u8; 16],
    /// Its name, for people.
    pub name: String,
    pub secret: WorkingCopySecret,
    /// The Git commit the working copy stands on (its object id); empty
    /// before the first commit.
    pub base: Vec<u8>,
    /// Where peers were last seen (from the ticket, then as learned):
    /// dialed when the daemon starts.
    pub peers: Vec<Multiaddr>,
    /// Where this node listened last: a restarted daemon takes the same
    /// ports, so that the addresses its peers remember stay good.
    pub listen: Vec<Multiaddr>,
}

/// The file's layout: hex for the bytes, text for the addresses.
#[derive(Serialize, Deserialize)]
struct File {
    working_copy: String,
    name: String,
    secret: String,
    #[serde(default)]
    base: String,
    #[serde(default)]
    peers: Vec<String>,
    #[serde(default)]
    listen: Vec<String>,
}

impl Membership {
    /// A new working copy named `name` on commit `base`: a random id and
    /// secret.
    pub fn create(name: &str, base: Vec<u8>) -> Membership {
        let mut id = [0u8; 16];
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut id).expect("the operating system's random source");
        getrandom::getrandom(&mut secret).expect("the operating system's random source");
        Membership {
            working_copy: id,
            name: name.to_string(),
            secret: WorkingCopySecret::new(secret),
            base,
            peers: Vec::new(),
            listen: Vec::new(),
        }
    }

    /// The membership a ticket carries.
    pub fn from_ticket(ticket: &Ticket) -> Result<Membership, MembershipError> {
        let peers = ticket
            .addresses
            .iter()
            .map(|bytes| Multiaddr::try_from(bytes.clone()).map_err(|e| MembershipError::Address(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Membership {
            working_copy: ticket.working_copy,
            name: ticket.name.clone(),
            secret: WorkingCopySecret::new(ticket.secret),
            base: ticket.base.clone(),
            peers,
            listen: Vec::new(),
        })
    }

    /// A ticket for this working copy, pointing at `addresses` (at most
    /// [`MAX_ADDRESSES`] of them are kept).
    pub fn ticket(&self, addresses: &[Multiaddr]) -> Ticket {
        Ticket {
            working_copy: self.working_copy,
            name: self.name.clone(),
            secret: *self.secret.as_bytes(),
            base: self.base.clone(),
            addresses: addresses.iter().take(MAX_ADDRESSES).map(|a| a.to_vec()).collect(),
        }
    }

    /// The working copy's id as hex.
    pub fn id_hex(&self) -> String {
        hex(&self.working_copy)
    }

    /// Remembers `address` of a peer (most recent last, at most
    /// [`MAX_REMEMBERED`]); true if that changed anything.
    pub fn remember(&mut self, address: Multiaddr) -> bool {
        if self.peers.last() == Some(&address) {
            return false;
        }
        self.peers.retain(|known| *known != address);
        self.peers.push(address);
        let excess = self.peers.len().saturating_sub(MAX_REMEMBERED);
        self.peers.drain(..excess);
        true
    }

    /// Reads the membership at `path`; `None` if there is no file.
    pub fn load(path: &Path) -> Result<Option<Membership>, MembershipError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(MembershipError::Io { path: path.to_owned(), source }),
        };
        let damaged = |reason: String| MembershipError::Damaged { path: path.to_owned(), reason };
        let file: File = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        let working_copy = unhex(&file.working_copy).ok_or_else(|| damaged("bad working_copy".into()))?;
        let secret = unhex(&file.secret).ok_or_else(|| damaged("bad secret".into()))?;
        let base = unhex_any(&file.base).ok_or_else(|| damaged("bad base".into()))?;
        let addresses = |list: Vec<String>| -> Result<Vec<Multiaddr>, MembershipError> {
            list.iter().map(|a| a.parse().map_err(|_| damaged(format!("bad address {a}")))).collect()
        };
        Ok(Some(Membership {
            working_copy,
            name: file.name,
            secret: WorkingCopySecret::new(secret),
            base,
            peers: addresses(file.peers)?,
            listen: addresses(file.listen)?,
        }))
    }

    /// Writes the membership to `path` atomically, readable by its owner
    /// only.
    pub fn save(&self, path: &Path) -> Result<(), MembershipError> {
        let io = |source| MembershipError::Io { path: path.to_owned(), source };
        let file = File {
            working_copy: self.id_hex(),
            name: self.name.clone(),
            secret: hex(self.secret.as_bytes()),
            base: hex(&self.base),
            peers: self.peers.iter().map(ToString::to_string).collect(),
            listen: self.listen.iter().map(ToString::to_string).collect(),
        };
        let text = serde_json::to_string_pretty(&file).expect("plain data serializes");
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let temporary = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&temporary).map_err(io)?;
        out.write_all(text.as_bytes()).map_err(io)?;
        out.sync_all().map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)?;
        Ok(())
    }
}

use memo_core::hex::{decode as unhex_any, encode as hex};

/// Hex of exactly `N` bytes.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    unhex_any(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_survives_the_disk_and_a_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memo/membership.json");
        assert_eq!(Membership::load(&path).unwrap(), None);
        let mut ours = Membership::create("project", vec![4; 20]);
        ours.remember("/ip4/127.0.0.1/tcp/4001".parse().unwrap());
        ours.save(&path).unwrap();
        assert_eq!(Membership::load(&path).unwrap(), Some(ours.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let text = ours.ticket(&ours.peers).encode().unwrap();
        let theirs = Membership::from_ticket(&Ticket::decode(&text).unwrap()).unwrap();
        assert_eq!(
            (theirs.working_copy, &theirs.secret, &theirs.peers),
            (ours.working_copy, &ours.secret, &ours.peers)
        );
    }

    #[test]
    fn remembering_keeps_the_newest_addresses_once() {
        let mut membership = Membership::create("m", Vec::new());
        for port in 0..MAX_REMEMBERED as u16 + 10 {
            assert!(membership.remember(format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()));
        }
        assert_eq!(membership.peers.len(), MAX_REMEMBERED);
        let first: Multiaddr = "/ip4/127.0.0.1/tcp/10".parse().unwrap();
        assert_eq!(membership.peers[0], first);
        assert!(membership.remember(first.clone()));
        assert!(!membership.remember(first.clone()));
        assert_eq!(membership.peers.last(), Some(&first));
        assert_eq!(membership.peers.len(), MAX_REMEMBERED);
    }

    #[test]
    fn a_damaged_file_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("membership.json");
        std::fs::write(&path, r#"{"working_copy":"zz","name":"x","secret":"00"}"#).unwrap();
        let error = Membership::load(&path).unwrap_err();
        assert!(error.to_string().contains("damaged"), "{error}");
    }
}
