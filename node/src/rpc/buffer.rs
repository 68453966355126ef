//! `buffer/*`: an editor's buffer on a text file.
//!
//! A buffer is a [`TextSession`] bound to the file (not its path: it
//! follows renames). Revisions count what the daemon sent the buffer; the
//! client's side of the protocol is in the module docs of
//! [`memo_core::text::TextSession`] and in the README: apply what arrives
//! in order, name the last revision applied in each edit, set notifications
//! aside while an edit is unanswered, and take the answer to the latest
//! edit (its `edits` bring the buffer to its `rev`).
//!
//! - `open {path, encoding?, create?}` → `{path, text, rev, version}`;
//!   `create: true` makes a missing file (and its directories). Opening a
//!   path again starts afresh.
//! - `edit {path, rev, edits: [{range: {start, end}, text}], encoding?}` →
//!   `{rev, edits}`: the edits apply in order, each to the text the
//!   previous left; out of range, all of them are refused.
//! - `subscribe {path}` → `{rev}`: from now on `buffer/changed {path, rev,
//!   edits}` notifications carry every change made elsewhere (other
//!   replicas, other clients), exact, in the buffer's encoding.
//! - `undo {path, rev}`, `redo {path, rev}` → `{rev, edits, done}`: undo
//!   (redo) this buffer's latest edit request; `done` is false when there
//!   is nothing to undo (redo).
//! - `ack {path, rev}` → `{}`: the buffer has applied everything up to
//!   `rev`. Edits say so already; a client that only reads sends it now
//!   and then (a JSON-RPC notification will do), or what the daemon keeps
//!   for it grows with every change it is sent.
//! - `close {path}` → `{}`.

use super::encoding::{self, Encoding, WireEdit};
use super::{change, lock, no_method, params, stopped, Connection};
use crate::control::{code, RpcError};
use crate::net::NodeHandle;
use memo_core::text::{Sync, TextSession};
use memo_core::tree::{EntryId, TreeError};
use memo_core::WorkTree;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// An open buffer.
#[derive(Debug)]
pub struct Buffer {
    pub(super) file: EntryId,
    pub(super) session: TextSession,
    pub(super) encoding: Encoding,
    pub(super) subscribed: bool,
}

#[derive(Deserialize)]
struct Open {
    path: String,
    #[serde(default)]
    encoding: Encoding,
    #[serde(default)]
    create: bool,
}

#[derive(Deserialize)]
struct Edit {
    path: String,
    rev: u64,
    edits: Vec<WireEdit>,
    encoding: Option<Encoding>,
}

/// The params of `undo`, `redo` and `ack`.
#[derive(Deserialize)]
struct Undo {
    path: String,
    rev: u64,
}

#[derive(Deserialize)]
struct Path {
    path: String,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    let method = format!("buffer/{name}");
    match name {
        "open" => open(connection, params(&method, value)?).await,
        "edit" => edit(connection, params(&method, value)?).await,
        "subscribe" => {
            let Path { path } = params(&method, value)?;
            let mut buffer = lock(connection.buffer(&path)?);
            buffer.subscribed = true;
            Ok(json!({ "rev": buffer.session.rev() }))
        }
        "undo" | "redo" => undo(connection, params(&method, value)?, name == "redo").await,
        "ack" => {
            let Undo { path, rev } = params(&method, value)?;
            acknowledge(&mut lock(connection.buffer(&path)?), rev)?;
            Ok(json!({}))
        }
        "close" => {
            let Path { path } = params(&method, value)?;
            connection.buffers.remove(&path).ok_or_else(|| not_open(&path))?;
            Ok(json!({}))
        }
        _ => Err(no_method()),
    }
}

impl Connection {
    pub(super) fn buffer(&self, path: &str) -> Result<&Arc<Mutex<Buffer>>, RpcError> {
        self.buffers.get(path).ok_or_else(|| not_open(path))
    }
}

fn not_open(path: &str) -> RpcError {
    RpcError::new(code::INVALID_PARAMS, format!("{path}: no buffer is open at this path (buffer/open first)"))
}

async fn open(connection: &mut Connection, Open { path, encoding, create }: Open) -> Result<Value, RpcError> {
    let at = path.clone();
    let (file, session, version) = change(&connection.node, move |tree| {
        let ops = match create && tree.entry_at(&at).is_none() {
            true => create_file(tree, &at)?,
            false => Vec::new(),
        };
        let (file, session) = tree.open_session(&at)?;
        Ok((ops, (file, session, tree.version().clone())))
    })
    .await?;
    let answer = json!({ "path": path, "text": session.text(), "rev": session.rev(), "version": version });
    let buffer = Buffer { file, session, encoding, subscribed: false };
    connection.buffers.insert(path, Arc::new(Mutex::new(buffer)));
    Ok(answer)
}

/// Makes an empty text file at `path`, and the directories above it.
fn create_file(tree: &mut WorkTree, path: &str) -> Result<Vec<memo_core::TreeOp>, TreeError> {
    let mut ops = Vec::new();
    let dirs: Vec<usize> = path.match_indices('/').map(|(i, _)| i).collect();
    for end in dirs {
        if tree.entry_at(&path[..end]).is_none() {
            ops.push(tree.create_dir(&path[..end])?);
        }
    }
    ops.extend(tree.create_text(path, "")?);
    Ok(ops)
}

async fn edit(connection: &mut Connection, request: Edit) -> Result<Value, RpcError> {
    let buffer = connection.buffer(&request.path)?.clone();
    let (file, edits, encoding) = {
        let mut buffer = lock(&buffer);
        acknowledge(&mut buffer, request.rev)?;
        let encoding = request.encoding.unwrap_or(buffer.encoding);
        let edits = encoding::to_chars(&buffer.session.client_text(), &request.edits, encoding)?;
        (buffer.file, edits, encoding)
    };
    let shared = buffer.clone();
    change(&connection.node, move |tree| {
        let mut buffer = lock(&shared);
        Ok((tree.session_change(file, |stamp| buffer.session.edit(stamp, &edits))?, ()))
    })
    .await?;
    let reply = lock(&buffer).session.reply();
    Ok(answer(reply, encoding))
}

async fn undo(connection: &mut Connection, Undo { path, rev }: Undo, redo: bool) -> Result<Value, RpcError> {
    let buffer = connection.buffer(&path)?.clone();
    let (file, encoding) = {
        let mut buffer = lock(&buffer);
        acknowledge(&mut buffer, rev)?;
        (buffer.file, buffer.encoding)
    };
    let shared = buffer.clone();
    let done = change(&connection.node, move |tree| {
        let mut buffer = lock(&shared);
        let ops = tree.session_change(file, |stamp| Ok(buffer.session.undo(stamp, redo).into_iter().collect()))?;
        let done = !ops.is_empty();
        Ok((ops, done))
    })
    .await?;
    let reply = lock(&buffer).session.reply();
    let mut answer = answer(reply, encoding);
    answer["done"] = json!(done);
    Ok(answer)
}

fn acknowledge(buffer: &mut Buffer, rev: u64) -> Result<(), RpcError> {
    buffer.session.acknowledge(rev).map_err(|e| RpcError::new(code::INVALID_PARAMS, e.to_string()))
}

fn answer(sync: Sync, encoding: Encoding) -> Value {
    json!({ "rev": sync.rev, "edits": encoding::from_chars(&sync.before, &sync.changes, encoding) })
}

/// The params of a `buffer/changed` notification for what landed in
/// `buffer`'s file since it was last told, if it is subscribed and
/// anything visible changed.
pub(super) async fn pull(node: &NodeHandle, path: &str, buffer: &Arc<Mutex<Buffer>>) -> Option<Value> {
    let (file, encoding) = {
        let buffer = lock(buffer);
        if !buffer.subscribed {
            return None;
        }
        (buffer.file, buffer.encoding)
    };
    let shared = buffer.clone();
    let sync = node.read(move |tree| tree.pull_session(file, &mut lock(&shared).session)).await;
    let sync = sync.map_err(|e| tracing::debug!(error = %stopped(e), "no pull")).ok()??;
    let edits = encoding::from_chars(&sync.before, &sync.changes, encoding);
    Some(json!({ "path": path, "rev": sync.rev, "edits": edits }))
}
