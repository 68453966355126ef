//! Catch-up (anti-entropy): the request-response protocol by which a node
//! fetches the operations it lacks from a peer, in bounded batches.
//!
//! The requester sends its version ([`Request::Have`]); the peer answers
//! with the operations it holds that the version lacks
//! ([`Response::Ops`]), at most [`BATCH_OPS`] operations or about
//! [`BATCH_BYTES`] bytes, and `more` when it stopped at that bound: the
//! requester then asks again with its new version. Any peer serves any
//! operation it holds ([`serve`]).
//!
//! On the wire: a big-endian `u32` length, then that many bytes of
//! postcard. A length over [`MAX_MESSAGE`] is an error before anything is
//! allocated.

use crate::{Store, StoreError};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use memo_core::VersionVector;
use serde::{Deserialize, Serialize};
use std::io;

/// The protocol's name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/memo/catchup/1");

/// The largest request or response, in bytes, either way.
pub const MAX_MESSAGE: usize = 4 << 20;

/// At most this many operations in one response.
pub const BATCH_OPS: usize = 1_000;

/// A response stops adding operations once it holds this many bytes.
pub const BATCH_BYTES: usize = 1 << 20;

/// "Here is my version: send what I lack."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    Have(VersionVector),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Encoded operations ([`memo_core::TreeOp::encode`]), each replica's
    /// in sequence order; `more` when the batch bound cut the answer short.
    Ops { ops: Vec<Vec<u8>>, more: bool },
    /// Too many requests from this peer: ask again later.
    Busy,
}

/// The operations `store` holds that `have` lacks, within the batch
/// bounds: for each replica of `ours` ahead of `have`, its stored
/// operations from `have`'s count on, in sequence order.
pub fn serve(store: &Store, ours: &VersionVector, have: &VersionVector) -> Result<Response, StoreError> {
    let mut ops = Vec::new();
    let mut bytes = 0;
    for range in ours.missing_from(have) {
        let room = BATCH_OPS - ops.len();
        let (found, cut) = store.ops_of_bounded(range.replica, range.seq, room)?;
        for op in found {
            let encoded = op.encode();
            bytes += encoded.len();
            ops.push(encoded);
            if bytes >= BATCH_BYTES {
                return Ok(Response::Ops { ops, more: true });
            }
        }
        if cut || ops.len() >= BATCH_OPS {
            return Ok(Response::Ops { ops, more: true });
        }
    }
    Ok(Response::Ops { ops, more: false })
}

/// The codec: length prefix, size cap, postcard.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

async fn read_message<T, M>(io: &mut T) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: for<'de> Deserialize<'de>,
{
    let mut prefix = [0; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("catch-up message of {len} bytes, over the {MAX_MESSAGE} limit"),
        ));
    }
    let mut bytes = vec![0; len];
    io.read_exact(&mut bytes).await?;
    postcard::from_bytes(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_message<T, M>(io: &mut T, message: &M) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: Serialize,
{
    let bytes = postcard::to_allocvec(message).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if bytes.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("catch-up message of {} bytes, over the {MAX_MESSAGE} limit", bytes.len()),
        ));
    }
    let len = u32::try_from(bytes.len()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_message(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Request) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &request).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Response) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_message(io, &response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_length_is_refused_before_reading() {
        let mut input = futures::io::Cursor::new(((MAX_MESSAGE + 1) as u32).to_be_bytes().to_vec());
        let result: io::Result<Request> = futures::executor::block_on(read_message(&mut input));
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_message_round_trips() {
        let response = Response::Ops { ops: vec![vec![1, 2, 3], vec![]], more: true };
        let mut buffer = futures::io::Cursor::new(Vec::new());
        futures::executor::block_on(write_message(&mut buffer, &response)).unwrap();
        let mut input = futures::io::Cursor::new(buffer.into_inner());
        let back: Response = futures::executor::block_on(read_message(&mut input)).unwrap();
        assert_eq!(back, response);
    }
}
