//! The daemon's control socket: how `memo status`, `memo peers` and
//! `memo share` talk to a running daemon.
//!
//! A Unix socket ([`crate::location::NodePaths::socket`]), readable by its
//! owner only, carrying JSON-RPC 2.0: one request per line, one response
//! per line. A malformed line gets a JSON-RPC error and the connection
//! goes on. This module is the wire format and the client side; the
//! methods, the editor RPC among them, and how a connection is served are
//! in [`crate::rpc`].

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A request line is refused beyond this size.
pub const MAX_LINE: usize = 1 << 20;

/// How long a client waits for the daemon's answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(600);

/// JSON-RPC 2.0's error codes, as used here.
pub mod code {
    pub const PARSE: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
}

/// An error a method returns: a JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError { code, message: message.into() }
    }
}

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nothing listens on the socket: no daemon runs for this working copy.
    #[error("no daemon is running for this working copy (start one with `memo daemon`)")]
    NotRunning,
    #[error("talking to the daemon: {0}")]
    Io(#[from] std::io::Error),
    #[error("the daemon answered something that is not JSON-RPC: {0}")]
    Protocol(String),
    #[error("the daemon refused: {0}")]
    Rpc(RpcError),
}

/// Calls `method` on the daemon listening at `socket` and returns its
/// result.
pub fn call(socket: &Path, method: &str, params: Value) -> Result<Value, ClientError> {
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => ClientError::NotRunning,
        _ => ClientError::Io(e),
    })?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let request = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let mut line = request.to_string();
    line.push('\n');
    (&stream).write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    let answer: Value = serde_json::from_str(&answer).map_err(|e| ClientError::Protocol(e.to_string()))?;
    if let Some(error) = answer.get("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(code::INTERNAL);
        let message = error.get("message").and_then(Value::as_str).unwrap_or("no message");
        return Err(ClientError::Rpc(RpcError::new(code, message)));
    }
    answer.get("result").cloned().ok_or_else(|| ClientError::Protocol("no result".into()))
}

/// Whether a daemon answers on `socket`.
pub fn is_running(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// A parsed request: its id (echoed in the response), method and params.
#[derive(Debug)]
pub struct Request {
    pub id: Value,
    pub method: String,
    pub params: Value,
    /// It has no `id`: it gets no response.
    pub notification: bool,
}

/// Reads one request line; a malformed one is the error response to send.
pub fn parse_request(line: &str) -> Result<Request, Value> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| response(Value::Null, Err(RpcError::new(code::PARSE, format!("not JSON: {e}")))))?;
    let notification = value.get("id").is_none();
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let invalid = |message: &str| response(id.clone(), Err(RpcError::new(code::INVALID_REQUEST, message)));
    if value.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("not a JSON-RPC 2.0 request (\"jsonrpc\": \"2.0\" is missing)"));
    }
    let method = value.get("method").and_then(Value::as_str).ok_or_else(|| invalid("no method"))?;
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    Ok(Request { id, method: method.to_string(), params, notification })
}

/// The response line for request `id`.
pub fn response(id: Value, result: Result<Value, RpcError>) -> Value {
    match result {
        Ok(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
        Err(error) => json!({ "jsonrpc": "2.0", "id": id, "error": { "code": error.code, "message": error.message } }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_requests_get_json_rpc_errors() {
        let code_of = |line: &str| parse_request(line).unwrap_err()["error"]["code"].as_i64().unwrap();
        assert_eq!(code_of("{not json"), code::PARSE);
        assert_eq!(code_of(r#"{"id": 3, "method": "status"}"#), code::INVALID_REQUEST);
        assert_eq!(code_of(r#"{"jsonrpc": "2.0", "id": 3}"#), code::INVALID_REQUEST);
        let request = parse_request(r#"{"jsonrpc": "2.0", "id": 3, "method": "status"}"#).unwrap();
        assert_eq!((request.id, request.method.as_str()), (json!(3), "status"));
    }
}
