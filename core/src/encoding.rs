//! Binary encodings.
//!
//! - **One operation on the wire** ([`encode_op`] / [`decode_op`]): postcard
//!   (varints, length-prefixed strings) of a header that every version can
//!   read (author, seq, Lamport, kind), then the body. Kinds added after
//!   version 1 carry their units and a length-prefixed body, so a receiver
//!   that does not know the kind keeps the operation as
//!   [`TextOpKind::Opaque`]: it still occupies its units, so the author's
//!   later operations apply. References to the author's own characters are
//!   relative, which makes typing cheap: a keystroke after one's own text
//!   costs 23 bytes.
//! - **A whole history** ([`encode_history`] / [`decode_history`]): the
//!   log's merged runs as columns of varints (operation heads, origins,
//!   text lengths, delete targets; ids as deltas from the operation's own,
//!   and a run of backspaces as one descending group), DEFLATE-compressed,
//!   then the inserted text, compressed apart.

use crate::id::{IdRange, OpId, ReplicaId};
use crate::runs;
use crate::text::{TextOp, TextOpKind};
use serde::{Deserialize, Serialize};

/// A malformed encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("malformed operation encoding: {0}")]
    Malformed(String),
    #[error("history uses format version {0}; this Memo reads version {HISTORY_VERSION}: upgrade Memo")]
    UnsupportedVersion(u8),
    #[error("decompressed history would exceed {0} bytes")]
    TooLarge(usize),
}

impl From<postcard::Error> for DecodeError {
    fn from(e: postcard::Error) -> Self {
        DecodeError::Malformed(e.to_string())
    }
}

// ----- one operation --------------------------------------------------------

const KIND_INSERT: u32 = 0;
const KIND_DELETE: u32 = 1;
const KIND_UNDO: u32 = 2;

/// What every version reads first. The body follows: for the kinds of
/// version 1 (insert, delete, undo) it is self-delimiting postcard; every
/// later kind carries its units and a length-prefixed body ([`Opaque`]),
/// so that an older receiver can keep it without understanding it.
#[derive(Serialize, Deserialize)]
pub(crate) struct Header {
    replica: [u8; 16],
    seq: u64,
    /// `lamport - seq`: small, because a replica's stamp grows with its seq.
    lamport_delta: i64,
    pub kind: u32,
}

impl Header {
    pub fn new(id: &OpId, lamport: u64, kind: u32) -> Self {
        Self { replica: *id.replica.as_bytes(), seq: id.seq, lamport_delta: lamport.wrapping_sub(id.seq) as i64, kind }
    }

    /// The operation's id and Lamport stamp.
    pub fn id(&self) -> (OpId, u64) {
        (OpId::new(ReplicaId::from_bytes(self.replica), self.seq), self.seq.wrapping_add(self.lamport_delta as u64))
    }
}

/// The body of a kind unknown to version 1.
#[derive(Serialize, Deserialize)]
pub(crate) struct Opaque<'a> {
    pub units: u64,
    #[serde(borrow)]
    pub body: &'a [u8],
}

/// A reference to a character, relative to the operation that names it.
#[derive(Serialize, Deserialize)]
enum Ref {
    None,
    /// The author's unit just before this operation (typing on).
    Previous,
    /// The author's unit `back` units before this operation.
    Own {
        back: u64,
    },
    Other {
        replica: [u8; 16],
        seq: u64,
    },
    /// The character right after the left origin in its author's sequence
    /// (typing into the middle of a run). Only for right origins.
    AfterLeft,
    /// A character of the edited file's base text ([`ReplicaId::BASE_TEXT`]).
    Base {
        seq: u64,
    },
}

#[derive(Serialize, Deserialize)]
enum RangeRef {
    Own { back: u64, len: u64 },
    Other { replica: [u8; 16], seq: u64, len: u64 },
    Base { seq: u64, len: u64 },
}

#[derive(Serialize, Deserialize)]
struct InsertBody<'a> {
    left: Ref,
    right: Ref,
    text: &'a str,
}

#[derive(Serialize, Deserialize)]
struct DeleteBody {
    targets: Vec<RangeRef>,
}

#[derive(Serialize, Deserialize)]
struct UndoBody {
    edits: Vec<RangeRef>,
    undone: bool,
}

fn to_ref(op: &OpId, id: Option<OpId>) -> Ref {
    match id {
        None => Ref::None,
        Some(id) if id.replica == op.replica && id.seq < op.seq => match op.seq - id.seq {
            1 => Ref::Previous,
            back => Ref::Own { back },
        },
        Some(id) if id.replica == ReplicaId::BASE_TEXT => Ref::Base { seq: id.seq },
        Some(id) => Ref::Other { replica: *id.replica.as_bytes(), seq: id.seq },
    }
}

fn from_ref(op: &OpId, r: Ref) -> Result<Option<OpId>, DecodeError> {
    let own = |back: u64| {
        op.seq
            .checked_sub(back)
            .map(|seq| Some(OpId::new(op.replica, seq)))
            .ok_or_else(|| DecodeError::Malformed("reference before the author's first unit".into()))
    };
    match r {
        Ref::None => Ok(None),
        Ref::AfterLeft => Err(DecodeError::Malformed("AfterLeft as a left origin".into())),
        Ref::Previous => own(1),
        Ref::Own { back } => own(back),
        Ref::Other { replica, seq } => Ok(Some(OpId::new(ReplicaId::from_bytes(replica), seq))),
        Ref::Base { seq } => Ok(Some(OpId::new(ReplicaId::BASE_TEXT, seq))),
    }
}

fn to_range_refs(op: &OpId, ranges: &[IdRange]) -> Vec<RangeRef> {
    ranges
        .iter()
        .map(|r| match r.replica {
            replica if replica == op.replica && r.seq < op.seq => RangeRef::Own { back: op.seq - r.seq, len: r.len },
            ReplicaId::BASE_TEXT => RangeRef::Base { seq: r.seq, len: r.len },
            replica => RangeRef::Other { replica: *replica.as_bytes(), seq: r.seq, len: r.len },
        })
        .collect()
}

fn from_range_refs(op: &OpId, refs: Vec<RangeRef>) -> Result<Vec<IdRange>, DecodeError> {
    refs.into_iter()
        .map(|r| match r {
            RangeRef::Own { back, len } => op
                .seq
                .checked_sub(back)
                .map(|seq| IdRange::new(op.replica, seq, len))
                .ok_or_else(|| DecodeError::Malformed("range before the author's first unit".into())),
            RangeRef::Other { replica, seq, len } => Ok(IdRange::new(ReplicaId::from_bytes(replica), seq, len)),
            RangeRef::Base { seq, len } => Ok(IdRange::new(ReplicaId::BASE_TEXT, seq, len)),
        })
        .collect()
}

/// Encodes one operation for the wire.
pub fn encode_op(op: &TextOp) -> Vec<u8> {
    let header = Header::new(&op.id, op.lamport, text_kind(&op.kind));
    let out = postcard::to_allocvec(&header).and_then(|out| extend_text_body(&op.id, &op.kind, out));
    out.expect("encoding into a Vec cannot fail")
}

/// The kind number of a text operation.
pub(crate) fn text_kind(kind: &TextOpKind) -> u32 {
    match kind {
        TextOpKind::Insert { .. } => KIND_INSERT,
        TextOpKind::Delete { .. } => KIND_DELETE,
        TextOpKind::Undo { .. } => KIND_UNDO,
        TextOpKind::Opaque { kind, .. } => *kind,
    }
}

/// Appends the body of text operation `id` to `out`.
pub(crate) fn extend_text_body(id: &OpId, kind: &TextOpKind, out: Vec<u8>) -> postcard::Result<Vec<u8>> {
    match kind {
        TextOpKind::Insert { left, right, text } => {
            let right = match (left, right) {
                (Some(l), Some(r)) if r.replica == l.replica && l.seq.checked_add(1) == Some(r.seq) => Ref::AfterLeft,
                _ => to_ref(id, *right),
            };
            postcard::to_extend(&InsertBody { left: to_ref(id, *left), right, text }, out)
        }
        TextOpKind::Delete { targets } => postcard::to_extend(&DeleteBody { targets: to_range_refs(id, targets) }, out),
        TextOpKind::Undo { edits, undone } => {
            postcard::to_extend(&UndoBody { edits: to_range_refs(id, edits), undone: *undone }, out)
        }
        TextOpKind::Opaque { units, body, .. } => postcard::to_extend(&Opaque { units: *units, body }, out),
    }
}

/// Decodes one operation. An unknown kind decodes to
/// [`TextOpKind::Opaque`]. (Semantic checks are [`TextOp::validate`]'s.)
pub fn decode_op(bytes: &[u8]) -> Result<TextOp, DecodeError> {
    let (header, body): (Header, _) = postcard::take_from_bytes(bytes)?;
    let (id, lamport) = header.id();
    let (kind, rest) = take_text_body(&id, header.kind, body)?;
    no_trailing_bytes(rest)?;
    Ok(TextOp { id, lamport, kind })
}

/// Decodes the body of text operation `id` of kind `kind` from the start
/// of `body`; returns it and the bytes after it.
pub(crate) fn take_text_body<'a>(id: &OpId, kind: u32, body: &'a [u8]) -> Result<(TextOpKind, &'a [u8]), DecodeError> {
    Ok(match kind {
        KIND_INSERT => {
            let (body, rest): (InsertBody<'_>, _) = postcard::take_from_bytes(body)?;
            let left = from_ref(id, body.left)?;
            let right = match (body.right, left) {
                (Ref::AfterLeft, Some(l)) => Some(OpId::new(l.replica, l.seq.saturating_add(1))),
                (Ref::AfterLeft, None) => {
                    return Err(DecodeError::Malformed("right origin after no left origin".into()))
                }
                (right, _) => from_ref(id, right)?,
            };
            (TextOpKind::Insert { left, right, text: body.text.into() }, rest)
        }
        KIND_DELETE => {
            let (body, rest): (DeleteBody, _) = postcard::take_from_bytes(body)?;
            (TextOpKind::Delete { targets: from_range_refs(id, body.targets)?.into() }, rest)
        }
        KIND_UNDO => {
            let (body, rest): (UndoBody, _) = postcard::take_from_bytes(body)?;
            (TextOpKind::Undo { edits: from_range_refs(id, body.edits)?, undone: body.undone }, rest)
        }
        kind => {
            let (opaque, rest): (Opaque<'_>, _) = postcard::take_from_bytes(body)?;
            (TextOpKind::Opaque { kind, units: opaque.units, body: opaque.body.to_vec() }, rest)
        }
    })
}

pub(crate) fn no_trailing_bytes(rest: &[u8]) -> Result<(), DecodeError> {
    match rest.is_empty() {
        true => Ok(()),
        false => Err(DecodeError::Malformed(format!("{} trailing bytes", rest.len()))),
    }
}

// ----- a whole history --------------------------------------------------------

/// The format version of [`encode_history`].
pub const HISTORY_VERSION: u8 = 1;
const HISTORY_MAGIC: &[u8; 4] = b"MEMH";
/// A decompressed history larger than this is refused (a "zip bomb").
pub const MAX_HISTORY_BYTES: usize = 1 << 30;

/// Encodes operations (in a causal order, as [`crate::TextDoc::ops_since`]
/// gives them) compactly.
pub fn encode_history(ops: &[TextOp]) -> Vec<u8> {
    let mut w = ColumnWriter::default();
    let mut replicas: Vec<ReplicaId> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut intern = |r: ReplicaId, replicas: &mut Vec<ReplicaId>| {
        *index.entry(r).or_insert_with(|| {
            replicas.push(r);
            replicas.len() as u64 - 1
        })
    };
    let mut next_seq: Vec<u64> = Vec::new();
    let mut expected_lamport = 0u64;
    for op in ops {
        let r = intern(op.id.replica, &mut replicas);
        if next_seq.len() <= r as usize {
            next_seq.resize(r as usize + 1, 0);
        }
        let units = op.units();
        let kind = match &op.kind {
            TextOpKind::Insert { .. } => KIND_INSERT,
            TextOpKind::Delete { .. } => KIND_DELETE,
            TextOpKind::Undo { .. } => KIND_UNDO,
            TextOpKind::Opaque { kind, .. } => *kind,
        };
        w.head.uint(kind as u64);
        w.head.uint(r);
        w.head.int(op.id.seq as i64 - next_seq[r as usize] as i64);
        w.head.int(op.lamport as i64 - expected_lamport as i64);
        w.head.uint(units);
        next_seq[r as usize] = op.id.seq + units;
        expected_lamport = op.lamport + units;
        // Origins: 0 is none, 1 (right only) the left origin's successor,
        // else the replica's index plus 2 and the seq relative to the op's.
        let mut reference = |w: &mut ColumnWriter, id: Option<OpId>, replicas: &mut Vec<ReplicaId>| match id {
            None => w.refs.uint(0),
            Some(id) => {
                w.refs.uint(intern(id.replica, replicas) + 2);
                w.refs.int(id.seq as i64 - op.id.seq as i64);
            }
        };
        // A delete's first target is relative to its own seq (backspacing
        // deletes what was just typed), later ones to the previous target.
        let mut prev_target = op.id.seq;
        match &op.kind {
            TextOpKind::Insert { left, right, text } => {
                reference(&mut w, *left, &mut replicas);
                match (left, right) {
                    (Some(l), Some(r)) if r.replica == l.replica && l.seq.checked_add(1) == Some(r.seq) => {
                        w.refs.uint(1)
                    }
                    _ => reference(&mut w, *right, &mut replicas),
                }
                w.text.extend_from_slice(text.as_bytes());
                w.lens.uint(text.len() as u64);
            }
            TextOpKind::Delete { .. } | TextOpKind::Undo { .. } => {
                let ranges: &[IdRange] = match &op.kind {
                    TextOpKind::Delete { targets } => targets,
                    TextOpKind::Undo { edits, .. } => edits,
                    _ => unreachable!("matched above"),
                };
                // A run of backspaces is one descending group, written with
                // a negative length.
                let mut groups = Vec::new();
                for range in ranges {
                    runs::push(&mut groups, range.replica, range.seq, range.len);
                }
                w.ranges.uint(groups.len() as u64);
                for group in groups {
                    w.ranges.uint(intern(group.replica, &mut replicas));
                    w.ranges.int(group.first as i64 - prev_target as i64);
                    let len = group.len as i64;
                    w.ranges.int(if group.descending { -len } else { len });
                    prev_target = match group.descending {
                        true => group.lowest(),
                        false => group.first + group.len,
                    };
                }
                if let TextOpKind::Undo { undone, .. } = op.kind {
                    w.ranges.uint(undone as u64);
                }
            }
            TextOpKind::Opaque { body, .. } => {
                w.lens.uint(body.len() as u64);
                w.text.extend_from_slice(body);
            }
        }
    }
    let mut raw = Vec::new();
    let mut head = Column::default();
    head.uint(replicas.len() as u64);
    head.uint(ops.len() as u64);
    for column in w.columns() {
        head.uint(column.0.len() as u64);
    }
    raw.extend_from_slice(&head.0);
    for r in &replicas {
        raw.extend_from_slice(r.as_bytes());
    }
    for column in w.columns() {
        raw.extend_from_slice(&column.0);
    }
    // Structure and text compress better apart.
    let structure = miniz_oxide::deflate::compress_to_vec(&raw, 9);
    let text = miniz_oxide::deflate::compress_to_vec(&w.text, 9);
    let mut out = HISTORY_MAGIC.to_vec();
    out.push(HISTORY_VERSION);
    let mut length = Column::default();
    length.uint(structure.len() as u64);
    out.extend(length.0);
    out.extend(structure);
    out.extend(text);
    out
}

fn inflate(compressed: &[u8]) -> Result<Vec<u8>, DecodeError> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(compressed, MAX_HISTORY_BYTES).map_err(|e| match e.status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => DecodeError::TooLarge(MAX_HISTORY_BYTES),
        _ => DecodeError::Malformed("corrupt compressed data".into()),
    })
}

/// Decodes what [`encode_history`] made.
pub fn decode_history(bytes: &[u8]) -> Result<Vec<TextOp>, DecodeError> {
    let malformed = |what: &str| DecodeError::Malformed(what.to_owned());
    let rest = bytes.strip_prefix(HISTORY_MAGIC).ok_or_else(|| malformed("not a Memo history"))?;
    let (&version, compressed) = rest.split_first().ok_or_else(|| malformed("truncated"))?;
    if version != HISTORY_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let mut sections = Reader { bytes: compressed, at: 0 };
    let structure_len = sections.uint()? as usize;
    let raw = inflate(sections.take(structure_len)?)?;
    let text_bytes = inflate(&compressed[sections.at..])?;
    let mut r = Reader { bytes: &raw, at: 0 };
    let replica_count = r.uint()? as usize;
    let op_count = r.uint()? as usize;
    let mut lengths = [0usize; 4];
    for length in &mut lengths {
        *length = r.uint()? as usize;
    }
    let replicas: Vec<ReplicaId> = (0..replica_count)
        .map(|_| r.take(16).map(|b| ReplicaId::from_bytes(b.try_into().expect("16 bytes"))))
        .collect::<Result<_, _>>()?;
    let mut columns = Vec::with_capacity(lengths.len());
    for length in lengths {
        columns.push(Reader { bytes: r.take(length)?, at: 0 });
    }
    let Ok([head, refs, lens, ranges]) = <[Reader<'_>; 4]>::try_from(columns) else {
        unreachable!("four lengths make four columns")
    };
    if r.at != raw.len() {
        return Err(malformed("trailing bytes after the columns"));
    }
    let mut m = ColumnReaders { head, refs, lens, ranges };
    let mut text = Reader { bytes: &text_bytes, at: 0 };
    // A history cannot delete more characters than it inserted, and each
    // inserted character is at least a byte of text: this bounds how many
    // single targets descending groups may expand to (no decoding bombs).
    let mut expansion_budget = text_bytes.len() as u64;
    let replica = |i: u64| replicas.get(i as usize).copied().ok_or_else(|| malformed("unknown replica index"));
    let mut next_seq = vec![0u64; replicas.len()];
    let mut expected_lamport = 0u64;
    let mut ops = Vec::with_capacity(op_count.min(1 << 20));
    for _ in 0..op_count {
        let kind = u32::try_from(m.head.uint()?).map_err(|_| malformed("kind"))?;
        let r_index = m.head.uint()?;
        let author = replica(r_index)?;
        let seq = next_seq[r_index as usize].checked_add_signed(m.head.int()?).ok_or_else(|| malformed("seq"))?;
        let lamport = expected_lamport.checked_add_signed(m.head.int()?).ok_or_else(|| malformed("lamport"))?;
        let units = m.head.uint()?;
        let id = OpId::new(author, seq);
        let reference = |m: &mut Reader<'_>, left: Option<OpId>| -> Result<Option<OpId>, DecodeError> {
            match (m.uint()?, left) {
                (0, _) => Ok(None),
                (1, Some(left)) => Ok(Some(OpId::new(left.replica, left.seq.saturating_add(1)))),
                (1, None) => Err(malformed("a successor of no left origin")),
                (i, _) => {
                    let seq = seq.checked_add_signed(m.int()?).ok_or_else(|| malformed("reference"))?;
                    Ok(Some(OpId::new(replica(i - 2)?, seq)))
                }
            }
        };
        let mut prev_target = seq;
        let op_kind = match kind {
            KIND_INSERT => {
                let left = reference(&mut m.refs, None)?;
                let right = reference(&mut m.refs, left)?;
                let len = m.lens.uint()? as usize;
                let bytes = text.take(len)?;
                let text = std::str::from_utf8(bytes).map_err(|_| malformed("text is not UTF-8"))?;
                TextOpKind::Insert { left, right, text: text.into() }
            }
            KIND_DELETE | KIND_UNDO => {
                let count = m.ranges.uint()? as usize;
                let mut ranges = Vec::with_capacity(count.min(1 << 16));
                for _ in 0..count {
                    let r = replica(m.ranges.uint()?)?;
                    let seq = prev_target.checked_add_signed(m.ranges.int()?).ok_or_else(|| malformed("range"))?;
                    let len = m.ranges.int()?;
                    if len > 0 {
                        prev_target = seq.checked_add(len as u64).ok_or_else(|| malformed("range"))?;
                        ranges.push(IdRange::new(r, seq, len as u64));
                    } else {
                        let len = len.unsigned_abs();
                        let last = seq
                            .checked_add(1)
                            .and_then(|end| end.checked_sub(len))
                            .ok_or_else(|| malformed("range"))?;
                        if len > units || len > expansion_budget {
                            return Err(malformed("range longer than its operation or the history"));
                        }
                        expansion_budget -= len;
                        ranges.extend((last..=seq).rev().map(|s| IdRange::new(r, s, 1)));
                        prev_target = last;
                    }
                }
                match kind {
                    KIND_DELETE => TextOpKind::Delete { targets: ranges.into() },
                    _ => TextOpKind::Undo { edits: ranges, undone: m.ranges.uint()? != 0 },
                }
            }
            kind => {
                let len = m.lens.uint()? as usize;
                TextOpKind::Opaque { kind, units, body: text.take(len)?.to_vec() }
            }
        };
        let op = TextOp { id, lamport, kind: op_kind };
        if op.units() != units {
            return Err(malformed("units do not match the operation"));
        }
        next_seq[r_index as usize] = seq.checked_add(units).ok_or_else(|| malformed("seq"))?;
        expected_lamport = lamport.checked_add(units).ok_or_else(|| malformed("lamport"))?;
        ops.push(op);
    }
    Ok(ops)
}

/// The history's columns: similar values side by side compress best.
#[derive(Default)]
struct ColumnWriter {
    /// Per operation: kind, replica, seq and Lamport deltas, units.
    head: Column,
    /// Insert origins.
    refs: Column,
    /// Byte lengths of inserted text and opaque bodies.
    lens: Column,
    /// Delete targets and undone edits.
    ranges: Column,
    text: Vec<u8>,
}

impl ColumnWriter {
    fn columns(&self) -> [&Column; 4] {
        [&self.head, &self.refs, &self.lens, &self.ranges]
    }
}

struct ColumnReaders<'a> {
    head: Reader<'a>,
    refs: Reader<'a>,
    lens: Reader<'a>,
    ranges: Reader<'a>,
}

/// LEB128 varints; signed values zigzag-encoded first.
#[derive(Default)]
struct Column(Vec<u8>);

impl Column {
    fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn uint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.at).ok_or_else(|| DecodeError::Malformed("truncated".into()))?;
            self.at += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Malformed("varint too long".into()))
    }

    fn int(&mut self) -> Result<i64, DecodeError> {
        let v = self.uint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| DecodeError::Malformed("truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
}
