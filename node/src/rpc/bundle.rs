//! `bundle/*`: operations as files, for machines that never meet
//! ([`memo_core::protocol::bundle`] has the format).
//!
//! - `export {since?}` → `{operations, bytes}`: every stored operation
//!   that `since` (a version vector, as `buffer/open` returns it; default:
//!   none) lacks, in the order they were stored (an order the receiver
//!   applies with little buffering), as a bundle in base64. Authenticated
//!   with the working copy's secret.
//! - `import {bytes}` or `import {path}` → `{operations, known, applied,
//!   refused}`: a bundle (base64, or a file the daemon reads; the request
//!   line holds at most 1 MiB, so large bundles go by path) checked (magic,
//!   version, working copy, tag) and taken as a catch-up batch is: stored,
//!   then applied. Importing the same bundle again changes nothing
//!   (`known` counts what was held already). A bundle of another working
//!   copy, made without the secret, or damaged is refused whole with an
//!   error that says which.

use super::{no_method, params, stopped, Connection};
use crate::control::{code, RpcError};
use base64::Engine;
use memo_core::protocol::bundle::{self, BundleKey, MAX_BUNDLE_BYTES};
use memo_core::VersionVector;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Deserialize)]
struct Export {
    #[serde(default)]
    since: VersionVector,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Import {
    bytes: Option<String>,
    path: Option<PathBuf>,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    let key = BundleKey::from_secret(connection.membership.secret.as_bytes());
    let working_copy = connection.membership.working_copy;
    match name {
        "export" => {
            let Export { since } = params("bundle/export", value)?;
            let (count, bytes) = connection
                .node
                .with_replica(move |replica| {
                    let mut ops = Vec::new();
                    let scan = replica.store().for_each_op(|op| {
                        if !since.contains_range(&op.range()) {
                            ops.push(op);
                        }
                    });
                    let result = scan.map(|()| (ops.len(), bundle::encode(&working_copy, &key, &ops)));
                    (Vec::new(), result)
                })
                .await
                .map_err(stopped)?
                .map_err(|e| RpcError::new(code::INTERNAL, e.to_string()))?;
            let bytes = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok(json!({ "operations": count, "bytes": bytes }))
        }
        "import" => {
            let bytes = match params("bundle/import", value)? {
                Import { bytes: Some(text), path: None } => base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|e| RpcError::new(code::INVALID_PARAMS, format!("bundle/import: bytes: {e}")))?,
                Import { bytes: None, path: Some(path) } => read(path).await?,
                _ => {
                    return Err(RpcError::new(
                        code::INVALID_PARAMS,
                        "bundle/import wants {\"bytes\": base64} or {\"path\": file}",
                    ))
                }
            };
            let ops = bundle::decode(&bytes, &working_copy, &key)
                .map_err(|e| RpcError::new(code::INVALID_PARAMS, e.to_string()))?;
            let received = connection.node.receive_all(ops).await.map_err(stopped)?;
            Ok(json!(received))
        }
        _ => Err(no_method()),
    }
}

/// The file at `path`, refused unread when larger than a bundle may be.
/// Read on a blocking thread: a bundle may be large.
async fn read(path: PathBuf) -> Result<Vec<u8>, RpcError> {
    let read = tokio::task::spawn_blocking(move || {
        let failed = |e: std::io::Error| RpcError::new(code::INVALID_PARAMS, format!("{}: {e}", path.display()));
        if std::fs::metadata(&path).map_err(failed)?.len() > MAX_BUNDLE_BYTES {
            return Err(RpcError::new(code::INVALID_PARAMS, bundle::BundleError::TooLarge.to_string()));
        }
        std::fs::read(&path).map_err(failed)
    });
    read.await.map_err(|e| RpcError::new(code::INTERNAL, e.to_string()))?
}
