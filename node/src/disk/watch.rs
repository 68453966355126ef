//! The [`Watcher`]: file-system events turned into batches of hints for
//! [`DiskSync::ingest`](super::DiskSync::ingest).
//!
//! An event is only a hint: the node reads the path again, so a lost,
//! merged or reordered event costs nothing but latency. What could lose a
//! change is covered by a full rescan, asked for in a [`Batch`] when the
//! kernel's queue overflowed (notify's `need_rescan`), when the watcher's
//! own queue was full, after a watcher error, and every
//! [`WatchConfig::rescan_every`]. When inotify runs out of watches
//! (`fs.inotify.max_user_watches`), the watcher says so loudly and falls
//! back to polling.
//!
//! `next_batch` blocks: call it from a thread, or from tokio's
//! `spawn_blocking`.

use super::DiskError;
use notify::event::{AccessKind, AccessMode};
use notify::{ErrorKind, Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a [`Watcher`] watches.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WatchConfig {
    /// How long events keep coming into one batch after the first (a save
    /// is several events; a `git checkout` many).
    pub debounce: Duration,
    /// The longest a batch keeps collecting.
    pub max_batch_delay: Duration,
    /// A full rescan at least this often, for whatever events missed.
    pub rescan_every: Duration,
    /// How often the polling fallback looks.
    pub poll_interval: Duration,
    /// Poll from the start (file systems without events, tests).
    pub force_polling: bool,
    /// Events queued between the watcher's thread and `next_batch`;
    /// past it, events are dropped and a rescan is asked for.
    pub queue: usize,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            debounce: Duration::from_millis(10),
            max_batch_delay: Duration::from_millis(200),
            rescan_every: Duration::from_secs(300),
            poll_interval: Duration::from_secs(2),
            force_polling: false,
            queue: 4096,
        }
    }
}

impl WatchConfig {
    pub fn polling(mut self, interval: Duration) -> Self {
        self.force_polling = true;
        self.poll_interval = interval;
        self
    }
}

/// Paths to read again, and whether to read everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub hints: Vec<PathBuf>,
    pub rescan: bool,
}

type Received = notify::Result<Event>;

/// The watcher in use: held only to keep it watching (dropping it stops).
#[allow(dead_code)]
enum Backend {
    Native(RecommendedWatcher),
    Polling(PollWatcher),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Native(_) => "Native",
            Backend::Polling(_) => "Polling",
        })
    }
}

/// Watches a working copy (see the module documentation).
#[derive(Debug)]
pub struct Watcher {
    root: PathBuf,
    config: WatchConfig,
    events: Receiver<Received>,
    sender: SyncSender<Received>,
    /// Set by the watcher's thread when the queue was full.
    overflowed: Arc<AtomicBool>,
    backend: Backend,
    last_rescan: Instant,
}

impl Watcher {
    /// Starts watching everything under `root`.
    pub fn start(root: &Path, config: WatchConfig) -> Result<Watcher, DiskError> {
        let root = root.canonicalize().map_err(|_| DiskError::RootGone(root.to_path_buf()))?;
        let (sender, events) = sync_channel(config.queue.max(1));
        let overflowed = Arc::new(AtomicBool::new(false));
        let backend = match config.force_polling {
            true => Backend::Polling(poller(&root, &config, &sender, &overflowed)?),
            false => match native(&root, &sender, &overflowed) {
                Ok(watcher) => Backend::Native(watcher),
                Err(error) if out_of_watches(&error) => {
                    warn_polling(&config);
                    Backend::Polling(poller(&root, &config, &sender, &overflowed)?)
                }
                Err(error) => return Err(watch_error(&root, error)),
            },
        };
        Ok(Watcher { root, config, events, sender, overflowed, backend, last_rescan: Instant::now() })
    }

    /// Whether the watcher polls (no events from the OS).
    pub fn is_polling(&self) -> bool {
        matches!(self.backend, Backend::Polling(_))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Waits up to `wait` for something to happen, then collects what
    /// follows for [`WatchConfig::debounce`]. `None` if nothing happened
    /// (and no periodic rescan is due).
    pub fn next_batch(&mut self, wait: Duration) -> Option<Batch> {
        let start = Instant::now();
        let rescan_due = self.last_rescan + self.config.rescan_every;
        let first_wait = (start + wait).min(rescan_due).saturating_duration_since(start);
        let mut hints = BTreeSet::new();
        let mut rescan = false;
        match self.events.recv_timeout(first_wait) {
            Ok(event) => self.take(event, &mut hints, &mut rescan),
            Err(RecvTimeoutError::Timeout) if Instant::now() >= rescan_due => rescan = true,
            Err(_) => return None,
        }
        let until = Instant::now() + self.config.max_batch_delay;
        while let Ok(event) = self.events.recv_timeout(self.config.debounce) {
            self.take(event, &mut hints, &mut rescan);
            if Instant::now() >= until {
                break;
            }
        }
        rescan |= self.overflowed.swap(false, Ordering::Relaxed);
        if rescan {
            self.last_rescan = Instant::now();
        }
        Some(Batch { hints: hints.into_iter().collect(), rescan })
    }

    fn take(&mut self, event: Received, hints: &mut BTreeSet<PathBuf>, rescan: &mut bool) {
        match event {
            // Reads (the node's own among them) are not changes: a hint
            // from one would make the node read again, for ever.
            Ok(event) if is_read(&event.kind) && !event.need_rescan() => {}
            Ok(event) => {
                *rescan |= event.need_rescan();
                hints.extend(event.paths);
            }
            Err(error) if out_of_watches(&error) && !self.is_polling() => {
                warn_polling(&self.config);
                match poller(&self.root, &self.config, &self.sender, &self.overflowed) {
                    Ok(poller) => self.backend = Backend::Polling(poller),
                    Err(error) => tracing::error!(%error, "cannot poll the working copy either"),
                }
                *rescan = true;
            }
            Err(error) => {
                // Events may have been lost with it: read everything.
                tracing::warn!(%error, "file watcher error: rescanning");
                *rescan = true;
            }
        }
    }
}

/// An event of a read: an open, or a close without a write.
fn is_read(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(access) if *access != AccessKind::Close(AccessMode::Write))
}

fn handler(sender: &SyncSender<Received>, overflowed: &Arc<AtomicBool>) -> impl Fn(Received) + Send + 'static {
    let (sender, overflowed) = (sender.clone(), overflowed.clone());
    move |event| {
        if sender.try_send(event).is_err() {
            overflowed.store(true, Ordering::Relaxed);
        }
    }
}

fn native(
    root: &Path,
    sender: &SyncSender<Received>,
    overflowed: &Arc<AtomicBool>,
) -> notify::Result<RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(handler(sender, overflowed))?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    Ok(watcher)
}

fn poller(
    root: &Path,
    config: &WatchConfig,
    sender: &SyncSender<Received>,
    overflowed: &Arc<AtomicBool>,
) -> Result<PollWatcher, DiskError> {
    let settings = notify::Config::default().with_poll_interval(config.poll_interval);
    let mut watcher = PollWatcher::new(handler(sender, overflowed), settings).map_err(|e| watch_error(root, e))?;
    watcher.watch(root, RecursiveMode::Recursive).map_err(|e| watch_error(root, e))?;
    Ok(watcher)
}

fn out_of_watches(error: &notify::Error) -> bool {
    match &error.kind {
        ErrorKind::MaxFilesWatch => true,
        // ENOSPC is how inotify_add_watch says the watches ran out.
        ErrorKind::Io(io) => io.raw_os_error() == Some(28),
        _ => false,
    }
}

fn warn_polling(config: &WatchConfig) {
    tracing::error!(
        interval = ?config.poll_interval,
        "inotify watches ran out: POLLING the working copy instead, so changes are seen late and cost CPU; \
         raise the limit (sysctl fs.inotify.max_user_watches=524288) and restart the node"
    );
}

fn watch_error(root: &Path, error: notify::Error) -> DiskError {
    DiskError::Io { path: root.to_path_buf(), source: std::io::Error::other(error.to_string()) }
}
