//! `memo rpc --stdio`: the daemon's RPC for an editor that spawns a
//! process, with LSP's framing (`Content-Length: N\r\n\r\n` and N bytes of
//! JSON) on stdin and stdout.
//!
//! It is a proxy: each frame from stdin goes to the control socket as one
//! line (its line breaks, which JSON only allows between tokens, become
//! spaces; the daemon answers malformed JSON itself), and each line from
//! the socket goes to stdout as one frame. Header fields other than
//! `Content-Length` are ignored. A frame over [`control::MAX_LINE`] bytes
//! is skipped with an error response; a header without a length ends the
//! proxy (the stream cannot be resynchronised). It ends when stdin ends
//! (once the daemon has answered everything) or the daemon goes away. It
//! does not start a daemon.

use crate::control::{self, code, ClientError, RpcError};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why the proxy stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StdioError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("stdin: a frame header without Content-Length ({0:?})")]
    Framing(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Proxies `input` (LSP frames) to the daemon at `socket`, and its lines
/// to `output` (LSP frames), until either side ends.
pub fn proxy(
    socket: &Path,
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
) -> Result<(), StdioError> {
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => ClientError::NotRunning,
        _ => ClientError::Io(e),
    })?;
    let output = Arc::new(Mutex::new(output));
    let (to_daemon, out) = (stream.try_clone()?, output.clone());
    let forward = std::thread::spawn(move || {
        let result = frames_to_lines(BufReader::new(input), &to_daemon, &out);
        let _ = to_daemon.shutdown(std::net::Shutdown::Write);
        result
    });
    for line in BufReader::new(&stream).lines() {
        write_frame(&output, line?.as_bytes())?;
    }
    forward.join().unwrap_or(Ok(()))
}

/// Reads frames from `input` and writes each to `daemon` as a line.
fn frames_to_lines(
    mut input: impl BufRead,
    mut daemon: &UnixStream,
    output: &Mutex<impl Write>,
) -> Result<(), StdioError> {
    while let Some(length) = read_header(&mut input)? {
        if length > control::MAX_LINE {
            std::io::copy(&mut (&mut input).take(length as u64), &mut std::io::sink())?;
            let error = RpcError::new(code::INVALID_REQUEST, format!("a frame of {length} bytes is too long"));
            write_frame(output, control::response(serde_json::Value::Null, Err(error)).to_string().as_bytes())?;
            continue;
        }
        let mut body = vec![0; length];
        input.read_exact(&mut body)?;
        for byte in &mut body {
            if *byte == b'\n' || *byte == b'\r' {
                *byte = b' ';
            }
        }
        body.push(b'\n');
        daemon.write_all(&body)?;
    }
    Ok(())
}

/// Reads a frame's header: its Content-Length, or `None` at the end of
/// the input.
fn read_header(input: &mut impl BufRead) -> Result<Option<usize>, StdioError> {
    let mut length = None;
    let mut seen_any = false;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return match seen_any {
                false => Ok(None),
                true => Err(StdioError::Framing(line)),
            };
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() && seen_any {
            return length.map(Some).ok_or_else(|| StdioError::Framing(String::new()));
        }
        if line.is_empty() {
            continue;
        }
        seen_any = true;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                let value = value.trim();
                length = Some(value.parse().map_err(|_| StdioError::Framing(line.to_string()))?);
            }
        }
    }
}

fn write_frame(output: &Mutex<impl Write>, body: &[u8]) -> std::io::Result<()> {
    let mut output = output.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    write!(output, "Content-Length: {}\r\n\r\n", body.len())?;
    output.write_all(body)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_give_the_length_in_any_case_and_order() {
        let mut input = &b"Content-Type: x\r\ncontent-length: 12\r\n\r\n"[..];
        assert_eq!(read_header(&mut input).unwrap(), Some(12));
        assert_eq!(read_header(&mut &b""[..]).unwrap(), None);
        assert!(matches!(read_header(&mut &b"Content-Type: x\r\n\r\n"[..]), Err(StdioError::Framing(_))));
        assert!(matches!(read_header(&mut &b"Content-Length: many\r\n\r\n"[..]), Err(StdioError::Framing(_))));
    }
}
