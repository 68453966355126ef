//! Identities: replicas, operations and the Lamport clock.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A replica: one copy of a document on one machine, named by a UUID v4.
///
/// The core does no I/O, so it takes the random bytes from its caller
/// ([`ReplicaId::from_random_bytes`]); the node draws them from the OS.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReplicaId(uuid::Uuid);

impl ReplicaId {
    /// The all-zero id: never a replica's (they are random); the base
    /// snapshot's stamps use it, so that they sort before every replica's.
    pub const NIL: ReplicaId = ReplicaId(uuid::Uuid::nil());

    /// "The base text of the file this operation edits", as working-tree
    /// operations name base characters on the wire: the receiver knows the
    /// file's base, so its 16-byte id need not travel. (A UUID version 8.)
    pub const BASE_TEXT: ReplicaId = ReplicaId(uuid::Uuid::from_u128(0x0000_0000_0000_8000_8000_0000_0000_0000));

    /// A UUID v4 made from 16 random bytes (the version bits are set here).
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// A replica id from a plain number: deterministic, for tests and vectors.
    pub fn from_u128(n: u128) -> Self {
        Self(uuid::Uuid::from_u128(n))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }

    pub(crate) fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }

    /// Whether this names the characters of a base text (a UUID version 8,
    /// see [`crate::tree::base_text_replica`]) rather than a replica: no
    /// operation is ever authored by one.
    pub fn is_base_text(&self) -> bool {
        self.0.get_version_num() == 8
    }
}

impl fmt::Debug for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first 8 hex digits are enough to tell replicas apart in logs.
        write!(f, "{}", &self.0.simple().to_string()[..8])
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Sequence numbers count a replica's units of work: each inserted character
/// is one unit, and so is each deleted character and each undo. A replica's
/// sequence is contiguous from 0 and a (replica, seq) pair is never reused.
/// (A host may share one sequence between documents: then one document's
/// share of it has gaps.)
pub type Seq = u64;

/// The identity of one unit (a character, a deletion, an undo).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId {
    pub replica: ReplicaId,
    pub seq: Seq,
}

impl OpId {
    pub fn new(replica: ReplicaId, seq: Seq) -> Self {
        Self { replica, seq }
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}.{}", self.replica, self.seq)
    }
}

/// A contiguous run of one replica's units: `seq..seq + len`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdRange {
    pub replica: ReplicaId,
    pub seq: Seq,
    pub len: u64,
}

impl IdRange {
    pub fn new(replica: ReplicaId, seq: Seq, len: u64) -> Self {
        Self { replica, seq, len }
    }

    pub fn end(&self) -> Seq {
        self.seq + self.len
    }

    pub fn contains(&self, id: OpId) -> bool {
        id.replica == self.replica && id.seq >= self.seq && id.seq < self.end()
    }
}

impl fmt::Debug for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}.{}..{}", self.replica, self.seq, self.end())
    }
}

/// Lamport timestamps order operations consistently with causality: an
/// operation's stamp is greater than that of every operation its author had
/// seen. Ties between replicas break on the replica id.
pub type Lamport = u64;

/// The stamp a host gives a local edit: the id and Lamport stamp of its
/// first unit. The edit's unit `i` is `(replica, seq + i)` with Lamport
/// stamp `lamport + i`; after an edit of `n` units the host's next stamp is
/// [`LocalStamp::plus`]`(n)` (or later: sequence numbers may have gaps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalStamp {
    pub replica: ReplicaId,
    pub seq: Seq,
    pub lamport: Lamport,
}

impl LocalStamp {
    /// The id of the edit's first unit.
    pub fn id(&self) -> OpId {
        OpId::new(self.replica, self.seq)
    }

    /// The stamp of the unit `n` units after this one.
    pub fn plus(self, n: u64) -> Self {
        Self { seq: self.seq + n, lamport: self.lamport + n, ..self }
    }
}
