//! Following HEAD: a commit made in this clone on top of the working
//! copy's base is recorded in the commit map (a
//! [`memo_core::tree::TreeOpKind::Commit`] operation: it reaches every
//! replica, and `memo log` and `memo show --version <commit>` read it).
//!
//! HEAD is looked at every [`HEAD_POLL`], and once at start-up (a commit
//! made while the daemon was down is recorded then, at the version the
//! daemon starts with). A commit maps to the version the replica holds
//! when the daemon notices it: a file saved within that tenth of a second
//! after the commit counts as committed. A HEAD that moves elsewhere (a checkout, a reset,
//! an amend or a rebase) is reported, not followed: the files it changes
//! are replicated as edits, but the other replicas' HEADs stay (epochs
//! are issue 7's next step).

use super::working_copy::WorkingCopyError;
use crate::git;
use crate::net::{NetError, NodeHandle};
use git2::Oid;
use std::path::PathBuf;
use std::time::Duration;

/// How often HEAD is looked at (a read of `.git/HEAD` and its ref).
pub const HEAD_POLL: Duration = Duration::from_millis(100);

/// Follows HEAD until the node stops (see the module docs).
pub async fn follow(node: NodeHandle, root: PathBuf, base: Option<Oid>) -> Result<(), WorkingCopyError> {
    let mut seen: Option<Oid> = None;
    let mut poll = tokio::time::interval(HEAD_POLL);
    loop {
        poll.tick().await;
        let head = match git::head_commit(&root) {
            Ok(head) => head,
            Err(error) => {
                tracing::warn!(%error, "cannot read HEAD");
                continue;
            }
        };
        if head == seen {
            continue;
        }
        seen = head;
        if let Some(commit) = head.filter(|commit| Some(*commit) != base) {
            moved(&node, &root, commit, base).await?;
        }
    }
}

/// HEAD is at `commit`, not the base: record it if it is a commit on top
/// of the base and not recorded yet.
async fn moved(node: &NodeHandle, root: &std::path::Path, commit: Oid, base: Option<Oid>) -> Result<(), NetError> {
    match git::descends_from(root, commit, base) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(%commit, "HEAD moved off the working copy's base (a checkout, reset or rebase): \
                its file changes are replicated as edits; the other replicas' HEADs stay");
            return Ok(());
        }
        Err(error) => {
            tracing::warn!(%error, "cannot tell where HEAD moved");
            return Ok(());
        }
    }
    let id = commit.as_bytes().to_vec();
    let known = node.read({
        let id = id.clone();
        move |tree| tree.commits().iter().any(|(recorded, _, _)| *recorded == id)
    });
    if known.await? {
        return Ok(());
    }
    match node.change(move |tree| tree.record_commit(id).map(|op| vec![op])).await? {
        Ok(_) => tracing::info!(%commit, "commit recorded in the commit map"),
        Err(error) => tracing::warn!(%commit, %error, "commit not recorded"),
    }
    Ok(())
}
