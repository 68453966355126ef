//! `file/*`: files as they were.
//!
//! - `read_at {path, version}` → `{text}`: the text file at `path` as it
//!   was at `version` (a version vector as `buffer/open` returns it:
//!   replica id to units of work). A file that exists now is followed by
//!   its identity: its text then, whatever its name was. The tree is rebuilt from the history
//!   for each call: meant for scrubbing, not for every keystroke.

use super::{no_method, params, refused, stopped, Connection};
use crate::control::RpcError;
use memo_core::tree::TreeError;
use memo_core::{VersionVector, WorkTree};
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
            let text = connection.node.read(move |tree| read_at(tree, &path, &version)).await.map_err(stopped)?;
            Ok(json!({ "text": text.map_err(refused)? }))
        }
        _ => Err(no_method()),
    }
}

/// The text at `path` (now, else then) as it was at `version`.
fn read_at(tree: &WorkTree, path: &str, version: &VersionVector) -> Result<String, TreeError> {
    let past = tree.at(version);
    let then = tree.entry_at(path).and_then(|entry| past.path_of(entry));
    past.read_text(then.as_deref().unwrap_or(path))
}
