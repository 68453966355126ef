//! Catch-up (anti-entropy) on libp2p: the request-response protocol by
//! which a node fetches the operations it lacks from a peer, in bounded
//! batches. The messages, their encoding and their bounds are
//! [`memo_core::protocol::catchup`]'s; this module frames them on a stream
//! ([`Codec`]) and fills a response from the store ([`serve`]).
//!
//! On the wire: a big-endian `u32` length, then that many bytes of the
//! message. A length over [`MAX_REQUEST`] (requests) or [`MAX_RESPONSE`]
//! (responses) is an error before anything is allocated.

use crate::store::StoreReader;
use crate::StoreError;
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
pub use memo_core::protocol::catchup::{
    Announcement, Batch, Request, Response, BATCH_BYTES, BATCH_OPS, MAX_GOSSIP_OP, MAX_REQUEST, MAX_RESPONSE,
};
use memo_core::{DecodeError, VersionVector};
use std::io;

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

/// The codec: length prefix, size cap, then the message.
#[derive(Debug, Clone, Copy, Default)]
pub struct Codec;

fn invalid(reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

/// Reads one frame of at most `max` bytes. The buffer grows as bytes
/// arrive, so a peer that announces a large frame and sends little makes
/// us hold only what it sent. (Also [`crate::objects`]' framing.)
pub(crate) async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut prefix = [0; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(invalid(format!("message of {len} bytes, over the {max} limit")));
    }
    let mut bytes = Vec::new();
    io.take(len as u64).read_to_end(&mut bytes).await?;
    match bytes.len() == len {
        true => Ok(bytes),
        false => Err(io::ErrorKind::UnexpectedEof.into()),
    }
}

/// Writes one frame. A message over `max` is not sent: an
/// [`io::ErrorKind::InvalidInput`] error, ours, where
/// [`io::ErrorKind::InvalidData`] always means the peer's garbage.
pub(crate) async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8], max: usize) -> io::Result<()> {
    let len = match u32::try_from(bytes.len()) {
        Ok(len) if bytes.len() <= max => len,
        _ => {
            let reason = format!("message of {} bytes, over the {max} limit: not sent", bytes.len());
            return Err(io::Error::new(io::ErrorKind::InvalidInput, reason));
        }
    };
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

fn decoded<M>(decode: Result<M, DecodeError>) -> io::Result<M> {
    decode.map_err(invalid)
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        decoded(Request::decode(&read_frame(io, MAX_REQUEST).await?))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        decoded(Response::decode(&read_frame(io, MAX_RESPONSE).await?))
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Request) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request.encode(), MAX_REQUEST).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Response) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response.encode(), MAX_RESPONSE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
        futures::executor::block_on(read_frame(&mut futures::io::Cursor::new(bytes), max))
    }

    #[test]
    fn an_oversized_length_is_refused_before_reading() {
        let result = read(((MAX_REQUEST + 1) as u32).to_be_bytes().to_vec(), MAX_REQUEST);
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_short_frame_is_an_error() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend([1, 2, 3]);
        assert_eq!(read(bytes, MAX_REQUEST).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_message_round_trips() {
        let response = Response::Ops { ops: vec![vec![1, 2, 3], vec![]], more: true };
        let mut buffer = futures::io::Cursor::new(Vec::new());
        futures::executor::block_on(write_frame(&mut buffer, &response.encode(), MAX_RESPONSE)).unwrap();
        let back = Response::decode(&read(buffer.into_inner(), MAX_RESPONSE).unwrap()).unwrap();
        assert_eq!(back, response);
    }
}
