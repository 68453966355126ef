//! Catch-up (anti-entropy): the request a node sends a peer and the answer,
//! with their encoding and bounds.
//!
//! The requester sends its version ([`Request::Have`]); the peer answers
//! with the operations it holds that the version lacks ([`Response::Ops`]),
//! filled by a [`Batch`]: at most [`BATCH_OPS`] operations and about
//! [`BATCH_BYTES`] bytes, except that an operation bigger than that goes
//! alone; `more` says the batch was cut short, so the requester asks again
//! with its new version.
//!
//! An operation too large for gossip (over [`MAX_GOSSIP_OP`]) is not
//! gossiped: its author gossips an [`Announcement`] of it on the working
//! copy's announcement topic instead, and whoever lacks it fetches it by
//! catch-up from the announcer at once.
//!
//! Encoding: postcard of the message (an enum: a varint tag, then the
//! fields), nothing after it. The protocol's version is in its libp2p name
//! (`/memo/catchup/1`); a change of these messages takes a new name.
//! [`MAX_REQUEST`] and [`MAX_RESPONSE`] bound the encoded messages: the
//! node refuses a longer frame before it allocates anything.

use crate::encoding::DecodeError;
use crate::id::IdRange;
use crate::text::MAX_SEQ;
use crate::tree::MAX_CONTENT_BYTES;
use crate::version::VersionVector;
use serde::{Deserialize, Serialize};

/// The largest encoded request. A request is a version vector: about 20
/// bytes per replica, so this allows some 50,000 replicas.
pub const MAX_REQUEST: usize = 1 << 20;

/// The largest encoded operation a peer serves: the largest content one
/// operation may carry ([`MAX_CONTENT_BYTES`]) and room for the rest (its
/// name, ids and the values it replaces).
pub const MAX_OP_BYTES: usize = MAX_CONTENT_BYTES + (1 << 20);

/// The largest encoded response: a batch ([`BATCH_BYTES`] plus the last
/// operation it took) or one operation of up to [`MAX_OP_BYTES`], plus the
/// message's own few bytes. A node reads a response only to a request it
/// made, one at a time per peer, so a peer can make it hold at most this
/// much at once.
pub const MAX_RESPONSE: usize = MAX_OP_BYTES + 64;

/// The largest encoded operation that is gossiped; a larger one is
/// announced ([`Announcement`]) and fetched by catch-up. Gossipsub refuses
/// messages over 64 KiB (its `max_transmit_size`, which every peer must
/// share), and the signed envelope around the operation takes the rest:
/// signature, public key, topic, sequence number.
pub const MAX_GOSSIP_OP: usize = 60 << 10;

/// At most this many operations in one response.
pub const BATCH_OPS: usize = 10_000;

/// A batch takes no further operation once it holds this many bytes, and
/// an operation that would take it past them waits for the next batch
/// (unless the batch is empty: then it goes alone).
pub const BATCH_BYTES: usize = 1 << 20;

/// "Here is my version: send what I lack." (Not `non_exhaustive`: a new
/// message is a new protocol name, never a surprise inside this one.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Have(VersionVector),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Encoded operations ([`crate::TreeOp::encode`]), each replica's in
    /// sequence order; `more` when the batch bounds cut the answer short.
    Ops { ops: Vec<Vec<u8>>, more: bool },
    /// Too many requests from this peer: ask again later.
    Busy,
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a request; bytes after it are an error.
    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        decode(bytes)
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a response; bytes after it are an error. The operations
    /// inside stay encoded: each is decoded (and checked) on its own, so
    /// that one bad operation does not hide the others.
    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        decode(bytes)
    }
}

/// "I hold this operation (too large to gossip): fetch it by catch-up."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    /// The operation's units.
    pub range: IdRange,
}

impl Announcement {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes an announcement; one naming no units, or units beyond what
    /// an operation may take, is an error.
    pub fn decode(bytes: &[u8]) -> Result<Announcement, DecodeError> {
        let announcement: Announcement = decode(bytes)?;
        let IdRange { seq, len, .. } = announcement.range;
        match len > 0 && seq < MAX_SEQ && len < MAX_SEQ - seq {
            true => Ok(announcement),
            false => Err(DecodeError::Malformed(format!("announced units {seq} + {len} out of range"))),
        }
    }
}

fn encode<M: Serialize>(message: &M) -> Vec<u8> {
    postcard::to_allocvec(message).expect("catch-up messages always serialize")
}

fn decode<'a, M: Deserialize<'a>>(bytes: &'a [u8]) -> Result<M, DecodeError> {
    match postcard::take_from_bytes(bytes)? {
        (message, []) => Ok(message),
        (_, rest) => Err(DecodeError::Malformed(format!("{} bytes after the catch-up message", rest.len()))),
    }
}

/// The operations of one [`Response::Ops`], filled within the bounds (see
/// the module documentation).
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<Vec<u8>>,
    bytes: usize,
    more: bool,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// How many more operations the batch may take at most.
    pub fn room(&self) -> usize {
        match self.more {
            true => 0,
            false => BATCH_OPS - self.ops.len(),
        }
    }

    /// Adds an encoded operation if it fits, and returns whether it did.
    /// Once one does not fit (or the batch is full) the batch is closed:
    /// it takes nothing more, and its response says `more`. An operation
    /// over [`MAX_OP_BYTES`] never fits (no receiver would take it).
    pub fn push(&mut self, op: Vec<u8>) -> bool {
        let fits = op.len() <= MAX_OP_BYTES && (self.ops.is_empty() || self.bytes + op.len() <= BATCH_BYTES);
        if self.room() == 0 || !fits {
            self.more = true;
            return false;
        }
        self.bytes += op.len();
        self.ops.push(op);
        self.more |= self.ops.len() == BATCH_OPS || self.bytes >= BATCH_BYTES;
        true
    }

    /// Notes that the answer is cut short for another reason (a scan that
    /// stopped at its limit).
    pub fn cut(&mut self) {
        self.more = true;
    }

    /// Whether the batch takes nothing more.
    pub fn is_closed(&self) -> bool {
        self.room() == 0
    }

    pub fn into_response(self) -> Response {
        Response::Ops { ops: self.ops, more: self.more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReplicaId;

    #[test]
    fn messages_round_trip_and_trailing_bytes_are_refused() {
        let have: VersionVector = [(ReplicaId::from_u128(1), 7)].into_iter().collect();
        let request = Request::Have(have);
        assert_eq!(Request::decode(&request.encode()), Ok(request.clone()));
        let response = Response::Ops { ops: vec![vec![1, 2, 3], vec![]], more: true };
        assert_eq!(Response::decode(&response.encode()), Ok(response));
        let mut long = request.encode();
        long.push(0);
        assert!(Request::decode(&long).is_err());
        assert!(Response::decode(&[9]).is_err());
    }

    #[test]
    fn an_announcement_round_trips_and_must_name_valid_units() {
        let replica = ReplicaId::from_u128(1);
        let announcement = Announcement { range: IdRange::new(replica, 5, 2) };
        assert_eq!(Announcement::decode(&announcement.encode()), Ok(announcement));
        for (seq, len) in [(5, 0), (u64::MAX, 2), (1, MAX_SEQ)] {
            let bytes = postcard::to_allocvec(&Announcement { range: IdRange::new(replica, seq, len) }).unwrap();
            assert!(Announcement::decode(&bytes).is_err(), "{seq} + {len}");
        }
    }

    #[test]
    fn a_batch_stops_at_its_bounds_and_a_big_operation_goes_alone() {
        let mut batch = Batch::new();
        for _ in 0..BATCH_OPS {
            assert!(batch.push(vec![0; 10]));
        }
        assert!(batch.is_closed() && !batch.push(vec![0; 10]));
        assert!(matches!(batch.into_response(), Response::Ops { ops, more: true } if ops.len() == BATCH_OPS));

        let mut batch = Batch::new();
        assert!(batch.push(vec![0; 10]));
        assert!(!batch.push(vec![0; BATCH_BYTES]), "a big one waits for a batch of its own");
        let mut alone = Batch::new();
        assert!(alone.push(vec![0; 5 * BATCH_BYTES]));
        assert!(alone.is_closed());
        let response = alone.into_response().encode();
        assert!(response.len() <= MAX_RESPONSE);

        let mut batch = Batch::new();
        assert!(!batch.push(vec![0; MAX_OP_BYTES + 1]), "never served");
    }

    #[test]
    fn the_largest_operation_fits_in_a_response() {
        // Build the encoding's size without allocating 65 MiB twice: the
        // response adds a tag, a count, a length and a flag.
        let overhead = Response::Ops { ops: vec![Vec::new()], more: true }.encode().len();
        assert!(MAX_OP_BYTES + overhead + 4 <= MAX_RESPONSE);
    }
}
