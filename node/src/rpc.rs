//! The daemon's RPC: JSON-RPC 2.0 on the control socket, one JSON object
//! per line, for the `memo` commands and for editors (`memo rpc --stdio`
//! carries the same messages with LSP framing; see [`stdio`]).
//!
//! Each connection is served by one task ([`serve`]): it answers requests
//! in order and, between them, sends the notifications of the buffers it
//! subscribed to, so a response and the notifications after it arrive in
//! the order they were made. What a connection opens (buffers, their
//! sessions, subscriptions) is its own and ends with it; a client that
//! goes away, even mid-stream, takes nothing else with it. A malformed
//! line, an unknown method or bad params fail that request only, with a
//! JSON-RPC error saying why; a line over [`control::MAX_LINE`] bytes
//! ends the connection (after an error). A request without an `id` is a
//! notification: it runs, and gets no response.
//!
//! The method groups, one module each:
//! - `node` (daemon): `status`, `peers`, `ticket`, and for tests and
//!   benchmarks `debug.stream` and `debug.tree`;
//! - [`buffer`]: `buffer/open`, `buffer/edit`, `buffer/subscribe`,
//!   `buffer/undo`, `buffer/redo`, `buffer/close`; notifications
//!   `buffer/changed`. An editor's buffer is a
//!   [`memo_core::text::TextSession`]: its edits land where its user meant
//!   them even when remote edits cross them, and what it is told is exact;
//! - [`anchor`]: `anchor/create`, `anchor/resolve` (positions that follow
//!   the text, on every replica, across restarts);
//! - [`file`](mod@file): `file/read_at` (a text file at a past version);
//! - [`history`]: `history/file` (every operation on one entry, with the
//!   version after each), `history/log` (the whole history in runs by
//!   author);
//! - [`presence`]: `presence/set`; notifications `presence/changed`
//!   (others' selections, from this daemon's clients and its peers');
//! - [`annotation`]: `annotation/set`, `annotation/list`; notifications
//!   `annotation/changed` (diagnostics held by anchors);
//! - [`stream`]: `stream/publish`, `stream/follow`, `stream/unfollow`;
//!   notifications `stream/data` (test output, a shared terminal);
//! - [`bundle`](mod@bundle): `bundle/export`, `bundle/import` (operations
//!   as files, for machines that never meet).
//!
//! Offsets are in the unit the client declares ([`encoding::Encoding`]:
//! `"utf-16"` by default, `"utf-8"`, `"chars"`). The README's "Editor RPC"
//! section is the method table.
//!
//! Presence, annotations and streams are ephemeral (see [`presence`]).
//! Not yet: a `buffer/changed` that names the replicas whose edits it
//! carries; annotations and streams kept for those who come later.

pub mod anchor;
pub mod annotation;
pub mod buffer;
pub mod bundle;
pub mod encoding;
pub mod file;
pub mod history;
mod node;
pub mod presence;
pub mod stdio;
pub mod stream;

use crate::control::{self, code, RpcError};
use crate::membership::Membership;
use crate::net::{NetError, NodeHandle};
use crate::replica::ChangeError;
use memo_core::tree::TreeError;
use memo_core::{TreeOp, WorkTree};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::broadcast;

/// One client's connection: the node, and what the client opened.
#[derive(Debug)]
pub struct Connection {
    node: NodeHandle,
    membership: Membership,
    /// Open buffers by the path they were opened at. A buffer is shared
    /// with the node's task while a change runs on it.
    buffers: HashMap<String, Arc<Mutex<buffer::Buffer>>>,
    /// This connection's id in presence messages (random).
    client: u64,
    /// The buffers this connection set selections in.
    presented: HashSet<String>,
    /// Annotations this connection set or received.
    annotations: annotation::Known,
    /// The streams it follows.
    following: HashSet<String>,
}

/// Serves one connection until the client goes away or the node stops.
pub async fn serve(stream: UnixStream, node: NodeHandle, membership: Membership) {
    let mut client = [0; 8];
    let _ = getrandom::getrandom(&mut client);
    let client = u64::from_le_bytes(client);
    let mut connection = Connection {
        node,
        membership,
        buffers: HashMap::new(),
        client,
        presented: HashSet::new(),
        annotations: annotation::Known::new(),
        following: HashSet::new(),
    };
    connection.run(stream).await;
    connection.clear_presence().await;
}

impl Connection {
    async fn run(&mut self, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let (mut version, mut presence) = (self.node.watch_version(), self.node.presence());
        let mut line = Vec::new();
        loop {
            let out = tokio::select! {
                read = read_line(&mut reader, &mut line) => match read {
                    Ok(true) if line.len() > control::MAX_LINE => {
                        let error = RpcError::new(code::INVALID_REQUEST, "request line too long");
                        let answer = control::response(Value::Null, Err(error));
                        let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
                        return;
                    }
                    Ok(true) => self.answer(&std::mem::take(&mut line)).await.into_iter().collect(),
                    Ok(false) | Err(_) => return,
                },
                changed = version.changed(), if self.subscribed() => match changed {
                    Ok(()) => {
                        version.borrow_and_update();
                        self.notifications().await
                    }
                    Err(_) => return,
                },
                received = presence.recv(), if self.subscribed() || !self.following.is_empty() => match received {
                    Ok(presence) => self.presence_notifications(&presence),
                    Err(broadcast::error::RecvError::Lagged(_)) => Vec::new(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            for message in out {
                if write.write_all(format!("{message}\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads up to a newline into `line` (at most [`control::MAX_LINE`] + 1
/// bytes): true once it holds a line (or too much), false at the end of
/// the stream. Cancel-safe: what it read stays in `line`.
async fn read_line(reader: &mut (impl AsyncBufRead + Unpin), line: &mut Vec<u8>) -> std::io::Result<bool> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(false);
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = (control::MAX_LINE + 1).saturating_sub(line.len());
        line.extend_from_slice(&available[..take.min(room)]);
        reader.consume(take);
        if done || line.len() > control::MAX_LINE {
            return Ok(true);
        }
    }
}

impl Connection {
    /// The response to one request line; `None` for a notification.
    async fn answer(&mut self, line: &[u8]) -> Option<Value> {
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(_) => return Some(control::response(Value::Null, Err(RpcError::new(code::PARSE, "not UTF-8")))),
        };
        let request = match control::parse_request(text) {
            Ok(request) => request,
            Err(error) => return Some(error),
        };
        let result = self.call(&request.method, request.params).await;
        (!request.notification).then(|| control::response(request.id, result))
    }

    /// Runs one method.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        match method.split_once('/') {
            Some(("buffer", name)) => buffer::call(self, name, params).await,
            Some(("anchor", name)) => anchor::call(self, name, params).await,
            Some(("file", name)) => file::call(self, name, params).await,
            Some(("history", name)) => history::call(self, name, params).await,
            Some(("presence", name)) => presence::call(self, name, params).await,
            Some(("annotation", name)) => annotation::call(self, name, params).await,
            Some(("stream", name)) => stream::call(self, name, params).await,
            Some(("bundle", name)) => bundle::call(self, name, params).await,
            _ => node::call(&self.node, &self.membership, method, params).await,
        }
        .map_err(|error| match error.code {
            code::METHOD_NOT_FOUND => RpcError::new(code::METHOD_NOT_FOUND, format!("no method {method:?}")),
            _ => error,
        })
    }

    fn subscribed(&self) -> bool {
        self.buffers.values().any(|b| lock(b).subscribed)
    }

    /// The `buffer/changed` notifications of what landed since the last.
    async fn notifications(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        for (path, buffer) in &self.buffers {
            if let Some(params) = buffer::pull(&self.node, path, buffer).await {
                out.push(json!({ "jsonrpc": "2.0", "method": "buffer/changed", "params": params }));
            }
        }
        out
    }
}

/// A method group's answer to a method it does not have.
fn no_method() -> RpcError {
    RpcError::new(code::METHOD_NOT_FOUND, "no such method")
}

/// `params` as a `T`, or an INVALID_PARAMS error saying what is wrong.
fn params<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, RpcError> {
    serde_json::from_value(params).map_err(|e| RpcError::new(code::INVALID_PARAMS, format!("{method}: {e}")))
}

fn stopped(error: NetError) -> RpcError {
    RpcError::new(code::INTERNAL, error.to_string())
}

fn refused(error: TreeError) -> RpcError {
    RpcError::new(code::INVALID_PARAMS, error.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `change` on the node's tree as a local change: the operations it
/// returns are stored and sent, and its result comes back.
async fn change<R: Send + 'static>(
    node: &NodeHandle,
    change: impl FnOnce(&mut WorkTree) -> Result<(Vec<TreeOp>, R), TreeError> + Send + 'static,
) -> Result<R, RpcError> {
    let (send, result) = tokio::sync::oneshot::channel();
    let made = node
        .change(move |tree| {
            let (ops, result) = change(tree)?;
            let _ = send.send(result);
            Ok(ops)
        })
        .await
        .map_err(stopped)?;
    match made {
        Ok(_) => result.await.map_err(|_| RpcError::new(code::INTERNAL, "the change gave no result")),
        Err(ChangeError::Refused(error)) => Err(refused(error)),
        Err(error) => Err(RpcError::new(code::INTERNAL, error.to_string())),
    }
}
