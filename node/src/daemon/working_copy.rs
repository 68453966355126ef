//! The daemon's working copy: the directory on disk and the node's replica
//! kept in step ([`crate::disk`]), both ways, for as long as the daemon
//! runs.
//!
//! A thread waits on the [`Watcher`] and hands its batches of hints to
//! this task; the task also wakes when the tree's version moves
//! ([`NodeHandle::watch_version`]: a peer's operations, or a local change
//! that did not come from the disk, such as an editor's through the
//! control socket). Each wake-up is one run of [`Step`] in the node's task
//! ([`NodeHandle::with_replica`]): first what changed the tree from
//! outside since the last run is written to disk
//! ([`DiskSync::materialize`]), then what the hints point at is read
//! ([`DiskSync::ingest`]); the operations made are published. So the
//! node's own writes never come back as operations, and the disk never
//! misses a change.
//!
//! While Git holds `.git/index.lock` (a checkout, a commit, a reset is
//! writing), nothing runs: what the watcher saw waits, and goes as one
//! batch once Git is done, so a checkout is read whole, never half done,
//! and the node writes nothing under Git's feet.
//!
//! Each run ends with a look at HEAD ([`HeadSync`]: a move of this clone's
//! is recorded, the working copy's is followed), and a run comes at least
//! every [`HEAD_POLL`] for it.
//!
//! Cost: finding what changed from outside walks the tree's operation log
//! ([`memo_core::WorkTree::ops_since`]), linear in the log, once per
//! wake-up in which the tree changed. Disk reads and writes run on the
//! node's task, as storing does.

use super::head::HeadSync;
use crate::disk::{Batch, DiskConfig, DiskError, DiskSync, SyncReport, WatchConfig, Watcher};
use crate::net::{NetError, NodeHandle};
use crate::Replica;
use memo_core::VersionVector;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a held batch looks whether Git let go of its index lock.
const GIT_LOCK_POLL: Duration = Duration::from_millis(100);

/// How often HEAD is looked at (a read of `.git/HEAD` and its ref).
pub const HEAD_POLL: Duration = Duration::from_millis(100);

/// How long the watcher's thread waits for events before it looks whether
/// the daemon is stopping.
const WATCH_WAIT: Duration = Duration::from_millis(500);

/// Why the working copy stopped being kept in step: the daemon stops.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkingCopyError {
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error(transparent)]
    Net(#[from] NetError),
}

/// Keeps the working copy at `root` and `node`'s replica in step until an
/// error the node cannot go on after (a vanished or emptied root, a store
/// failure) or the node stops.
pub async fn keep_in_step(
    node: NodeHandle,
    root: PathBuf,
    config: DiskConfig,
    base: Option<git2::Oid>,
) -> Result<(), WorkingCopyError> {
    let settle = config.settle;
    let head = HeadSync::new(root.clone(), base);
    let step = Step { disk: DiskSync::open(&root, config)?, head, synced: None };
    let mut versions = node.watch_version();
    let mut batches = watch(&root)?;
    let git_lock = crate::location::git_dir(&root).map(|dir| dir.join("index.lock")).ok();
    let (mut step, mut waiting, _) = step.run(&node, Some(Batch { hints: Vec::new(), rescan: true })).await?;
    super::SCANNED.store(true, std::sync::atomic::Ordering::Relaxed);
    // What waits while Git holds its index lock.
    let mut held: Option<Batch> = None;
    let mut head_poll = tokio::time::interval(HEAD_POLL);
    let mut fetching = super::fetch::Fetcher::new(NodeHandle::clone(&node), root.clone());
    loop {
        let woken = tokio::select! {
            batch = batches.recv() => match batch {
                Some(batch) => Some(batch),
                None => return Err(DiskError::RootGone(root).into()),
            },
            changed = versions.changed() => {
                changed.map_err(|_| NetError::Stopped)?;
                None
            }
            _ = tokio::time::sleep(settle), if waiting > 0 => Some(Batch::default()),
            _ = tokio::time::sleep(GIT_LOCK_POLL), if held.is_some() => None,
            _ = head_poll.tick() => None,
        };
        let batch = join(held.take(), woken);
        // While Git holds its index lock (a checkout, a commit, a reset),
        // the disk is half written: wait, and take it all as one batch.
        if git_lock.as_ref().is_some_and(|lock| lock.exists()) {
            held = Some(batch.unwrap_or_default());
            continue;
        }
        let missing;
        (step, waiting, missing) = step.run(&node, batch).await?;
        if let Some(commit) = missing {
            fetching.fetch(commit);
        }
    }
}

/// Two wake-ups as one: every hint of both, a rescan if either asks.
fn join(a: Option<Batch>, b: Option<Batch>) -> Option<Batch> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.hints.extend(b.hints);
            a.rescan |= b.rescan;
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

/// Starts the watcher on a thread of its own, which forwards its batches.
fn watch(root: &Path) -> Result<mpsc::Receiver<Batch>, DiskError> {
    let mut watcher = Watcher::start(root, WatchConfig::default())?;
    let (sender, receiver) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("memo-watcher".into())
        .spawn(move || {
            while !sender.is_closed() {
                if let Some(batch) = watcher.next_batch(WATCH_WAIT) {
                    if sender.blocking_send(batch).is_err() {
                        return;
                    }
                }
            }
        })
        .map_err(|source| DiskError::Io { path: root.to_path_buf(), source })?;
    Ok(receiver)
}

/// The disk's side, moved into the node's task for each run.
struct Step {
    disk: DiskSync,
    head: HeadSync,
    /// The tree's version when the disk last caught up with it; `None`
    /// before the first run.
    synced: Option<VersionVector>,
}

impl Step {
    /// One run in the node's task: what changed the tree from outside goes
    /// to disk, then `batch` (if any) is read, then HEAD is looked at.
    /// Returns the step back, how many paths are still being written (read
    /// again after the settle time), and a commit to fetch, if any.
    async fn run(
        self,
        node: &NodeHandle,
        batch: Option<Batch>,
    ) -> Result<(Step, usize, Option<git2::Oid>), WorkingCopyError> {
        let (step, result) = node
            .with_replica(move |replica| {
                let mut step = self;
                match step.sync(replica, batch) {
                    Ok((report, missing)) => (report.ops, (step, Ok((report.waiting, missing)))),
                    Err(error) => (Vec::new(), (step, Err(error))),
                }
            })
            .await?;
        let (waiting, missing) = result?;
        Ok((step, waiting, missing))
    }

    /// The run's work; HEAD is looked at once no file is being written, so
    /// that a commit maps to a version holding every save before it.
    fn sync(
        &mut self,
        replica: &mut Replica,
        batch: Option<Batch>,
    ) -> Result<(SyncReport, Option<git2::Oid>), DiskError> {
        let outside = match &self.synced {
            Some(synced) if synced != replica.tree().version() => replica.tree().ops_since(synced),
            _ => Vec::new(),
        };
        let mut report = match outside.is_empty() {
            true => SyncReport::default(),
            false => self.disk.materialize(replica, &outside)?,
        };
        let read = match batch {
            Some(Batch { rescan: true, .. }) => self.disk.rescan(replica)?,
            Some(Batch { hints, .. }) => self.disk.ingest(replica, &hints)?,
            None => SyncReport::default(),
        };
        report.ops.extend(read.ops);
        report.written += read.written;
        report.waiting = read.waiting.max(self.disk.waiting());
        let mut missing = None;
        if report.waiting == 0 {
            let head = self.head.sync(replica);
            report.ops.extend(head.ops);
            missing = head.missing;
        }
        self.synced = Some(replica.tree().version().clone());
        Ok((report, missing))
    }
}
