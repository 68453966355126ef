//! The wire encoding of working-tree operations.
//!
//! The same header as a text operation's ([`crate::encoding`]): author,
//! seq, Lamport, kind; then the timeline (a varint: one byte for the main
//! timeline). Kinds 0-2 are text edits: the file, then the text
//! operation's own body. Every other kind carries its units and a
//! length-prefixed body, so that a receiver that does not know the kind
//! keeps it as [`TreeOpKind::Opaque`] (it occupies its units, so the
//! author's later operations still apply) and forwards it unchanged.
//! References to entries and values made by the author itself are
//! relative, as for characters, and characters of the edited file's base
//! text are named by their number alone ([`crate::ReplicaId::BASE_TEXT`]):
//! the receiver knows which base text the file has.

use super::ids::{EntryId, TimelineId};
use super::op::{NewEntry, TreeOp, TreeOpKind, ValueId};
use crate::encoding::{self, DecodeError, Header, Opaque};
use crate::id::{OpId, ReplicaId};
use crate::text::TextOpKind;
use crate::version::VersionVector;
use serde::{Deserialize, Serialize};

const KIND_CREATE: u32 = 16;
const KIND_MOVE: u32 = 17;
const KIND_DELETE: u32 = 18;
const KIND_SET_CONTENT: u32 = 19;
const KIND_SET_EXECUTABLE: u32 = 20;
const KIND_COMMIT: u32 = 21;
const KIND_CHECKOUT: u32 = 22;

/// An entry, relative to the operation that names it.
#[derive(Serialize, Deserialize)]
enum EntryRef {
    Root,
    /// Made by the author's operation `back` units before this one.
    Own {
        back: u64,
    },
    Other {
        replica: [u8; 16],
        seq: u64,
    },
    Derived([u8; 16]),
}

#[derive(Serialize, Deserialize)]
enum ValueRef {
    Base,
    Own { back: u64 },
    Other { replica: [u8; 16], seq: u64 },
}

#[derive(Serialize, Deserialize)]
struct CreateBody<'a> {
    parent: EntryRef,
    name: &'a str,
    entry: NewEntry,
}

#[derive(Serialize, Deserialize)]
struct MoveBody<'a> {
    entry: EntryRef,
    parent: EntryRef,
    name: &'a str,
}

#[derive(Serialize, Deserialize)]
struct CommitBody<'a> {
    commit: &'a [u8],
    version: Vec<([u8; 16], u64)>,
}

#[derive(Serialize, Deserialize)]
struct CheckoutBody<'a> {
    commit: &'a [u8],
    branch: &'a str,
}

#[derive(Serialize, Deserialize)]
struct DeleteBody {
    entry: EntryRef,
    seen: Vec<([u8; 16], u64)>,
}

#[derive(Serialize, Deserialize)]
struct SetContentBody<'a> {
    entry: EntryRef,
    content: &'a [u8],
    replaces: Vec<ValueRef>,
}

#[derive(Serialize, Deserialize)]
struct SetExecutableBody {
    file: EntryRef,
    executable: bool,
}

fn own_back(op: &OpId, id: OpId) -> Option<u64> {
    (id.replica == op.replica && id.seq < op.seq).then(|| op.seq - id.seq)
}

fn own(op: &OpId, back: u64) -> Result<OpId, DecodeError> {
    let seq = op.seq.checked_sub(back).filter(|_| back > 0);
    seq.map(|seq| OpId::new(op.replica, seq))
        .ok_or_else(|| DecodeError::Malformed("reference to no earlier unit of the author".into()))
}

fn entry_ref(op: &OpId, entry: EntryId) -> EntryRef {
    match entry {
        EntryId::Root => EntryRef::Root,
        EntryId::Derived(bytes) => EntryRef::Derived(bytes),
        EntryId::Created(id) => match own_back(op, id) {
            Some(back) => EntryRef::Own { back },
            None => EntryRef::Other { replica: *id.replica.as_bytes(), seq: id.seq },
        },
    }
}

fn entry_from(op: &OpId, r: EntryRef) -> Result<EntryId, DecodeError> {
    Ok(match r {
        EntryRef::Root => EntryId::Root,
        EntryRef::Derived(bytes) => EntryId::Derived(bytes),
        EntryRef::Own { back } => EntryId::Created(own(op, back)?),
        EntryRef::Other { replica, seq } => EntryId::Created(OpId::new(ReplicaId::from_bytes(replica), seq)),
    })
}

fn value_ref(op: &OpId, value: ValueId) -> ValueRef {
    match value {
        ValueId::Base => ValueRef::Base,
        ValueId::Op(id) => match own_back(op, id) {
            Some(back) => ValueRef::Own { back },
            None => ValueRef::Other { replica: *id.replica.as_bytes(), seq: id.seq },
        },
    }
}

fn value_from(op: &OpId, r: ValueRef) -> Result<ValueId, DecodeError> {
    Ok(match r {
        ValueRef::Base => ValueId::Base,
        ValueRef::Own { back } => ValueId::Op(own(op, back)?),
        ValueRef::Other { replica, seq } => ValueId::Op(OpId::new(ReplicaId::from_bytes(replica), seq)),
    })
}

/// Encodes one operation for the wire.
pub fn encode_tree_op(op: &TreeOp) -> Vec<u8> {
    let header = |kind| {
        postcard::to_allocvec(&Header::new(&op.id, op.lamport, kind))
            .and_then(|out| postcard::to_extend(&op.timeline.0, out))
    };
    let id = &op.id;
    let framed = |kind: u32, body: postcard::Result<Vec<u8>>| (kind, 1, body.expect("encoding into a Vec"));
    let (kind, units, body) = match &op.kind {
        TreeOpKind::Edit { file, edit } if !matches!(edit, TextOpKind::Opaque { .. }) => {
            let out = header(encoding::text_kind(edit))
                .and_then(|out| postcard::to_extend(&entry_ref(id, *file), out))
                .and_then(|out| encoding::extend_text_body(id, edit, out));
            return out.expect("encoding into a Vec cannot fail");
        }
        TreeOpKind::Edit { edit: TextOpKind::Opaque { kind, units, body }, .. }
        | TreeOpKind::Opaque { kind, units, body } => (*kind, *units, body.clone()),
        TreeOpKind::Edit { .. } => unreachable!("the first arm takes every other edit"),
        TreeOpKind::Create { parent, name, entry } => framed(
            KIND_CREATE,
            postcard::to_allocvec(&CreateBody { parent: entry_ref(id, *parent), name, entry: entry.clone() }),
        ),
        TreeOpKind::Move { entry, parent, name } => framed(
            KIND_MOVE,
            postcard::to_allocvec(&MoveBody { entry: entry_ref(id, *entry), parent: entry_ref(id, *parent), name }),
        ),
        TreeOpKind::Delete { entry, seen } => {
            let seen = version_to_wire(seen);
            framed(KIND_DELETE, postcard::to_allocvec(&DeleteBody { entry: entry_ref(id, *entry), seen }))
        }
        TreeOpKind::Commit { commit, version } => {
            let version = version_to_wire(version);
            framed(KIND_COMMIT, postcard::to_allocvec(&CommitBody { commit, version }))
        }
        TreeOpKind::Checkout { commit, branch } => {
            framed(KIND_CHECKOUT, postcard::to_allocvec(&CheckoutBody { commit, branch }))
        }
        TreeOpKind::SetContent { entry, content, replaces } => {
            let replaces = replaces.iter().map(|v| value_ref(id, *v)).collect();
            let body = SetContentBody { entry: entry_ref(id, *entry), content, replaces };
            framed(KIND_SET_CONTENT, postcard::to_allocvec(&body))
        }
        TreeOpKind::SetExecutable { file, executable } => {
            let body = SetExecutableBody { file: entry_ref(id, *file), executable: *executable };
            framed(KIND_SET_EXECUTABLE, postcard::to_allocvec(&body))
        }
    };
    let out = header(kind).and_then(|out| postcard::to_extend(&Opaque { units, body: &body }, out));
    out.expect("encoding into a Vec cannot fail")
}

/// Decodes one operation; an unknown kind decodes to
/// [`TreeOpKind::Opaque`]. (Semantic checks are [`TreeOp::validate`]'s.)
pub fn decode_tree_op(bytes: &[u8]) -> Result<TreeOp, DecodeError> {
    let (header, rest): (Header, _) = postcard::take_from_bytes(bytes)?;
    let (timeline, rest): (u64, _) = postcard::take_from_bytes(rest)?;
    let (id, lamport) = header.id();
    let kind = match header.kind {
        0..=2 => {
            let (file, rest): (EntryRef, _) = postcard::take_from_bytes(rest)?;
            let (edit, rest) = encoding::take_text_body(&id, header.kind, rest)?;
            encoding::no_trailing_bytes(rest)?;
            TreeOpKind::Edit { file: entry_from(&id, file)?, edit }
        }
        kind => {
            let (opaque, rest): (Opaque<'_>, _) = postcard::take_from_bytes(rest)?;
            encoding::no_trailing_bytes(rest)?;
            if opaque.units != 1 && (KIND_CREATE..=KIND_CHECKOUT).contains(&kind) {
                return Err(DecodeError::Malformed(format!("kind {kind} takes one unit, not {}", opaque.units)));
            }
            decode_framed(&id, kind, opaque)?
        }
    };
    Ok(TreeOp { id, lamport, timeline: TimelineId(timeline), kind })
}

fn decode_framed(id: &OpId, kind: u32, opaque: Opaque<'_>) -> Result<TreeOpKind, DecodeError> {
    let body = opaque.body;
    Ok(match kind {
        KIND_CREATE => {
            let b: CreateBody<'_> = postcard::from_bytes(body)?;
            TreeOpKind::Create { parent: entry_from(id, b.parent)?, name: b.name.into(), entry: b.entry }
        }
        KIND_MOVE => {
            let b: MoveBody<'_> = postcard::from_bytes(body)?;
            TreeOpKind::Move { entry: entry_from(id, b.entry)?, parent: entry_from(id, b.parent)?, name: b.name.into() }
        }
        KIND_DELETE => {
            let b: DeleteBody = postcard::from_bytes(body)?;
            TreeOpKind::Delete { entry: entry_from(id, b.entry)?, seen: version_from_wire(b.seen) }
        }
        KIND_COMMIT => {
            let b: CommitBody<'_> = postcard::from_bytes(body)?;
            TreeOpKind::Commit { commit: b.commit.to_vec(), version: version_from_wire(b.version) }
        }
        KIND_CHECKOUT => {
            let b: CheckoutBody<'_> = postcard::from_bytes(body)?;
            TreeOpKind::Checkout { commit: b.commit.to_vec(), branch: b.branch.into() }
        }
        KIND_SET_CONTENT => {
            let b: SetContentBody<'_> = postcard::from_bytes(body)?;
            let replaces = b.replaces.into_iter().map(|v| value_from(id, v)).collect::<Result<_, _>>()?;
            TreeOpKind::SetContent { entry: entry_from(id, b.entry)?, content: b.content.to_vec(), replaces }
        }
        KIND_SET_EXECUTABLE => {
            let b: SetExecutableBody = postcard::from_bytes(body)?;
            TreeOpKind::SetExecutable { file: entry_from(id, b.file)?, executable: b.executable }
        }
        kind => TreeOpKind::Opaque { kind, units: opaque.units, body: body.to_vec() },
    })
}

fn version_to_wire(version: &VersionVector) -> Vec<([u8; 16], u64)> {
    version.iter().map(|(replica, count)| (*replica.as_bytes(), count)).collect()
}

fn version_from_wire(pairs: Vec<([u8; 16], u64)>) -> VersionVector {
    let mut version = VersionVector::new();
    for (replica, count) in pairs {
        version.set(ReplicaId::from_bytes(replica), count);
    }
    version
}

impl TreeOp {
    /// The wire encoding (see the `wire` module).
    pub fn encode(&self) -> Vec<u8> {
        encode_tree_op(self)
    }

    /// Decodes the wire encoding.
    pub fn decode(bytes: &[u8]) -> Result<TreeOp, DecodeError> {
        decode_tree_op(bytes)
    }
}
