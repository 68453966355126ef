//! `stream/*`: named streams a replica publishes and others follow (F18):
//! test output, a shared terminal's bytes.
//!
//! - `publish {name, data}` → `{}`: appends `data` (text, at most
//!   [`MAX_CHUNK`] bytes a call) to the stream `name`.
//! - `follow {name}`, `unfollow {name}` → `{}`; a follower gets
//!   `stream/data {name, peer, data}` notifications, in the order each
//!   publisher sent them, from every connection of this daemon and its
//!   peers but its own.
//!
//! Streams are ephemeral, like presence: a follower sees what is
//! published after it follows; nothing is stored, and a follower that
//! falls behind by [`crate::net::PRESENCE_QUEUE`] messages loses the
//! oldest.

use super::presence::{publish, Wire};
use super::{no_method, params, Connection};
use crate::control::{code, RpcError};
use serde::Deserialize;
use serde_json::{json, Value};

/// The most bytes one `stream/publish` carries.
pub const MAX_CHUNK: usize = 8 * 1024;

#[derive(Deserialize)]
struct Publish {
    name: String,
    data: String,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    let method = format!("stream/{name}");
    match name {
        "publish" => {
            let Publish { name, data } = params(&method, value)?;
            if data.len() > MAX_CHUNK {
                let message = format!("{} bytes are more than one call carries ({MAX_CHUNK}): send pieces", data.len());
                return Err(RpcError::new(code::INVALID_PARAMS, message));
            }
            publish(connection, &Wire::Stream { client: connection.client, name, data }).await?;
        }
        "follow" => {
            connection.following.insert(params::<Name>(&method, value)?.name);
        }
        "unfollow" => {
            connection.following.remove(&params::<Name>(&method, value)?.name);
        }
        _ => return Err(no_method()),
    }
    Ok(json!({}))
}

impl Connection {
    /// The `stream/data` notification of a followed stream's data.
    pub(super) fn stream_data(&self, peer: &str, name: String, data: String) -> Vec<Value> {
        match self.following.contains(&name) {
            true => vec![json!({
                "jsonrpc": "2.0", "method": "stream/data", "params": { "name": name, "peer": peer, "data": data },
            })],
            false => Vec::new(),
        }
    }
}
