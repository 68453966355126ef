//! `history/*`: the fine-grained history behind the working copy, from
//! the operations the replica holds (issue 7's `memo log` and `memo
//! history`).
//!
//! - `file {path}` → `{steps: [...]}`: every operation that made or
//!   changed the entry now at `path` (it follows renames: an entry keeps
//!   its identity), in causal order. Each step names its author (replica),
//!   its kind, the units of work it took, and `version`: the version right
//!   after it, for `file/read_at` (`memo show --version`). Text edits come
//!   as the text CRDT keeps them: one author typing on in one place is one
//!   run, so two saves that append are one step.
//! - `log {}` → `{runs: [...], commits: [...]}`: the whole history as runs
//!   of consecutive operations by one author, in causal order, each with
//!   its operation and unit counts, the paths it touched (as they are
//!   named now), the version after it and `time`, when this replica
//!   reached it (seconds since the Unix epoch, from the time index below;
//!   null if it does not say); and the commit map: each Git commit
//!   recorded, the version it holds, the replica that recorded it, and
//!   the time of that version.
//!
//! - `undo {path}` → `{undone}`: undoes this replica's latest edit of the
//!   text file at `path` not undone yet (an operation like any other: it
//!   reaches the disk and the peers); `undone` is false if there was none.
//!
//! - `at_time {time}` → `{version}`: the version this replica held at the
//!   end of second `time` (seconds since the Unix epoch), from the store's
//!   time index: when this replica applied each operation, its own or a
//!   peer's (operations carry no wall-clock time; a replica that joined
//!   late dates what it caught up with to then).

use super::{no_method, params, stopped, Connection};
use crate::control::{code, RpcError};
use memo_core::tree::{EntryId, TreeOpKind};
use memo_core::{TreeOp, VersionVector, WorkTree};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[derive(Deserialize)]
struct FileHistory {
    path: String,
}

/// A time, in seconds since the Unix epoch.
#[derive(Deserialize)]
struct AtTime {
    time: u64,
}

pub(super) async fn call(connection: &mut Connection, name: &str, value: Value) -> Result<Value, RpcError> {
    match name {
        "file" => {
            let FileHistory { path } = params("history/file", value)?;
            let steps = connection.node.read(move |tree| file_steps(tree, &path)).await.map_err(stopped)?;
            Ok(json!({ "steps": steps? }))
        }
        "log" => {
            let log = connection.node.with_replica(|replica| {
                let when = Dates(replica.store().times().unwrap_or_else(|error| {
                    tracing::warn!(%error, "the time index cannot be read: the log says no times");
                    Vec::new()
                }));
                (Vec::new(), (runs(replica.tree(), &when), commits(replica.tree(), &when)))
            });
            let (runs, commits) = log.await.map_err(stopped)?;
            Ok(json!({ "runs": runs, "commits": commits }))
        }
        "at_time" => {
            let AtTime { time } = params("history/at_time", value)?;
            let found = connection.node.with_replica(move |replica| (Vec::new(), replica.store().version_at(time)));
            match found.await.map_err(stopped)? {
                Ok(Some(version)) => Ok(json!({ "version": version })),
                Ok(None) => {
                    Err(RpcError::new(code::INVALID_PARAMS, format!("this replica held nothing yet at {time}")))
                }
                Err(error) => Err(RpcError::new(code::INTERNAL, error.to_string())),
            }
        }
        "undo" => {
            let FileHistory { path } = params("history/undo", value)?;
            let undone = super::change(&connection.node, move |tree| {
                let op = tree.undo_text(&path)?;
                Ok((op.iter().cloned().collect(), op.is_some()))
            })
            .await?;
            Ok(json!({ "undone": undone }))
        }
        _ => Err(no_method()),
    }
}

/// Every operation of the tree, in causal order, with the version after it.
fn replay(tree: &WorkTree) -> impl Iterator<Item = (TreeOp, VersionVector)> {
    let mut version = VersionVector::new();
    tree.ops_since(&VersionVector::new()).into_iter().map(move |op| {
        let range = op.range();
        version.set(range.replica, version.get(range.replica).max(range.end()));
        (op, version.clone())
    })
}

fn file_steps(tree: &WorkTree, path: &str) -> Result<Vec<Value>, RpcError> {
    let entry = tree
        .entry_at(path)
        .ok_or_else(|| RpcError::new(code::INVALID_PARAMS, format!("history/file: no entry at {path:?}")))?;
    Ok(replay(tree)
        .filter(|(op, _)| op.entry() == Some(entry))
        .map(|(op, version)| {
            json!({
                "replica": op.id.replica.to_string(),
                "seq": op.id.seq,
                "kind": kind(&op.kind),
                "units": op.units(),
                "version": version,
            })
        })
        .collect())
}

/// When this replica first held a version, from the store's time index.
struct Dates(Vec<(u64, VersionVector)>);

impl Dates {
    /// The second this replica held `version`; `None` if the index does
    /// not say (operations from before it was kept).
    fn of(&self, version: &VersionVector) -> Option<u64> {
        // The index's versions grow with time: the first that holds
        // `version` is when it was reached.
        let first = self.0.partition_point(|(_, held)| !held.dominates(version));
        self.0.get(first).map(|(second, _)| *second)
    }
}

/// The history as runs of consecutive operations by one author.
fn runs(tree: &WorkTree, when: &Dates) -> Vec<Value> {
    let mut runs: Vec<(String, usize, u64, BTreeSet<EntryId>, VersionVector)> = Vec::new();
    for (op, version) in replay(tree) {
        let author = op.id.replica.to_string();
        match runs.last_mut() {
            Some(run) if run.0 == author => {
                run.1 += 1;
                run.2 += op.units();
                run.3.extend(op.entry());
                run.4 = version;
            }
            _ => runs.push((author, 1, op.units(), op.entry().into_iter().collect(), version)),
        }
    }
    runs.into_iter()
        .map(|(replica, operations, units, entries, version)| {
            let paths: BTreeSet<String> = entries.into_iter().filter_map(|e| tree.path_of(e)).collect();
            let time = when.of(&version);
            json!({ "replica": replica, "operations": operations, "units": units, "paths": paths, "version": version, "time": time })
        })
        .collect()
}

/// The commit map: each commit with the version it holds and who
/// recorded it.
fn commits(tree: &WorkTree, when: &Dates) -> Vec<Value> {
    tree.commits()
        .into_iter()
        .map(|(commit, version, by)| {
            let (commit, replica, time) = (memo_core::hex::encode(&commit), by.replica.to_string(), when.of(&version));
            json!({ "commit": commit, "version": version, "replica": replica, "time": time })
        })
        .collect()
}

fn kind(kind: &TreeOpKind) -> &'static str {
    match kind {
        TreeOpKind::Create { .. } => "create",
        TreeOpKind::Move { .. } => "move",
        TreeOpKind::Delete { .. } => "delete",
        TreeOpKind::Edit { .. } => "edit",
        TreeOpKind::SetContent { .. } => "set-content",
        TreeOpKind::SetExecutable { .. } => "set-executable",
        TreeOpKind::Commit { .. } => "commit",
        TreeOpKind::Checkout { .. } => "checkout",
        TreeOpKind::Opaque { .. } => "unknown",
    }
}
