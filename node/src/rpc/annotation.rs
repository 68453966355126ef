//! `annotation/*`: diagnostics and other notes on ranges of text (F18),
//! held by anchors so that they stay on their text as it is edited.
//!
//! - `set {path, source, annotations: [{range, severity, message}],
//!   encoding?}` → `{}`: this connection's annotations of the file from
//!   `source` (a linter's name, say), replacing the ones it set before from
//!   that source; an empty list clears them. `severity` is `"error"`,
//!   `"warning"`, `"information"` or `"hint"`. The ranges are in the
//!   buffer's coordinates (it must be open).
//! - `list {path}` → `{annotations: [{peer, source, range, severity,
//!   message}]}`: every annotation of the file this connection knows (its
//!   own, and the others' it received while subscribed), where its text is
//!   now in the buffer.
//! - notifications `annotation/changed {path, peer, source, annotations}`
//!   to the connections subscribed to the file, here and on peers.
//!
//! Annotations travel like presence (ephemeral, on the presence topic):
//! a connection sees those set after it subscribed, and a publisher sets
//! them again when they change, as linters do. Not kept across restarts.

use super::encoding::{self, Encoding, Range};
use super::presence::{publish, Wire};
use super::{lock, no_method, params, Connection};
use crate::control::RpcError;
use memo_core::text::{Anchor, Bias, Edit};
use memo_core::tree::EntryId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How bad it is (LSP's severities).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

/// An annotation on the wire: its range as anchors (the start moves with
/// text typed before it, the end stays before text typed after it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    start: Anchor,
    end: Anchor,
    severity: Severity,
    message: String,
}

/// Annotations a connection knows of, by who set them (peer, client,
/// source) and file.
pub type Known = std::collections::HashMap<(String, u64, String, EntryId), Vec<Item>>;

#[derive(Deserialize)]
struct Set {
    path: String,
    source: String,
    annotations: Vec<Annotation>,
    encoding: Option<Encoding>,
}

#[derive(Deserialize)]
struct Annotation {
    range: Range,
    severity: Severity,
    message: String,
}

#[derive(Deserialize)]
struct List {
    path: String,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    match name {
        "set" => set(connection, params("annotation/set", value)?).await,
        "list" => {
            let List { path } = params("annotation/list", value)?;
            Ok(json!({ "annotations": connection.annotations_of(&path)? }))
        }
        _ => Err(no_method()),
    }
}

async fn set(connection: &mut Connection, request: Set) -> Result<Value, RpcError> {
    let (file, items) = {
        let buffer = lock(connection.buffer(&request.path)?);
        let encoding = request.encoding.unwrap_or(buffer.encoding);
        let text = buffer.session.client_text();
        let mut items = Vec::with_capacity(request.annotations.len());
        for Annotation { range, severity, message } in request.annotations {
            let edit = encoding::WireEdit { range, text: String::new() };
            let [Edit { start, end, .. }] =
                <[Edit; 1]>::try_from(encoding::to_chars(&text, &[edit], encoding)?).expect("one edit in, one out");
            let anchor = |pos, bias| buffer.session.anchor(pos, bias).expect("checked above");
            items.push(Item { start: anchor(start, Bias::Right), end: anchor(end, Bias::Left), severity, message });
        }
        (buffer.file, items)
    };
    let wire = Wire::Annotations { client: connection.client, file, source: request.source.clone(), items };
    publish(connection, &wire).await?;
    let Wire::Annotations { items, .. } = wire else { unreachable!() };
    let own = (connection.node.peer_id().to_string(), connection.client, request.source, file);
    connection.annotations.insert(own, items);
    Ok(json!({}))
}

impl Connection {
    /// Records others' annotations of `file` and tells the buffers
    /// subscribed to it.
    pub(super) fn annotations_changed(
        &mut self,
        peer: &str,
        client: u64,
        file: EntryId,
        source: String,
        items: Vec<Item>,
    ) -> Vec<Value> {
        let paths: Vec<String> = self
            .buffers
            .iter()
            .filter(|(_, b)| {
                let b = lock(b);
                b.subscribed && b.file == file
            })
            .map(|(path, _)| path.clone())
            .collect();
        if paths.is_empty() {
            return Vec::new();
        }
        self.annotations.insert((peer.to_string(), client, source.clone(), file), items.clone());
        let mut out = Vec::new();
        for path in paths {
            let shown = self.resolve_all(&path, &items);
            let params = json!({ "path": path, "peer": peer, "source": source, "annotations": shown });
            out.push(json!({ "jsonrpc": "2.0", "method": "annotation/changed", "params": params }));
        }
        out
    }

    /// Every annotation known of the file of the buffer at `path`.
    fn annotations_of(&self, path: &str) -> Result<Vec<Value>, RpcError> {
        let file = lock(self.buffer(path)?).file;
        let mut out = Vec::new();
        for ((peer, _, source, _), items) in self.annotations.iter().filter(|(key, _)| key.3 == file) {
            for mut shown in self.resolve_all(path, items) {
                shown["peer"] = json!(peer);
                shown["source"] = json!(source);
                out.push(shown);
            }
        }
        Ok(out)
    }

    /// `items` where their text is now in the buffer at `path` (those whose
    /// text has not arrived are left out).
    fn resolve_all(&self, path: &str, items: &[Item]) -> Vec<Value> {
        let Some(buffer) = self.buffers.get(path) else { return Vec::new() };
        let buffer = lock(buffer);
        let text = buffer.session.text();
        let offset = |anchor: &Anchor| buffer.session.resolve(anchor).map(|pos| buffer.encoding.from_char(&text, pos));
        let shown = |item: &Item| {
            let range = Range { start: offset(&item.start)?, end: offset(&item.end)? };
            Some(json!({ "range": range, "severity": item.severity, "message": item.message }))
        };
        items.iter().filter_map(shown).collect()
    }
}
