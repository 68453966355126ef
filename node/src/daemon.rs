//! The daemon: one working copy's node, running until it is told to stop.
//!
//! It loads the membership (made by `memo share` or `memo join`), opens the
//! replica from its store, starts the [`Node`] (listening where it
//! listened last, so that the addresses its peers remember stay good),
//! dials every remembered peer, serves the control socket
//! ([`crate::control`]; its methods are in [`crate::rpc`]), and every
//! [`REMEMBER_INTERVAL`] writes the addresses of its connected peers into
//! the membership. On SIGINT, SIGTERM or `memo down` it shuts the node
//! down cleanly (a snapshot), then removes its socket.
//!
//! The replica stands on the working copy's base commit ([`GitBase`]; an
//! empty base before the first commit), and the working copy on disk is
//! kept in step with it both ways (module `working_copy`): a saved file
//! becomes operations, a peer's operations reach the disk. A vanished or
//! emptied working copy stops the daemon rather than replicate a mass
//! delete. HEAD is kept in step too (module `head`): commits and checkouts
//! made here are recorded, and this clone follows the others', fetching
//! the commits it lacks from a peer (module `fetch`).

use crate::control;
use crate::disk::DiskConfig;
use crate::git::{GitBase, GitError};
use crate::location::NodePaths;
use crate::membership::{Membership, MembershipError};
use crate::net::{self, NetError, Node, NodeConfig, NodeHandle};
use crate::{RecoveryError, Replica};
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use memo_core::tree::{BaseSnapshot, EmptyBase};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;

mod fetch;
mod head;
mod working_copy;

use working_copy::WorkingCopyError;

/// Set when a client asks the daemon to stop (`memo down`): this process
/// runs one daemon, so one flag is enough.
static STOP: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Asks the daemon of this process to stop cleanly, as SIGTERM does.
pub fn request_stop() {
    STOP.notify_one();
}

/// Set once the daemon's first scan of the working copy is done.
static SCANNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the daemon of this process has scanned its working copy once
/// (`memo status` says so; `memo share` and `memo up` wait for it on a
/// terminal).
pub fn scanned() -> bool {
    SCANNED.load(std::sync::atomic::Ordering::Relaxed)
}

/// How often the addresses of connected peers are written down.
pub const REMEMBER_INTERVAL: Duration = Duration::from_secs(10);

/// Where a daemon listens when nothing else is said: every interface, a
/// port the system picks (then kept across restarts).
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/0";

/// Why the daemon could not start, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    #[error("this working copy is not shared yet: run `memo share` here, or `memo join <ticket>`")]
    NotShared,
    #[error("a daemon is already running for this working copy (its socket is {0})")]
    AlreadyRunning(PathBuf),
    #[error(transparent)]
    Membership(#[from] MembershipError),
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("the working copy's base commit: {0}")]
    Base(String),
    #[error(transparent)]
    Objects(#[from] crate::objects::ObjectsError),
    #[error(transparent)]
    WorkingCopy(#[from] WorkingCopyError),
    #[error("control socket {path}: {source}")]
    Socket { path: PathBuf, source: std::io::Error },
}

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Where to listen; empty: where it listened last, else [`DEFAULT_LISTEN`].
    pub listen: Vec<Multiaddr>,
    /// mDNS discovery, asking this often; `None`: off.
    pub mdns: Option<Duration>,
    /// How often to ask each peer for what we lack.
    pub catchup_interval: Duration,
    /// Files larger than this are binary files, replicated whole, even
    /// when they are UTF-8 ([`DiskConfig::max_text_bytes`]).
    pub max_text_bytes: usize,
}

/// Runs the daemon for the working copy at `paths` until SIGINT or SIGTERM.
pub async fn run(paths: &NodePaths, options: DaemonOptions) -> Result<(), DaemonError> {
    if control::is_running(&paths.socket) {
        return Err(DaemonError::AlreadyRunning(paths.socket.clone()));
    }
    let mut membership = Membership::load(&paths.membership)?.ok_or(DaemonError::NotShared)?;
    let new_replica = !paths.store.exists();
    let node = start(paths, &options, &mut membership).await?;
    let listener = bind(&paths.socket)?;
    let disk = DiskConfig::default()
        .with_state_file(&paths.disk_state)
        .with_max_text_bytes(options.max_text_bytes)
        .with_new_replica(new_replica);
    let base = git2::Oid::from_bytes(&membership.base).ok();
    let working_copy = working_copy::keep_in_step(NodeHandle::clone(&node), paths.working_copy.clone(), disk, base);
    tracing::info!(working_copy = %membership.name, socket = %paths.socket.display(), "daemon running");
    let result = tokio::select! {
        result = serve(&node, &mut membership, listener, paths) => result,
        result = working_copy => result.map_err(DaemonError::from),
        _ = stop_signal() => Ok(()),
        _ = STOP.notified() => {
            tracing::info!("asked to stop");
            Ok(())
        }
    };
    if let Err(error) = remember_peers(&node, &mut membership, paths).await {
        tracing::warn!(%error, "the peers' addresses were not written down");
    }
    let stopped = node.shutdown().await;
    // Last, so that `memo down` returns once the store is closed.
    let _ = std::fs::remove_file(&paths.socket);
    stopped?;
    result
}

/// Opens the replica and starts its node, then dials the remembered peers.
async fn start(paths: &NodePaths, options: &DaemonOptions, membership: &mut Membership) -> Result<Node, DaemonError> {
    let keypair = net::load_or_create_identity(&paths.identity)?;
    let configure = |listen: Vec<Multiaddr>| {
        let mut config =
            NodeConfig::new(keypair.clone(), membership.secret.clone(), membership.working_copy.to_vec(), listen);
        config.mdns = options.mdns;
        config.catchup_interval = options.catchup_interval;
        config.repository = Some(paths.working_copy.clone());
        config
    };
    let default: Vec<Multiaddr> = vec![DEFAULT_LISTEN.parse().expect("a valid multiaddr")];
    let wanted = match (&options.listen, &membership.listen) {
        (given, _) if !given.is_empty() => given.clone(),
        (_, last) if !last.is_empty() => last.clone(),
        _ => default.clone(),
    };
    let base = base_of(paths, membership)?;
    let open = || Replica::open(&paths.store, base.clone());
    let node = match Node::start(open()?, configure(wanted.clone())).await {
        Ok(node) => node,
        // The port of last time is taken: any port will do.
        Err(NetError::Listen { addr, reason }) if options.listen.is_empty() && wanted != default => {
            tracing::warn!(%addr, %reason, "cannot listen where we did last time: taking a new port");
            Node::start(open()?, configure(default)).await?
        }
        Err(error) => return Err(error.into()),
    };
    let listen = with_ports(&wanted, node.addresses());
    if listen != membership.listen {
        membership.listen = listen;
        membership.save(&paths.membership)?;
    }
    for peer in &membership.peers {
        if let Err(error) = node.dial(peer.clone()).await {
            tracing::warn!(%peer, %error, "cannot dial a remembered peer");
        }
    }
    Ok(node)
}

/// The working copy's base: the commit its membership names, the one the
/// working copy started from (HEAD moves on; the base stays), read from
/// this clone's repository.
fn base_of(paths: &NodePaths, membership: &Membership) -> Result<Arc<dyn BaseSnapshot>, DaemonError> {
    if membership.base.is_empty() {
        return Ok(Arc::new(EmptyBase));
    }
    let commit = git2::Oid::from_bytes(&membership.base).map_err(|e| DaemonError::Base(e.to_string()))?;
    Ok(Arc::new(GitBase::open(&paths.working_copy, commit)?))
}

/// How long `memo join` looks for a peer that has the commit it lacks.
pub const JOIN_FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// Fetches `commits` (with what they need) from a peer of `membership`
/// into the clone at `paths`, before any daemon runs there: for `memo
/// join` in a clone that lacks the working copy's base.
pub fn fetch_commits(
    paths: &NodePaths,
    membership: &Membership,
    options: &DaemonOptions,
    commits: &[git2::Oid],
) -> Result<(), DaemonError> {
    let keypair = net::load_or_create_identity(&paths.identity)?;
    let want: Vec<Vec<u8>> = commits.iter().map(|c| c.as_bytes().to_vec()).collect();
    let request = crate::objects::Request { want: want.clone(), have: crate::objects::haves(&paths.working_copy) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NetError::Setup(e.to_string()))?;
    let fetch =
        net::fetch_once(keypair, &membership.secret, &membership.peers, options.mdns, request, JOIN_FETCH_TIMEOUT);
    let pack = runtime.block_on(fetch)?;
    Ok(crate::objects::unpack(&paths.working_copy, &pack, &want)?)
}

/// `wanted` with each port 0 replaced by the port the node got.
fn with_ports(wanted: &[Multiaddr], got: &[Multiaddr]) -> Vec<Multiaddr> {
    let port = got.iter().flat_map(|a| a.iter()).find_map(|p| match p {
        Protocol::Tcp(port) => Some(port),
        _ => None,
    });
    let fix = |address: &Multiaddr| -> Multiaddr {
        address
            .iter()
            .map(|p| match (p, port) {
                (Protocol::Tcp(0), Some(port)) => Protocol::Tcp(port),
                (p, _) => p,
            })
            .collect()
    };
    wanted.iter().map(fix).collect()
}

/// Binds the control socket, replacing a stale one (no daemon answers
/// it: checked by the caller), readable by its owner only.
fn bind(path: &std::path::Path) -> Result<UnixListener, DaemonError> {
    let error = |source| DaemonError::Socket { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(error(e)),
        _ => {}
    }
    let listener = UnixListener::bind(path).map_err(error)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(error)?;
    Ok(listener)
}

/// Serves control connections, and remembers peers' addresses, until the
/// node stops.
async fn serve(
    node: &Node,
    membership: &mut Membership,
    listener: UnixListener,
    paths: &NodePaths,
) -> Result<(), DaemonError> {
    let mut remember = tokio::time::interval(REMEMBER_INTERVAL);
    let mut clients = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (node, membership) = (NodeHandle::clone(node), membership.clone());
                    clients.spawn(crate::rpc::serve(stream, node, membership));
                }
                Err(error) => tracing::warn!(%error, "control socket: accept failed"),
            },
            _ = remember.tick() => remember_peers(node, membership, paths).await?,
            Some(_) = clients.join_next() => {}
        }
    }
}

/// Writes down where connected peers listen, if anything is new.
async fn remember_peers(node: &Node, membership: &mut Membership, paths: &NodePaths) -> Result<(), DaemonError> {
    let status = node.status().await?;
    let mut changed = false;
    for peer in status.peers.iter().filter(|p| p.connected) {
        for address in &peer.addresses {
            changed |= membership.remember(address.clone().with(Protocol::P2p(peer.peer)));
        }
    }
    if changed {
        membership.save(&paths.membership)?;
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
        _ = terminate.recv() => tracing::info!("terminated: stopping"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_picked_by_the_system_is_kept_for_next_time() {
        let wanted: Vec<Multiaddr> = vec!["/ip4/0.0.0.0/tcp/0".parse().unwrap()];
        let got: Vec<Multiaddr> = vec!["/ip4/127.0.0.1/tcp/4242".parse().unwrap()];
        assert_eq!(with_ports(&wanted, &got), vec!["/ip4/0.0.0.0/tcp/4242".parse::<Multiaddr>().unwrap()]);
    }
}
