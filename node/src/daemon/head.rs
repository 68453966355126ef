//! The working copy's HEAD and this clone's, kept in step both ways.
//!
//! - A move of this clone's HEAD is recorded: a commit made here as a
//!   commit-map entry ([`memo_core::tree::TreeOpKind::Commit`]: the commit
//!   and the version the working copy then had), any other move (a
//!   checkout, a switch, a reset, a rebase) as a checkout
//!   ([`memo_core::tree::TreeOpKind::Checkout`]). HEAD's reflog tells
//!   which ([`git::head_move`]). The files the move changed are read from
//!   the disk as usual, as one batch once Git lets go of its index lock.
//! - When the working copy's HEAD ([`memo_core::tree::WorkTree::head`]: the
//!   latest commit or checkout of any replica) is not this clone's, this
//!   clone's HEAD and index move there, files untouched
//!   ([`git::follow_head`]): they come as operations, and this replica's
//!   uncommitted edits stay, merged as every edit is. A commit this clone
//!   lacks is fetched from a peer first (the daemon does that).
//!
//! It runs in the working copy's step (`super::working_copy`), after the
//! disk was read: so a commit maps to a version that holds every save
//! the daemon saw before it, and a followed HEAD lands once the files it
//! brings were written.

use crate::git::{self, HeadMove};
use crate::Replica;
use git2::Oid;
use memo_core::id::OpId;
use memo_core::tree::Head;
use memo_core::TreeOp;
use std::path::PathBuf;

/// This clone's HEAD and the working copy's, as last seen.
pub struct HeadSync {
    root: PathBuf,
    /// The working copy's base: HEAD until a commit or checkout moves it.
    base: Option<Oid>,
    /// Where this clone's HEAD was at the last look.
    seen: Option<Oid>,
    /// The working copy's HEAD that this clone's follows (its operation).
    followed: Option<OpId>,
}

/// What a look at HEAD needs from the daemon.
#[derive(Debug, Default)]
pub struct HeadReport {
    /// The operation recording a move of this clone's HEAD.
    pub ops: Vec<TreeOp>,
    /// The working copy's HEAD is a commit this clone lacks: fetch it.
    pub missing: Option<Oid>,
}

impl HeadSync {
    pub fn new(root: PathBuf, base: Option<Oid>) -> HeadSync {
        HeadSync { root, base, seen: None, followed: None }
    }

    /// Records a move of this clone's HEAD, or follows the working copy's.
    /// Git errors are logged and tried again at the next look.
    pub fn sync(&mut self, replica: &mut Replica) -> HeadReport {
        let local = match git::head_commit(&self.root) {
            Ok(local) => local,
            Err(error) => {
                tracing::warn!(%error, "cannot read HEAD");
                return HeadReport::default();
            }
        };
        let shared = replica.tree().head().cloned();
        if local != self.seen {
            let first_look = self.seen.is_none();
            self.seen = local;
            let shared_commit = shared.as_ref().map_or(self.base, |head| Oid::from_bytes(&head.commit).ok());
            if let Some(commit) = local.filter(|commit| Some(*commit) != shared_commit) {
                // At the first look, only a commit on top of the working
                // copy's HEAD (made while the daemon was down) is a move;
                // any other HEAD is this clone left behind (a joiner, a
                // daemon that was down), which follows rather than leads.
                let behind = first_look && !git::descends_from(&self.root, commit, shared_commit).unwrap_or(false);
                if !behind {
                    return HeadReport { ops: self.record(replica, commit), missing: None };
                }
            }
        }
        match shared.filter(|head| Some(head.op) != self.followed) {
            Some(head) => self.follow(&head, local),
            None => HeadReport::default(),
        }
    }

    /// This clone's HEAD moved to `commit`: a commit-map entry or a checkout.
    fn record(&mut self, replica: &mut Replica, commit: Oid) -> Vec<TreeOp> {
        let moved = git::head_move(&self.root, commit).unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read HEAD's reflog: taken as a checkout");
            HeadMove::Checkout { branch: String::new() }
        });
        let id = commit.as_bytes().to_vec();
        let recorded = replica.change(|tree| match &moved {
            HeadMove::Commit => tree.record_commit(id).map(|op| vec![op]),
            HeadMove::Checkout { branch } => tree.record_checkout(id, branch.clone()).map(|op| vec![op]),
        });
        match recorded {
            Ok(ops) => {
                tracing::info!(%commit, ?moved, "HEAD moved here: the other replicas follow");
                self.followed = replica.tree().head().map(|head| head.op);
                ops
            }
            Err(error) => {
                let error: &dyn std::error::Error = &error;
                tracing::warn!(%commit, error, "HEAD's move not recorded");
                Vec::new()
            }
        }
    }

    /// The working copy's HEAD is `head`; this clone's is at `local`.
    fn follow(&mut self, head: &Head, local: Option<Oid>) -> HeadReport {
        let Ok(commit) = Oid::from_bytes(&head.commit) else {
            tracing::warn!("the working copy's HEAD is not a commit id this Git reads (SHA-256?): not followed");
            self.followed = Some(head.op);
            return HeadReport::default();
        };
        if Some(commit) != local {
            if !git::has_commit(&self.root, commit) {
                return HeadReport { ops: Vec::new(), missing: Some(commit) };
            }
            match git::follow_head(&self.root, commit, head.branch.as_deref()) {
                Ok(followed) => tracing::info!(%commit, ?followed, "HEAD follows the working copy's"),
                Err(error) => {
                    tracing::warn!(%commit, %error, "cannot move HEAD to the working copy's");
                    return HeadReport::default();
                }
            }
            self.seen = Some(commit);
        }
        self.followed = Some(head.op);
        HeadReport::default()
    }
}
