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
//! Selections travel as anchors, so they land on the same characters on
//! every replica: a cursor moves with text typed at it; a selection keeps
//! to its text (what is typed at its edges stays outside). Presence
//! is ephemeral: gossiped on the working copy's presence topic
//! ([`crate::net::presence_topic_for`]), never stored nor caught up. A
//! connection that ends clears its selections; an editor whose daemon
//! vanishes leaves them shown until the same client sets them again. A
//! message that does not decode as presence is dropped (logged).

use super::encoding::{self, Encoding, Range};
use super::{lock, no_method, params, stopped, Connection};
use crate::control::{code, RpcError};
use crate::net::{Presence, MAX_PRESENCE};
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

/// An ephemeral message on the presence topic (JSON): selections here,
/// annotations ([`super::annotation`]) and stream data ([`super::stream`]).
/// `client` names the connection that sent it, unique within its daemon.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Wire {
    Selections { client: u64, file: EntryId, selections: Vec<(Anchor, Anchor)> },
    Annotations { client: u64, file: EntryId, source: String, items: Vec<super::annotation::Item> },
    Stream { client: u64, name: String, data: String },
}

impl Wire {
    fn client(&self) -> u64 {
        match self {
            Wire::Selections { client, .. } | Wire::Annotations { client, .. } | Wire::Stream { client, .. } => *client,
        }
    }
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
            let anchor = |pos, bias| buffer.session.anchor(pos, bias).expect("checked above");
            let end_bias = if start == end { Bias::Right } else { Bias::Left };
            anchors.push((anchor(start, Bias::Right), anchor(end, end_bias)));
        }
        Wire::Selections { client: connection.client, file: buffer.file, selections: anchors }
    };
    connection.presented.insert(path);
    publish(connection, &wire).await?;
    Ok(json!({}))
}

/// Sends `wire` to this daemon's other connections and to its peers'.
pub(super) async fn publish(connection: &Connection, wire: &Wire) -> Result<(), RpcError> {
    let data = serde_json::to_vec(wire).expect("presence serializes");
    if data.len() > MAX_PRESENCE {
        let message = format!("{} bytes are more than one message carries ({MAX_PRESENCE})", data.len());
        return Err(RpcError::new(code::INVALID_PARAMS, message));
    }
    connection.node.publish_presence(data).await.map_err(stopped)
}

impl Connection {
    /// The notifications of an ephemeral message, for this connection
    /// (none of its own).
    pub(super) fn presence_notifications(&mut self, presence: &Presence) -> Vec<Value> {
        let Ok(wire) = serde_json::from_slice::<Wire>(&presence.data) else {
            tracing::debug!(from = %presence.from, "presence that does not decode: dropped");
            return Vec::new();
        };
        if presence.from == self.node.peer_id() && wire.client() == self.client {
            return Vec::new();
        }
        let peer = presence.from.to_string();
        match wire {
            Wire::Selections { client, file, selections } => self.selections_changed(&peer, client, file, &selections),
            Wire::Annotations { client, file, source, items } => {
                self.annotations_changed(&peer, client, file, source, items)
            }
            Wire::Stream { name, data, .. } => self.stream_data(&peer, name, data),
        }
    }

    /// The `presence/changed` notifications of others' selections in
    /// `file`, for the buffers subscribed to it.
    fn selections_changed(
        &self,
        peer: &str,
        client: u64,
        file: EntryId,
        selections: &[(Anchor, Anchor)],
    ) -> Vec<Value> {
        if selections.len() > MAX_SELECTIONS {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (path, buffer) in &self.buffers {
            let buffer = lock(buffer);
            if !buffer.subscribed || buffer.file != file {
                continue;
            }
            let text = buffer.session.text();
            let offset = |anchor| buffer.session.resolve(anchor).map(|pos| buffer.encoding.from_char(&text, pos));
            let selections: Vec<Range> = selections
                .iter()
                .filter_map(|(start, end)| {
                    let start = offset(start)?;
                    Some(Range { start, end: offset(end)?.max(start) })
                })
                .collect();
            let params = json!({
                "path": path, "peer": peer, "client": client, "rev": buffer.session.rev(), "selections": selections,
            });
            out.push(json!({ "jsonrpc": "2.0", "method": "presence/changed", "params": params }));
        }
        out
    }

    /// Clears the selections this connection set (it is ending).
    pub(super) async fn clear_presence(&mut self) {
        for path in std::mem::take(&mut self.presented) {
            let Some(buffer) = self.buffers.get(&path) else { continue };
            let wire = Wire::Selections { client: self.client, file: lock(buffer).file, selections: Vec::new() };
            let _ = publish(self, &wire).await;
        }
    }
}
