//! Git objects: the request by which a node asks a peer for the Git
//! commits it lacks, and the answer, a Git pack, with their encoding and
//! bounds.
//!
//! The requester names the commits it wants and the commits it has (its
//! HEAD and branch tips); the peer answers with a pack of every object
//! reachable from the wanted commits but not from the ones it knows the
//! requester has ([`Response::Pack`]), or [`Response::Missing`] when it
//! does not hold every wanted commit (or is busy). What a node does with
//! the pack, and how it builds one, is the node's (`memo-node`'s
//! `objects` module): Git is I/O.
//!
//! Encoding: postcard of the message (a struct: its fields in order; an
//! enum: a varint tag, then the fields), nothing after it; a byte string
//! is a varint length, then the bytes. The protocol's version is in its
//! libp2p name (`/memo/git/1`); a change of these messages takes a new
//! name. On the wire, as for catch-up, a message is a frame: a big-endian
//! `u32` length, then the message. [`MAX_REQUEST`] and [`MAX_RESPONSE`]
//! bound the encoded messages: the node refuses a longer frame before it
//! allocates anything. A request holds at most [`MAX_COMMITS`] ids in each
//! list, a response a pack of at most [`MAX_PACK`] bytes.

use crate::encoding::DecodeError;
use serde::{Deserialize, Serialize};

/// At most this many commit ids in each list of a [`Request`].
pub const MAX_COMMITS: usize = 256;

/// The largest encoded request: two lists of [`MAX_COMMITS`] ids of up to
/// 32 bytes (some 17 KiB), with room to spare.
pub const MAX_REQUEST: usize = 64 << 10;

/// The largest pack a peer sends or a node takes.
pub const MAX_PACK: usize = 256 << 20;

/// The largest encoded response: a pack of [`MAX_PACK`] bytes, its tag and
/// its length.
pub const MAX_RESPONSE: usize = MAX_PACK + 16;

/// "Send me these commits; I already have those." Ids are raw Git object
/// ids: 20 bytes (SHA-1) or 32 (SHA-256). (Not `non_exhaustive`: a new
/// message is a new protocol name.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The commits the requester lacks, at most [`MAX_COMMITS`].
    pub want: Vec<Vec<u8>>,
    /// Commits the requester has, at most [`MAX_COMMITS`]: the peer leaves
    /// out what they reach. An id the peer does not know is ignored.
    pub have: Vec<Vec<u8>>,
}

/// The answer to a [`Request`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// A Git pack (version 2, no index) of the wanted commits and what
    /// they reach, less what the `have` commits reach. It comes from the
    /// network: the receiver checks it before using anything in it.
    Pack(#[serde(with = "byte_string")] Vec<u8>),
    /// The peer does not hold every wanted commit (or has no repository,
    /// or is busy building packs for others): ask another peer, or later.
    Missing,
}

/// A pack shows as its size: a log line should not hold 256 MiB.
impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Response::Pack(pack) => write!(f, "Pack({} bytes)", pack.len()),
            Response::Missing => f.write_str("Missing"),
        }
    }
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a request always serializes")
    }

    /// Decodes a request: more than [`MAX_COMMITS`] ids in a list, an id
    /// of another length than 20 or 32 bytes, or bytes after the message
    /// are an error.
    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        let request: Request = decode(bytes)?;
        request.check()?;
        Ok(request)
    }

    /// Whether a peer would take this request ([`Request::decode`]'s
    /// checks): a node checks its own before sending it.
    pub fn check(&self) -> Result<(), DecodeError> {
        for (name, ids) in [("want", &self.want), ("have", &self.have)] {
            if ids.len() > MAX_COMMITS {
                let reason = format!("{} {name} ids in a Git objects request, over the {MAX_COMMITS} limit", ids.len());
                return Err(DecodeError::Malformed(reason));
            }
            if let Some(id) = ids.iter().find(|id| !matches!(id.len(), 20 | 32)) {
                let reason =
                    format!("a {name} id of {} bytes in a Git objects request (Git ids have 20 or 32)", id.len());
                return Err(DecodeError::Malformed(reason));
            }
        }
        Ok(())
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a response always serializes")
    }

    /// Decodes a response: a pack over [`MAX_PACK`] or bytes after the
    /// message are an error. The pack itself is not looked at: the node
    /// checks it as it writes it.
    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        match decode(bytes)? {
            Response::Pack(pack) if pack.len() > MAX_PACK => {
                Err(DecodeError::Malformed(format!("a pack of {} bytes, over the {MAX_PACK} limit", pack.len())))
            }
            response => Ok(response),
        }
    }
}

fn decode<'a, M: Deserialize<'a>>(bytes: &'a [u8]) -> Result<M, DecodeError> {
    match postcard::take_from_bytes(bytes)? {
        (message, []) => Ok(message),
        (_, rest) => Err(DecodeError::Malformed(format!("{} bytes after the Git objects message", rest.len()))),
    }
}

/// A pack as a byte string rather than a sequence of bytes: the same
/// postcard encoding (a varint length, then the bytes), but decoded by one
/// copy instead of one visit per byte, which matters at [`MAX_PACK`].
mod byte_string {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(Bytes)
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(bytes)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut bytes = Vec::new();
            while let Some(byte) = seq.next_element()? {
                bytes.push(byte);
            }
            Ok(bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn malformed<M: std::fmt::Debug>(decoded: Result<M, DecodeError>) -> bool {
        matches!(decoded, Err(DecodeError::Malformed(_)))
    }

    #[test]
    fn messages_round_trip_and_bad_ones_are_refused() {
        let request = Request { want: vec![vec![1; 20], vec![2; 32]], have: vec![vec![3; 20]] };
        assert_eq!(Request::decode(&request.encode()), Ok(request.clone()));
        let full = Request { want: vec![vec![1; 32]; MAX_COMMITS], have: vec![vec![2; 32]; MAX_COMMITS] };
        assert!(full.encode().len() <= MAX_REQUEST);
        assert_eq!(Request::decode(&full.encode()), Ok(full));
        for response in [Response::Pack(vec![0, 1, 2, 255]), Response::Pack(vec![]), Response::Missing] {
            assert_eq!(Response::decode(&response.encode()), Ok(response));
        }
        // The byte string is postcard's plain encoding of bytes.
        assert_eq!(Response::Pack(vec![5, 6]).encode(), postcard::to_allocvec(&(0u8, vec![5u8, 6])).unwrap());

        let too_many = Request { want: vec![vec![1; 20]; MAX_COMMITS + 1], have: vec![] };
        assert!(malformed(Request::decode(&too_many.encode())));
        assert!(too_many.check().is_err(), "not sent either");
        let too_many_haves = Request { want: vec![], have: vec![vec![1; 20]; MAX_COMMITS + 1] };
        assert!(malformed(Request::decode(&too_many_haves.encode())));
        for len in [0, 19, 21, 31, 33] {
            let wrong = Request { want: vec![vec![1; len]], have: vec![] };
            assert!(malformed(Request::decode(&wrong.encode())), "{len} bytes");
            let wrong = Request { want: vec![], have: vec![vec![1; len]] };
            assert!(malformed(Request::decode(&wrong.encode())), "{len} bytes");
        }
        let mut trailing = request.encode();
        trailing.push(0);
        assert!(malformed(Request::decode(&trailing)));
        let mut trailing = Response::Missing.encode();
        trailing.push(0);
        assert!(malformed(Response::decode(&trailing)));
        assert!(malformed(Response::decode(&[2])), "an unknown tag");
        // A pack whose length says more than the bytes there.
        assert!(malformed(Response::decode(&[0, 0x80, 0x80, 0x80, 0x01])));
    }

    #[test]
    fn the_largest_pack_fits_in_a_response() {
        // A tag and a varint length of at most 5 bytes.
        let overhead = Response::Pack(Vec::new()).encode().len() + 4;
        assert!(MAX_PACK + overhead <= MAX_RESPONSE);
    }

    #[test]
    fn a_pack_shows_as_its_size() {
        assert_eq!(format!("{:?}", Response::Pack(vec![0; 1000])), "Pack(1000 bytes)");
        assert_eq!(format!("{:?}", Response::Missing), "Missing");
    }
}
