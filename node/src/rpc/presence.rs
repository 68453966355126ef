//! `presence/*`: where each editor's selections are, for the others.
//!
//! - `set {path, selections: [{start, end}], encoding?}` → `{}`: this
//!   connection's selections (a cursor is an empty one) in a buffer it has
//!   open, in its coordinates; at most [`MAX_SELECTIONS`]. An empty list
//!   clears them.
//! - notifications `presence/changed {path, peer, client, rev, selections}`
//!   to every connection subscribed to the same file, on this daemon and on
//!   its peers: the selections as offsets in the text the buffer has at
//!   revision `rev` (or, once it applied everything sent, its text);
//!   selections whose text has not arrived yet are left out.
//!
//! Selections travel as anchors (right-biased: they move with text typed at
//! them), so they land on the same characters on every replica. Presence
//! is ephemeral: gossiped on the working copy's presence topic
//! ([`crate::net::presence_topic_for`]), never stored nor caught up. A
//! connection that ends clears its selections; an editor whose daemon
//! vanishes leaves them shown until the same client sets them again. A
//! message that does not decode as presence is dropped (logged).

use super::encoding::{self, Encoding, Range};
use super::{lock, no_method, params, stopped, Connection};
use crate::control::{code, RpcError};
use crate::net::Presence;
use memo_core::text::{Anchor, Bias, Edit};
use memo_core::tree::EntryId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The most selections one presence message carries.
pub const MAX_SELECTIONS: usize = 100;

#[derive(Deserialize)]
struct Set {
    path: String,
    selections: Vec<Range>,
    encoding: Option<Encoding>,
}

/// A presence message on the wire (JSON).
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The connection that set it, unique within its daemon.
    client: u64,
    file: EntryId,
    selections: Vec<(Anchor, Anchor)>,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    match name {
        "set" => set(connection, params("presence/set", value)?).await,
        _ => Err(no_method()),
    }
}

async fn set(connection: &mut Connection, Set { path, selections, encoding }: Set) -> Result<Value, RpcError> {
    if selections.len() > MAX_SELECTIONS {
        let message = format!("{} selections are more than one message carries ({MAX_SELECTIONS})", selections.len());
        return Err(RpcError::new(code::INVALID_PARAMS, message));
    }
    let wire = {
        let buffer = lock(connection.buffer(&path)?);
        let encoding = encoding.unwrap_or(buffer.encoding);
        let text = buffer.session.client_text();
        let mut anchors = Vec::with_capacity(selections.len());
        for Range { start, end } in selections {
            // A selection is checked as an edit that replaces nothing; its
            // direction is not kept.
            let range = Range { start: start.min(end), end: start.max(end) };
            let edit = encoding::WireEdit { range, text: String::new() };
            let [Edit { start, end, .. }] =
                <[Edit; 1]>::try_from(encoding::to_chars(&text, &[edit], encoding)?).expect("one edit in, one out");
            let anchor = |pos| buffer.session.anchor(pos, Bias::Right).expect("checked above");
            anchors.push((anchor(start), anchor(end)));
        }
        Wire { client: connection.client, file: buffer.file, selections: anchors }
    };
    connection.presented.insert(path);
    publish(connection, &wire).await?;
    Ok(json!({}))
}

async fn publish(connection: &Connection, wire: &Wire) -> Result<(), RpcError> {
    let data = serde_json::to_vec(wire).expect("presence serializes");
    connection.node.publish_presence(data).await.map_err(stopped)
}

impl Connection {
    /// The `presence/changed` notifications of `presence` for the
    /// subscribed buffers of its file (none for this connection's own).
    pub(super) fn presence_notifications(&self, presence: &Presence) -> Vec<Value> {
        let Ok(wire) = serde_json::from_slice::<Wire>(&presence.data) else {
            tracing::debug!(from = %presence.from, "presence that does not decode: dropped");
            return Vec::new();
        };
        if wire.selections.len() > MAX_SELECTIONS
            || (presence.from == self.node.peer_id() && wire.client == self.client)
        {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (path, buffer) in &self.buffers {
            let buffer = lock(buffer);
            if !buffer.subscribed || buffer.file != wire.file {
                continue;
            }
            let text = buffer.session.text();
            let offset = |anchor| buffer.session.resolve(anchor).map(|pos| buffer.encoding.from_char(&text, pos));
            let selections: Vec<Range> = wire
                .selections
                .iter()
                .filter_map(|(start, end)| Some(Range { start: offset(start)?, end: offset(end)? }))
                .collect();
            let params = json!({
                "path": path, "peer": presence.from.to_string(), "client": wire.client,
                "rev": buffer.session.rev(), "selections": selections,
            });
            out.push(json!({ "jsonrpc": "2.0", "method": "presence/changed", "params": params }));
        }
        out
    }

    /// Clears the selections this connection set (it is ending).
    pub(super) async fn clear_presence(&mut self) {
        for path in std::mem::take(&mut self.presented) {
            let Some(buffer) = self.buffers.get(&path) else { continue };
            let wire = Wire { client: self.client, file: lock(buffer).file, selections: Vec::new() };
            let _ = publish(self, &wire).await;
        }
    }
}
