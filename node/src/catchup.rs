//! Catch-up (anti-entropy) on libp2p: the request-response protocol by
//! which a node fetches the operations it lacks from a peer, in bounded
//! batches. The messages, their encoding and their bounds are
//! [`memo_core::protocol::catchup`]'s; this module frames them on a stream
//! ([`Codec`]) and fills a response from the store ([`serve`]).
//!
//! On the wire ([`crate::frames`]): a big-endian `u32` length, then that
//! many bytes of the message. A length over [`MAX_REQUEST`] (requests) or
//! [`MAX_RESPONSE`] (responses) is an error before anything is allocated.

use crate::frames::Message;
use crate::store::StoreReader;
use crate::StoreError;
use libp2p::StreamProtocol;
pub use memo_core::protocol::catchup::{
    Announcement, Batch, Request, Response, BATCH_BYTES, BATCH_OPS, MAX_GOSSIP_OP, MAX_REQUEST, MAX_RESPONSE,
};
use memo_core::{DecodeError, VersionVector};

/// The protocol's name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/memo/catchup/1");

/// The operations `store` holds that `have` lacks, within the batch
/// bounds: for each replica of `ours` ahead of `have`, its stored
/// operations from `have`'s count on, in sequence order. It reads the
/// store: the node runs it on a blocking thread.
pub fn serve(store: &StoreReader, ours: &VersionVector, have: &VersionVector) -> Result<Response, StoreError> {
    let mut batch = Batch::new();
    for range in ours.missing_from(have) {
        let (found, cut) = store.ops_of_bounded(range.replica, range.seq, batch.room())?;
        for op in found {
            if !batch.push(op.encode()) {
                break;
            }
        }
        if cut {
            batch.cut();
        }
        if batch.is_closed() {
            break;
        }
    }
    Ok(batch.into_response())
}

/// The codec: length prefix, size cap, then the message
/// ([`crate::frames`]).
pub type Codec = crate::frames::Codec<Request, Response>;

impl Message for Request {
    const MAX: usize = MAX_REQUEST;
    fn encode(&self) -> Vec<u8> {
        Request::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        Request::decode(bytes)
    }
}

impl Message for Response {
    const MAX: usize = MAX_RESPONSE;
    fn encode(&self) -> Vec<u8> {
        Response::encode(self)
    }
    fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        Response::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec as _;

    #[test]
    fn a_message_round_trips_and_an_oversized_frame_is_refused() {
        let response = Response::Ops { ops: vec![vec![1, 2, 3], vec![]], more: true };
        let mut buffer = futures::io::Cursor::new(Vec::new());
        futures::executor::block_on(Codec::default().write_response(&PROTOCOL, &mut buffer, response.clone())).unwrap();
        let mut written = futures::io::Cursor::new(buffer.into_inner());
        let back = futures::executor::block_on(Codec::default().read_response(&PROTOCOL, &mut written)).unwrap();
        assert_eq!(back, response);
        let mut oversized = futures::io::Cursor::new(((MAX_REQUEST + 1) as u32).to_be_bytes().to_vec());
        let refused = futures::executor::block_on(Codec::default().read_request(&PROTOCOL, &mut oversized));
        assert_eq!(refused.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }
}
