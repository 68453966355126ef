//! Identities in the working tree: entries, base text, timelines.
//!
//! Two kinds of identity are *derived* rather than drawn, so that replicas
//! agree on them without talking:
//! - a directory made by name, and every entry of the base snapshot, is
//!   named by a hash of its parent, its name and a generation number: two
//!   replicas that `mkdir d` concurrently make the same directory;
//! - the characters of a base text file are units of a pseudo-replica
//!   derived from the Git blob id, so that every replica that loaded the
//!   same commit names the same base characters without sending them.

use crate::id::{OpId, ReplicaId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// An entry of the working tree: a directory, file or symlink. It keeps its
/// identity through renames and moves.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EntryId {
    /// The working copy's top directory.
    Root,
    /// A file or symlink, named by the operation that created it.
    Created(OpId),
    /// A directory, or an entry of the base snapshot: see [`EntryId::derive`].
    Derived([u8; 16]),
}

impl EntryId {
    /// The identity of the `generation`-th entry made under `parent` with
    /// `name`: the first 16 bytes of SHA-256 over a domain tag, the parent's
    /// bytes, the name's length and bytes, and the generation (64-bit
    /// little-endian). A replica uses the lowest generation it has not seen
    /// used, so that a directory made again after a delete or rename is a
    /// new one.
    pub fn derive(parent: EntryId, name: &str, generation: u64) -> EntryId {
        let mut hash = Sha256::new();
        hash.update(b"memo/entry/v1");
        parent.hash_into(&mut hash);
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update(generation.to_le_bytes());
        EntryId::Derived(first_16(hash))
    }

    fn hash_into(&self, hash: &mut Sha256) {
        match self {
            EntryId::Root => hash.update([0]),
            EntryId::Created(id) => {
                hash.update([1]);
                hash.update(id.replica.as_bytes());
                hash.update(id.seq.to_le_bytes());
            }
            EntryId::Derived(bytes) => {
                hash.update([2]);
                hash.update(bytes);
            }
        }
    }

    /// The operation that created this entry, for those made by one.
    pub fn creator(&self) -> Option<OpId> {
        match self {
            EntryId::Created(id) => Some(*id),
            _ => None,
        }
    }
}

impl fmt::Debug for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryId::Root => write!(f, "root"),
            EntryId::Created(id) => write!(f, "{id:?}"),
            EntryId::Derived(bytes) => write!(f, "d:{:02x}{:02x}{:02x}{:02x}", bytes[0], bytes[1], bytes[2], bytes[3]),
        }
    }
}

/// A Git object id (SHA-1 or SHA-256), as the base snapshot names blobs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlobId(pub Vec<u8>);

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().take(6).try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The pseudo-replica whose units are the characters of base blob `blob`:
/// a UUID version 8 (real replicas are version 4, so the two never meet).
pub fn base_text_replica(blob: &BlobId) -> ReplicaId {
    let mut hash = Sha256::new();
    hash.update(b"memo/base-text/v1");
    hash.update(&blob.0);
    ReplicaId::from_uuid(uuid::Builder::from_custom_bytes(first_16(hash)).into_uuid())
}

fn first_16(hash: Sha256) -> [u8; 16] {
    hash.finalize()[..16].try_into().expect("SHA-256 has 32 bytes")
}

/// A timeline: one line of the working copy's history. Every operation
/// belongs to exactly one; forking starts a new one from a version of
/// another. The main timeline is 0.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct TimelineId(pub u64);

impl TimelineId {
    pub const MAIN: TimelineId = TimelineId(0);
}

impl fmt::Debug for TimelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timeline {:x}", self.0)
    }
}
