//! The state of one entry: its kind and content, who changed it, and the
//! deletes that may hide it.

use super::ids::BlobId;
use super::op::ValueId;
use super::structure::Stamp;
use crate::id::{OpId, ReplicaId};
use crate::text::TextCrdt;
use crate::version::VersionVector;

/// The stamp of the base snapshot: older than every operation.
pub(crate) const BASE_STAMP: Stamp = (0, ReplicaId::NIL);

#[derive(Debug)]
pub(crate) struct Entry {
    pub kind: Kind,
    /// Every operation that created, moved, renamed or changed the entry:
    /// per author, one past the latest such unit. A delete removes the
    /// entry only if it saw all of them.
    pub touched: VersionVector,
    /// What each delete of this entry had seen (none dominating another).
    pub deletes: Vec<VersionVector>,
    /// Its path in the base snapshot, if it comes from there.
    pub base_path: Option<String>,
    /// Whether an operation changed its content or mode since the base.
    pub modified: bool,
}

impl Entry {
    pub fn new(kind: Kind, base_path: Option<String>) -> Self {
        Self { kind, touched: VersionVector::new(), deletes: Vec::new(), base_path, modified: false }
    }

    /// Records that the unit range `id..id + units` changed the entry.
    pub fn touch(&mut self, id: OpId, units: u64) {
        let end = id.seq + units;
        if self.touched.get(id.replica) < end {
            self.touched.set(id.replica, end);
        }
    }

    /// Records a delete that had seen `seen`.
    pub fn add_delete(&mut self, seen: VersionVector) {
        if self.deletes.iter().any(|d| d.dominates(&seen)) {
            return;
        }
        self.deletes.retain(|d| !seen.dominates(d));
        self.deletes.push(seen);
    }

    /// Whether one of `deletes` saw every change of this entry.
    pub fn removed_by<'a>(&self, mut deletes: impl Iterator<Item = &'a VersionVector>) -> bool {
        deletes.any(|seen| seen.dominates(&self.touched))
    }
}

#[derive(Debug)]
pub(crate) enum Kind {
    Dir,
    /// A base file not read yet: text or binary is decided when it is.
    Unread {
        blob: BlobId,
        executable: Lww,
    },
    Text {
        text: Box<TextCrdt>,
        executable: Lww,
    },
    Binary {
        content: Register,
        executable: Lww,
    },
    Symlink {
        target: Register,
    },
}

impl Kind {
    pub fn executable(&self) -> Option<&Lww> {
        match self {
            Kind::Unread { executable, .. } | Kind::Text { executable, .. } | Kind::Binary { executable, .. } => {
                Some(executable)
            }
            Kind::Dir | Kind::Symlink { .. } => None,
        }
    }
}

/// A last-writer-wins bit (the executable bit), by stamp.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lww {
    pub value: bool,
    pub stamp: Stamp,
}

impl Lww {
    pub fn base(value: bool) -> Self {
        Self { value, stamp: BASE_STAMP }
    }

    pub fn set(&mut self, value: bool, stamp: Stamp) {
        if stamp > self.stamp {
            *self = Lww { value, stamp };
        }
    }
}

/// Where a content value's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bytes {
    Base(BlobId),
    Inline(Vec<u8>),
}

/// A multi-value register: every value not replaced by a later one. Two
/// concurrent writes both stay; the one with the greatest stamp is the
/// file's content and the others are shown as conflict copies, until a
/// write that saw them replaces them all.
#[derive(Clone, Debug)]
pub(crate) struct Register {
    /// In stamp order: the last is the winner.
    values: Vec<(ValueId, Stamp, Bytes)>,
}

impl Register {
    pub fn new(id: ValueId, stamp: Stamp, bytes: Bytes) -> Self {
        Self { values: vec![(id, stamp, bytes)] }
    }

    /// Sets a value, replacing `replaces` (causal delivery guarantees they
    /// were applied before).
    pub fn set(&mut self, id: ValueId, stamp: Stamp, bytes: Bytes, replaces: &[ValueId]) {
        self.values.retain(|(v, ..)| !replaces.contains(v));
        let at = self.values.partition_point(|(_, s, _)| *s < stamp);
        self.values.insert(at, (id, stamp, bytes));
    }

    pub fn winner(&self) -> &Bytes {
        &self.values.last().expect("a register always holds a value").2
    }

    /// The values that lost to the winner, with the stamps that made them.
    pub fn losers(&self) -> impl Iterator<Item = (ValueId, Stamp, &Bytes)> + '_ {
        self.values[..self.values.len() - 1].iter().map(|(id, stamp, bytes)| (*id, *stamp, bytes))
    }

    pub fn ids(&self) -> Vec<ValueId> {
        self.values.iter().map(|(id, ..)| *id).collect()
    }

    pub fn get(&self, id: ValueId) -> Option<&Bytes> {
        self.values.iter().find(|(v, ..)| *v == id).map(|(.., bytes)| bytes)
    }
}
