//! Request-response messages on libp2p streams, framed: a big-endian
//! `u32` length, then that many bytes of the message. A length over the
//! message's limit ([`Message::MAX`]) is an error before anything is
//! allocated. Catch-up ([`crate::catchup`]) and Git objects
//! ([`crate::objects`]) are both a [`Codec`] of their messages.
//!
//! Errors: [`io::ErrorKind::InvalidData`] always means the peer's garbage
//! (a frame over the limit, a message that does not decode), which the
//! node counts against it; [`io::ErrorKind::InvalidInput`] is ours (a
//! message we would not send).

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use memo_core::DecodeError;
use std::io;
use std::marker::PhantomData;

/// A message of a framed protocol.
pub trait Message: Sized + Send {
    /// The longest encoding taken or sent.
    const MAX: usize;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
    /// Whether the peer would take it: one it would refuse is not sent.
    fn check(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

/// The codec of a protocol whose requests are `Req` and responses `Resp`.
pub struct Codec<Req, Resp>(PhantomData<fn() -> (Req, Resp)>);

impl<Req, Resp> Default for Codec<Req, Resp> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<Req, Resp> Clone for Codec<Req, Resp> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Req, Resp> Copy for Codec<Req, Resp> {}

impl<Req, Resp> std::fmt::Debug for Codec<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("frames::Codec")
    }
}

fn invalid(reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

/// Reads one frame of at most `max` bytes. The buffer grows as bytes
/// arrive, so a peer that announces a large frame and sends little makes
/// us hold only what it sent.
async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
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

/// Reads one message.
async fn read<M: Message, T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<M> {
    M::decode(&read_frame(io, M::MAX).await?).map_err(invalid)
}

/// Writes one message; one the peer would refuse, or longer than
/// [`Message::MAX`], is not sent ([`io::ErrorKind::InvalidInput`]).
async fn write<M: Message, T: AsyncWrite + Unpin + Send>(io: &mut T, message: M) -> io::Result<()> {
    message.check().map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let bytes = message.encode();
    let len = match u32::try_from(bytes.len()) {
        Ok(len) if bytes.len() <= M::MAX => len,
        _ => {
            let reason = format!("message of {} bytes, over the {} limit: not sent", bytes.len(), M::MAX);
            return Err(io::Error::new(io::ErrorKind::InvalidInput, reason));
        }
    };
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl<Req: Message + 'static, Resp: Message + 'static> libp2p::request_response::Codec for Codec<Req, Resp> {
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Req>
    where
        T: AsyncRead + Unpin + Send,
    {
        read(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Resp>
    where
        T: AsyncRead + Unpin + Send,
    {
        read(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, request: Req) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write(io, request).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, response: Resp) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write(io, response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_bytes(bytes: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
        futures::executor::block_on(read_frame(&mut futures::io::Cursor::new(bytes), max))
    }

    #[test]
    fn an_oversized_length_is_refused_before_reading() {
        let result = read_bytes(1025u32.to_be_bytes().to_vec(), 1024);
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_short_frame_is_an_error() {
        let mut bytes = 10u32.to_be_bytes().to_vec();
        bytes.extend([1, 2, 3]);
        assert_eq!(read_bytes(bytes, 1024).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
