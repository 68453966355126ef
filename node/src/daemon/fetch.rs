//! Commits the working copy's HEAD names that this clone lacks, fetched
//! from a peer as a Git pack ([`crate::objects`]), one at a time, each
//! tried again at most every [`RETRY`].

use crate::net::NodeHandle;
use crate::objects::{self, ObjectsError};
use git2::Oid;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long a commit that could not be fetched waits before another try.
pub const RETRY: Duration = Duration::from_secs(5);

/// The daemon's fetches of missing commits.
pub struct Fetcher {
    node: NodeHandle,
    root: PathBuf,
    running: Option<JoinHandle<()>>,
    tried: HashMap<Oid, Instant>,
}

impl Fetcher {
    pub fn new(node: NodeHandle, root: PathBuf) -> Fetcher {
        Fetcher { node, root, running: None, tried: HashMap::new() }
    }

    /// Starts fetching `commit` unless a fetch runs or it was tried lately.
    pub fn fetch(&mut self, commit: Oid) {
        if self.running.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        if self.tried.get(&commit).is_some_and(|at| at.elapsed() < RETRY) {
            return;
        }
        self.tried.insert(commit, Instant::now());
        let (node, root) = (NodeHandle::clone(&self.node), self.root.clone());
        self.running = Some(tokio::spawn(async move {
            match fetch(&node, root, commit).await {
                Ok(()) => tracing::info!(%commit, "commit fetched from a peer"),
                Err(error) => tracing::warn!(%commit, %error, "cannot fetch the working copy's HEAD yet"),
            }
        }));
    }
}

/// Fetches `commit` and what it needs from the first peer that has it.
async fn fetch(node: &NodeHandle, root: PathBuf, commit: Oid) -> Result<(), ObjectsError> {
    let want = vec![commit.as_bytes().to_vec()];
    let have = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || objects::haves(&root)).await.unwrap_or_default()
    };
    let pack = node.fetch_objects(objects::Request { want: want.clone(), have }).await?;
    tokio::task::spawn_blocking(move || objects::unpack(&root, &pack, &want))
        .await
        .map_err(|e| ObjectsError::Task(e.to_string()))?
}
