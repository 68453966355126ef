//! `anchor/*`: positions that follow the text (persistent annotations).
//!
//! - `create {path, offset, bias?, encoding?}` → `{anchor}`: an opaque id
//!   for the position `offset` of the text file at `path`; `bias` is
//!   `"left"` (the default: it stays after the character before it, like a
//!   cursor after typing) or `"right"`.
//! - `resolve {anchor, encoding?}` → `{path, offset}`: where it stands now,
//!   wherever the file moved; inside deleted text it collapses to the
//!   deletion point ([`memo_core::Anchor`]).
//!
//! An id names the file and a character, not an offset: it resolves on
//! every replica of the working copy, and after restarts.

use super::encoding::Encoding;
use super::{change, no_method, params, refused, stopped, Connection};
use crate::control::{code, RpcError};
use memo_core::text::{Anchor, Bias};
use memo_core::tree::EntryId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Side {
    #[default]
    Left,
    Right,
}

#[derive(Deserialize)]
struct Create {
    path: String,
    offset: usize,
    #[serde(default)]
    bias: Side,
    #[serde(default)]
    encoding: Encoding,
}

#[derive(Deserialize)]
struct Resolve {
    anchor: String,
    #[serde(default)]
    encoding: Encoding,
}

/// What an anchor id holds.
#[derive(Serialize, Deserialize)]
struct Id {
    file: EntryId,
    anchor: Anchor,
}

const PREFIX: &str = "anchor:";

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    let method = format!("anchor/{name}");
    match name {
        "create" => create(connection, params(&method, value)?).await,
        "resolve" => resolve(connection, params(&method, value)?).await,
        _ => Err(no_method()),
    }
}

async fn create(connection: &mut Connection, request: Create) -> Result<Value, RpcError> {
    let bias = match request.bias {
        Side::Left => Bias::Left,
        Side::Right => Bias::Right,
    };
    let (path, offset, encoding) = (request.path, request.offset, request.encoding);
    let made = change(&connection.node, move |tree| {
        let text = tree.read_text(&path)?;
        let Some(pos) = encoding.to_char(&text, offset) else {
            return Ok((Vec::new(), None));
        };
        let (file, anchor) = tree.anchor(&path, pos, bias)?;
        Ok((Vec::new(), Some(Id { file, anchor })))
    })
    .await?;
    let id = made.ok_or_else(|| {
        RpcError::new(code::INVALID_PARAMS, format!("offset {offset} is outside the text or splits a character"))
    })?;
    let bytes = serde_json::to_vec(&id).expect("an anchor serializes");
    Ok(json!({ "anchor": format!("{PREFIX}{}", hex(&bytes)) }))
}

async fn resolve(connection: &mut Connection, request: Resolve) -> Result<Value, RpcError> {
    let Id { file, anchor } = decode(&request.anchor)
        .ok_or_else(|| RpcError::new(code::INVALID_PARAMS, format!("{:?} is not an anchor id", request.anchor)))?;
    let encoding = request.encoding;
    let found = connection
        .node
        .read(move |tree| {
            let (path, pos) = tree.resolve(file, &anchor)?;
            let offset = tree.read_text(&path).map(|text| encoding.from_char(&text, pos));
            Some((path, offset))
        })
        .await
        .map_err(stopped)?;
    let (path, offset) = found.ok_or_else(|| {
        RpcError::new(code::INVALID_PARAMS, "the anchor's file is not shown here (deleted, or not yet received)")
    })?;
    Ok(json!({ "path": path, "offset": offset.map_err(refused)? }))
}

fn decode(id: &str) -> Option<Id> {
    let bytes = memo_core::hex::decode(id.strip_prefix(PREFIX)?)?;
    serde_json::from_slice(&bytes).ok()
}

use memo_core::hex::encode as hex;
