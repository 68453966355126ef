//! `file/*`: files as they were.
//!
//! - `read_at {path, version}` → `{text}`: the text file at `path` as it
//!   was at `version` (a version vector as `buffer/open` returns it:
//!   replica id to units of work). The tree is rebuilt from the history
//!   for each call: meant for scrubbing, not for every keystroke.

use super::{no_method, params, refused, stopped, Connection};
use crate::control::RpcError;
use memo_core::VersionVector;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct ReadAt {
    path: String,
    version: VersionVector,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    match name {
        "read_at" => {
            let ReadAt { path, version } = params("file/read_at", value)?;
            let text = connection.node.read(move |tree| tree.at(&version).read_text(&path)).await.map_err(stopped)?;
            Ok(json!({ "text": text.map_err(refused)? }))
        }
        _ => Err(no_method()),
    }
}
