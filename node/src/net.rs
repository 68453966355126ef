//! The network: live operations between nodes by libp2p gossipsub,
//! catch-up of what gossip missed, discovery, access control and bounds.
//!
//! What exists:
//! - a persistent node identity ([`load_or_create_identity`]): an ed25519
//!   keypair in a file next to the store ([`identity_path`]), made on first
//!   use with mode 0600;
//! - the transport: TCP, then a libp2p private network (pnet), then Noise
//!   and Yamux (no QUIC: shared/BUILD.md; pnet needs a stream transport
//!   anyway), built by [`new_swarm`];
//! - access control: a working copy's members share a 32-byte
//!   [`WorkingCopySecret`] ([`NodeConfig::secret`]). The pnet pre-shared
//!   key is SHA-256 over `"memo/pnet/v1"` and the secret
//!   ([`WorkingCopySecret::pnet_key`]), not the raw secret, so the secret
//!   can key other things later. Every byte on a connection is encrypted
//!   with it before Noise runs; a node with another key (or none) fails the
//!   handshake, so it never connects: it cannot subscribe, fetch by
//!   catch-up, or publish, and learns nothing of the content. What this does
//!   not protect against: a member who leaks the secret (anyone with it is
//!   a member; there is no revocation short of a new working copy); traffic
//!   analysis (who talks to whom, when and how much, and that the peers
//!   speak pnet, are visible on the wire); a member that misbehaves (it can
//!   send anything, so gossip and catch-up validation still apply, and
//!   gossip signatures still name the sender);
//! - the behaviour ([`Behaviour`]): gossipsub with signed messages
//!   ([`gossipsub::MessageAuthenticity::Signed`], strict validation), a
//!   content-addressed message id (SHA-256 over topic and payload), and
//!   application validation: a message is forwarded only once it decodes
//!   as a [`TreeOp`] and passes [`memo_core::WorkTree::check`]; anything
//!   else is rejected with a log line. Identify runs beside it, the
//!   catch-up protocol ([`crate::catchup`], `/memo/catchup/1`), and a block
//!   list of banned peers;
//! - three topics per working copy, derived from its id by SHA-256, never
//!   its plain name: operations ([`topic_for`]), announcements of
//!   operations too large to gossip ([`announce_topic_for`]), and presence
//!   ([`presence_topic_for`]: editors' selections, opaque bytes of up to
//!   [`MAX_PRESENCE`] passed to [`NodeHandle::presence`], neither stored
//!   nor caught up);
//! - [`Node`]: a task that owns a [`Replica`], listens, dials, publishes
//!   the acknowledged operations of each local change (retrying while no
//!   peer is subscribed yet), and takes valid operations from peers through
//!   [`Replica::receive`] (stored, then applied; out-of-order ones wait in
//!   the tree's causal buffer). A gossiped operation that cannot apply yet
//!   makes the node ask its sender for catch-up at once, rather than at the
//!   next tick;
//! - catch-up (anti-entropy): on every new connection (both sides) and
//!   every [`NodeConfig::catchup_interval`] ([`CATCHUP_INTERVAL`] by
//!   default) a node sends each connected peer its version (the tree's,
//!   plus what it stored without a gap but cannot apply yet), one request
//!   per peer at a time; the peer answers with the stored operations that
//!   version lacks, in batches ([`memo_core::protocol::catchup`]), and
//!   `more` makes the requester ask again at once if the batch moved it
//!   on. Any peer serves any operation it holds, so a line A - B - C
//!   converges through B. Serving reads the store on a blocking thread
//!   ([`crate::store::StoreReader`], at most [`SERVING_LIMIT`] at once);
//!   the task sends the answer;
//! - large operations: gossipsub refuses messages over 64 KiB, so an
//!   operation encoded in more than [`catchup::MAX_GOSSIP_OP`] is announced
//!   instead ([`catchup::Announcement`]: its units), and whoever lacks it
//!   asks the author (or the relay) at once. A catch-up response carries
//!   one operation of up to [`memo_core::protocol::catchup::MAX_OP_BYTES`]
//!   (65 MiB: the largest content an operation may hold, and room for the
//!   rest);
//! - bounds: catch-up frames over [`catchup::MAX_REQUEST`] /
//!   [`catchup::MAX_RESPONSE`] are refused before allocation, and a frame's
//!   buffer grows only as its bytes arrive; a peer gets a token bucket of
//!   requests ([`CATCHUP_BURST`], [`CATCHUP_RATE`] a second) and is told
//!   [`crate::catchup::Response::Busy`] past it (or while
//!   [`SERVING_LIMIT`] requests are being served); [`CATCHUP_STREAMS`]
//!   streams per connection bound the responses held for one peer; the
//!   causal buffer holds at most [`NodeConfig::pending_bounds`]
//!   ([`memo_core::causal::Bounds::DEFAULT`]), and what does not fit is
//!   neither stored nor applied (catch-up brings it later, in order); the
//!   outbox holds [`OUTBOX_LIMIT`] messages;
//! - garbage: a peer that sends what no honest peer sends (see
//!   [`crate::strikes`]) gets a strike for each; at the limit it is
//!   disconnected and refused for [`crate::strikes::BAN_DURATION`], and the
//!   node keeps serving the others. Failures are logged and the node goes
//!   on.
//!
//! - discovery: peers at given addresses (a ticket's, or remembered by the
//!   daemon: [`NodeHandle::dial`]), found on the LAN by mDNS
//!   ([`NodeConfig::mdns`], off by default and in every test on the root
//!   namespace: NETWORK.md), or connecting to us. The peer book
//!   (module `peers`) keeps how each was found, where it listens (identify),
//!   its version as of its last catch-up request, and dials a lost peer
//!   again with a backoff; ping closes connections over a cut link so that
//!   this happens. [`NodeHandle::status`] reports it all, with how far
//!   apart we are in units of work each side lacks.
//!
//! Left out:
//! - a peer's version is known only as of its last catch-up request (every
//!   [`NodeConfig::catchup_interval`]), so `memo peers` may lag that much;
//!   the store's reads for serving hold whole batches (up to one 65 MiB
//!   operation) in memory;
//! - a large operation reaches peers that are not connected to its author
//!   by the periodic catch-up only (the relay may not have fetched it yet
//!   when asked); splitting large text inserts into several small
//!   operations (so that they gossip) is not done;
//! - storage writes off the async threads: storing a received operation
//!   (a synced RocksDB write) still blocks the node's task, because the
//!   tree must not apply it before it is on disk and the next message must
//!   see it stored; catch-up serving (reads) runs on blocking threads.

use crate::catchup::{self, Announcement, Request, Response, MAX_GOSSIP_OP};
use crate::replica::ChangeError;
use crate::store::OpKey;
use crate::strikes::{Strikes, BAN_DURATION};
use crate::{Replica, StoreError};
use futures::StreamExt;
use libp2p::allow_block_list::{self, BlockedPeers};
use libp2p::core::{upgrade, Transport};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId, PublishError, TopicHash};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, mdns, noise, ping, tcp, yamux, Multiaddr, PeerId, Swarm};
use memo_core::causal::Bounds;
use memo_core::tree::TreeApplyError;
use memo_core::{IdRange, TreeOp, VersionVector, WorkTree};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

mod objects;
mod peers;

pub use objects::{fetch_once, OBJECTS_TIMEOUT};
use peers::PeerBook;
pub use peers::{Discovery, PeerStatus};

/// The identify protocol's name for Memo nodes.
pub const PROTOCOL_VERSION: &str = "/memo/0.1.0";

/// How many published messages wait for a subscribed peer at most; older
/// ones are dropped (catch-up fetches them).
pub const OUTBOX_LIMIT: usize = 10_000;

/// Presence messages a reader of [`NodeHandle::presence`] may fall behind
/// by before it loses the oldest.
pub const PRESENCE_QUEUE: usize = 256;

/// How often unsent operations are published again.
const RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// How often lost peers are considered for a new dial (the peer book decides
/// which are due).
const REDIAL_INTERVAL: Duration = Duration::from_secs(1);

/// How often mDNS asks the LAN who is there, by default (libp2p's own
/// default of five minutes makes discovery look broken: NETWORK.md).
pub const MDNS_INTERVAL: Duration = Duration::from_secs(10);

/// How often a node asks each connected peer for what it lacks, by default.
pub const CATCHUP_INTERVAL: Duration = Duration::from_secs(5);

/// How long a connection's handshake may take, by default.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Catch-up requests a peer may make in a burst before it is told
/// [`Response::Busy`]...
pub const CATCHUP_BURST: f64 = 64.0;

/// ...and how many a second it regains (a token bucket per peer).
pub const CATCHUP_RATE: f64 = 32.0;

/// Catch-up streams open at once on one connection, either way. A request
/// is small ([`catchup::MAX_REQUEST`]); what this bounds is the responses
/// we build for a peer and hold until it reads them, each up to
/// [`catchup::MAX_RESPONSE`] (one large operation).
pub const CATCHUP_STREAMS: usize = 4;

/// How long a catch-up request may take, answer included: long enough for
/// the largest response ([`catchup::MAX_RESPONSE`], 65 MiB) on a slow LAN.
pub const CATCHUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Catch-up requests served at once (store reads on blocking threads);
/// past it, a peer is told [`Response::Busy`].
pub const SERVING_LIMIT: usize = 8;

/// Why the network could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    #[error("node identity {path}: {source}")]
    Identity { path: PathBuf, source: std::io::Error },
    #[error("node identity {path} does not decode: {reason}")]
    IdentityDecode { path: PathBuf, reason: String },
    #[error("network set-up: {0}")]
    Setup(String),
    #[error("listening on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("dialing {addr}: {reason}")]
    Dial { addr: Multiaddr, reason: String },
    /// The node's task has stopped (after an error it logged, or a shutdown).
    #[error("the node has stopped")]
    Stopped,
    /// An operation could not be stored: the node stopped.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a node keeps its identity: `node.key` beside the store directory.
pub fn identity_path(store: &Path) -> PathBuf {
    let parent = store.parent().unwrap_or(Path::new("."));
    parent.join("node.key")
}

/// Loads the node's keypair from `path`, or makes an ed25519 one and writes
/// it there (mode 0600, synced) if the file does not exist.
pub fn load_or_create_identity(path: &Path) -> Result<Keypair, NetError> {
    let io_error = |source| NetError::Identity { path: path.to_owned(), source };
    match std::fs::read(path) {
        Ok(bytes) => Keypair::from_protobuf_encoding(&bytes)
            .map_err(|e| NetError::IdentityDecode { path: path.to_owned(), reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            let bytes = keypair
                .to_protobuf_encoding()
                .map_err(|e| NetError::IdentityDecode { path: path.to_owned(), reason: e.to_string() })?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_error)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(io_error)?;
            file.write_all(&bytes).map_err(io_error)?;
            file.sync_all().map_err(io_error)?;
            tracing::info!(path = %path.display(), peer = %keypair.public().to_peer_id(), "new node identity");
            Ok(keypair)
        }
        Err(e) => Err(io_error(e)),
    }
}

/// The gossipsub topic of a working copy: hex of SHA-256 of
/// `"memo/topic/v1"` followed by the working copy's id.
pub fn topic_for(working_copy: &[u8]) -> IdentTopic {
    let digest = Sha256::new().chain_update(b"memo/topic/v1").chain_update(working_copy).finalize();
    IdentTopic::new(hex(&digest))
}

/// The working copy's topic for [`Announcement`]s of operations too large
/// to gossip: its operation topic ([`topic_for`]) followed by `/announce`.
pub fn announce_topic_for(working_copy: &[u8]) -> IdentTopic {
    IdentTopic::new(format!("{}/announce", topic_for(working_copy)))
}

/// The working copy's topic for presence (editors' selections): its
/// operation topic followed by `/presence`. Presence is ephemeral: not
/// stored, not caught up, dropped by a reader that lags.
pub fn presence_topic_for(working_copy: &[u8]) -> IdentTopic {
    IdentTopic::new(format!("{}/presence", topic_for(working_copy)))
}

/// A presence message is refused beyond this size.
pub const MAX_PRESENCE: usize = 16 * 1024;

/// A presence message, from a peer or from this node: opaque bytes here
/// (their meaning is the editor RPC's: [`crate::rpc`]).
#[derive(Debug, Clone)]
pub struct Presence {
    pub from: PeerId,
    pub data: Vec<u8>,
}

use memo_core::hex::encode as hex;

/// A message's id: SHA-256 of its topic and payload, so that every peer
/// computes the same id for the same operation whoever relays it.
fn message_id(message: &gossipsub::Message) -> MessageId {
    let digest = Sha256::new()
        .chain_update(message.topic.as_str().as_bytes())
        .chain_update([0])
        .chain_update(&message.data)
        .finalize();
    MessageId::from(digest.to_vec())
}

/// The node's libp2p behaviour.
#[derive(NetworkBehaviour)]
#[allow(missing_debug_implementations)]
pub struct Behaviour {
    pub gossipsub: gossipsub::Behaviour,
    pub identify: identify::Behaviour,
    pub catchup: request_response::Behaviour<catchup::Codec>,
    pub objects: request_response::Behaviour<crate::objects::Codec>,
    /// Closes connections whose peer stopped answering (a cut link), so
    /// that the peer is dialed again once it can be reached.
    pub ping: ping::Behaviour,
    pub mdns: Toggle<mdns::tokio::Behaviour>,
    /// Peers banned for sending garbage ([`crate::strikes`]): their
    /// connections are closed and refused.
    pub blocked: allow_block_list::Behaviour<BlockedPeers>,
}

impl Behaviour {
    /// Gossipsub (signed, content-addressed ids, validated by the
    /// application), identify, catch-up ([`catchup`]), ping, and mDNS
    /// asking every `mdns` (none: off).
    pub fn new(keypair: &Keypair, mdns: Option<Duration>) -> Result<Behaviour, NetError> {
        let config = gossipsub::ConfigBuilder::default()
            .validate_messages()
            .message_id_fn(message_id)
            .build()
            .map_err(|e| NetError::Setup(e.to_string()))?;
        let gossipsub = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(keypair.clone()), config)
            .map_err(|e| NetError::Setup(e.to_string()))?;
        let identify = identify::Behaviour::new(identify::Config::new(PROTOCOL_VERSION.into(), keypair.public()));
        let catchup = request_response::Behaviour::with_codec(
            catchup::Codec::default(),
            [(catchup::PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default()
                .with_max_concurrent_streams(CATCHUP_STREAMS)
                .with_request_timeout(CATCHUP_TIMEOUT),
        );
        let mdns = match mdns {
            Some(query_interval) => {
                let config = mdns::Config { query_interval, ..Default::default() };
                let peer = keypair.public().to_peer_id();
                Some(mdns::tokio::Behaviour::new(config, peer).map_err(|e| NetError::Setup(format!("mDNS: {e}")))?)
            }
            None => None,
        };
        let objects = request_response::Behaviour::with_codec(
            crate::objects::Codec::default(),
            [(crate::objects::PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default().with_request_timeout(objects::OBJECTS_TIMEOUT),
        );
        let ping = ping::Behaviour::new(ping::Config::new());
        let blocked = allow_block_list::Behaviour::default();
        Ok(Behaviour { gossipsub, identify, catchup, objects, ping, mdns: mdns.into(), blocked })
    }
}

/// A working copy's secret: 32 bytes shared by its members (by the
/// ticket). Only nodes that hold it can connect (see the module docs).
/// `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct WorkingCopySecret([u8; 32]);

impl WorkingCopySecret {
    pub fn new(bytes: [u8; 32]) -> WorkingCopySecret {
        WorkingCopySecret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The libp2p pre-shared key: SHA-256 over `"memo/pnet/v1"` and the
    /// secret, never the raw secret (which may key other things later).
    pub fn pnet_key(&self) -> PreSharedKey {
        let digest = Sha256::new().chain_update(b"memo/pnet/v1").chain_update(self.0).finalize();
        PreSharedKey::new(digest.into())
    }
}

impl std::fmt::Debug for WorkingCopySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkingCopySecret(..)")
    }
}

/// A swarm of the node's [`Behaviour`] over the private transport: TCP,
/// then libp2p pnet keyed by [`WorkingCopySecret::pnet_key`], then Noise
/// and Yamux. A peer without the same secret fails the handshake, or
/// stalls in it (its garbled Noise frames may announce more bytes than
/// come) until `handshake_timeout` ([`HANDSHAKE_TIMEOUT`] by default). No
/// mDNS: [`Node::start`] builds a swarm that has it, if configured.
pub fn new_swarm(
    keypair: Keypair,
    secret: &WorkingCopySecret,
    handshake_timeout: Duration,
) -> Result<Swarm<Behaviour>, NetError> {
    build_swarm(keypair, secret, handshake_timeout, None)
}

fn build_swarm(
    keypair: Keypair,
    secret: &WorkingCopySecret,
    handshake_timeout: Duration,
    mdns: Option<Duration>,
) -> Result<Swarm<Behaviour>, NetError> {
    let behaviour = Behaviour::new(&keypair, mdns)?;
    let psk = secret.pnet_key();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|key| {
            let noise = noise::Config::new(key)?;
            let transport = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
                .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
                .upgrade(upgrade::Version::V1Lazy)
                .authenticate(noise)
                .multiplex(yamux::Config::default());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(transport)
        })
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_behaviour(|_| behaviour)
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .with_connection_timeout(handshake_timeout)
        .build();
    Ok(swarm)
}

/// How a [`Node`] starts.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub keypair: Keypair,
    /// The working copy's secret: only nodes with the same one connect.
    pub secret: WorkingCopySecret,
    /// The working copy's id: the topic derives from it.
    pub working_copy: Vec<u8>,
    /// Addresses to listen on (tests: `/ip4/127.0.0.1/tcp/0`).
    pub listen: Vec<Multiaddr>,
    /// How often to ask each connected peer for what we lack (besides on
    /// every new connection); [`CATCHUP_INTERVAL`] by default.
    pub catchup_interval: Duration,
    /// How long a connection's handshake (pnet, Noise, Yamux) may take;
    /// [`HANDSHAKE_TIMEOUT`] by default.
    pub handshake_timeout: Duration,
    /// mDNS discovery on the LAN, asking this often; `None` (the default)
    /// turns it off. Never on in the machine's own network namespace in
    /// tests: it announces the node on every interface (NETWORK.md).
    pub mdns: Option<Duration>,
    /// How much may wait in the tree's causal buffer ([`Bounds::DEFAULT`]
    /// by default); what does not fit is fetched later by catch-up.
    pub pending_bounds: Bounds,
    /// The clone whose Git objects peers may fetch ([`crate::objects`]);
    /// `None` (the default): none.
    pub repository: Option<PathBuf>,
}

impl NodeConfig {
    /// A configuration with the default catch-up interval.
    pub fn new(
        keypair: Keypair,
        secret: WorkingCopySecret,
        working_copy: Vec<u8>,
        listen: Vec<Multiaddr>,
    ) -> NodeConfig {
        NodeConfig {
            keypair,
            secret,
            working_copy,
            listen,
            catchup_interval: CATCHUP_INTERVAL,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            mdns: None,
            pending_bounds: Bounds::DEFAULT,
            repository: None,
        }
    }
}

type Local = Box<dyn FnOnce(&mut Replica) -> Vec<TreeOp> + Send>;
type Query = Box<dyn FnOnce(&Replica) + Send>;

enum Command {
    Local(Local),
    Query(Query),
    Dial(Multiaddr, oneshot::Sender<Result<(), NetError>>),
    SubscribedPeers(oneshot::Sender<Vec<PeerId>>),
    ConnectedPeers(oneshot::Sender<Vec<PeerId>>),
    Status(oneshot::Sender<NodeStatus>),
    Presence(Vec<u8>),
    Receive(Vec<TreeOp>, oneshot::Sender<Received>),
    FetchObjects(crate::objects::Request, oneshot::Sender<Result<Vec<u8>, crate::objects::ObjectsError>>),
}

/// What became of operations handed to [`NodeHandle::receive_all`] (from
/// a bundle): how many there were, how many were stored already, how many
/// the tree applied (now or from its causal buffer), and how many it
/// refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Received {
    pub operations: usize,
    pub known: usize,
    pub applied: usize,
    pub refused: usize,
}

/// A node's state, as `memo status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    #[serde(serialize_with = "peers::as_text")]
    pub peer_id: PeerId,
    /// The addresses it listens on.
    #[serde(serialize_with = "peers::all_as_text")]
    pub listening: Vec<Multiaddr>,
    /// The replica's id.
    pub replica: String,
    /// Units of work held, in all (the sum of the version vector).
    pub units: u64,
    /// Operations in the store.
    pub operations: u64,
    pub peers: Vec<PeerStatus>,
}

/// A running node: a task that owns the replica and the swarm. Dropping
/// the `Node` stops the task (after a snapshot); [`Node::shutdown`] does
/// so and waits. It dereferences to a [`NodeHandle`], which drives the
/// task and may be cloned (a handle that outlives its node gets
/// [`NetError::Stopped`]).
#[derive(Debug)]
pub struct Node {
    handle: NodeHandle,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), NetError>>,
}

/// Drives a [`Node`]'s task: cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    peer_id: PeerId,
    addresses: Vec<Multiaddr>,
    commands: mpsc::Sender<Command>,
    version: watch::Receiver<VersionVector>,
    presence: broadcast::Sender<Presence>,
}

impl std::ops::Deref for Node {
    type Target = NodeHandle;

    fn deref(&self) -> &NodeHandle {
        &self.handle
    }
}

impl Node {
    /// Starts a node on the current tokio runtime: listens on the
    /// configured addresses (waiting until each has one), subscribes to the
    /// working copy's topic and spawns the task.
    pub async fn start(mut replica: Replica, config: NodeConfig) -> Result<Node, NetError> {
        replica.set_pending_bounds(config.pending_bounds);
        let mut swarm = build_swarm(config.keypair, &config.secret, config.handshake_timeout, config.mdns)?;
        let topic = topic_for(&config.working_copy);
        let announce = announce_topic_for(&config.working_copy);
        let presence = presence_topic_for(&config.working_copy);
        for topic in [&topic, &announce, &presence] {
            swarm.behaviour_mut().gossipsub.subscribe(topic).map_err(|e| NetError::Setup(e.to_string()))?;
        }
        let mut listeners = Vec::new();
        for addr in &config.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| NetError::Listen { addr: addr.clone(), reason: e.to_string() })?;
            listeners.push(id);
        }
        let peer_id = *swarm.local_peer_id();
        let mut addresses = Vec::new();
        while !listeners.is_empty() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { listener_id, address } => {
                    listeners.retain(|id| *id != listener_id);
                    addresses.push(address.with(Protocol::P2p(peer_id)));
                }
                SwarmEvent::ListenerClosed { reason: Err(e), .. } | SwarmEvent::ListenerError { error: e, .. } => {
                    return Err(NetError::Setup(format!("listener failed: {e}")));
                }
                _ => {}
            }
        }
        tracing::info!(%peer_id, ?addresses, topic = %topic, "node listening");
        let (commands, receiver) = mpsc::channel(64);
        let (version, watching) = watch::channel(replica.tree().version().clone());
        let (present, _) = broadcast::channel(PRESENCE_QUEUE);
        let task = NodeTask {
            swarm,
            replica,
            topic: topic.hash(),
            announce: announce.hash(),
            presence: (presence.hash(), present.clone()),
            outbox: VecDeque::new(),
            catchup_interval: config.catchup_interval,
            stored: VersionVector::new(),
            asking: HashMap::new(),
            again: HashSet::new(),
            buckets: HashMap::new(),
            book: PeerBook::default(),
            version,
            strikes: Strikes::default(),
            serving: JoinSet::new(),
            objects: objects::Objects::new(config.repository),
        };
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(task.run(receiver, stopped));
        let handle = NodeHandle { peer_id, addresses, commands, version: watching, presence: present };
        Ok(Node { handle, stop, task })
    }

    /// Stops the node: its task closes the replica (a snapshot) and ends.
    pub async fn shutdown(self) -> Result<(), NetError> {
        drop(self.stop);
        self.task.await.map_err(|e| NetError::Setup(format!("node task: {e}")))?
    }
}

impl NodeHandle {
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses this node listens on, each ending in `/p2p/<peer id>`.
    pub fn addresses(&self) -> &[Multiaddr] {
        &self.addresses
    }

    /// Dials a peer. An address that ends in `/p2p/<peer id>` is
    /// remembered: the peer is dialed again whenever the connection is lost.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Dial(addr, reply)).await?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Makes a local change (as [`Replica::change`]) and publishes its
    /// acknowledged operations. The outer error: the node has stopped.
    pub async fn change<E, F>(&self, make: F) -> Result<Result<Vec<TreeOp>, ChangeError<E>>, NetError>
    where
        E: std::error::Error + Send + 'static,
        F: FnOnce(&mut WorkTree) -> Result<Vec<TreeOp>, E> + Send + 'static,
    {
        self.with_replica(move |replica| {
            let result = replica.change(make);
            (result.as_ref().map(Clone::clone).unwrap_or_default(), result)
        })
        .await
    }

    /// Runs `work` on the replica in the node's task: it returns the
    /// acknowledged local operations it made (published, as by
    /// [`NodeHandle::change`]) and its result. For work that needs the
    /// store as well as the tree, such as keeping the disk in step.
    pub async fn with_replica<R, F>(&self, work: F) -> Result<R, NetError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Replica) -> (Vec<TreeOp>, R) + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let local: Local = Box::new(move |replica: &mut Replica| {
            let (ops, result) = work(replica);
            let _ = reply.send(result);
            ops
        });
        self.send(Command::Local(local)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// Fetches the Git objects `request` wants (a pack) from the connected
    /// peers, asking one after another until one has them.
    pub async fn fetch_objects(
        &self,
        request: crate::objects::Request,
    ) -> Result<Vec<u8>, crate::objects::ObjectsError> {
        let (reply, answer) = oneshot::channel();
        let stopped = |_| crate::objects::ObjectsError::Network(NetError::Stopped.to_string());
        self.send(Command::FetchObjects(request, reply)).await.map_err(stopped)?;
        answer.await.map_err(|_| crate::objects::ObjectsError::Network(NetError::Stopped.to_string()))?
    }

    /// Reads the replica's tree with `read`.
    pub async fn read<R: Send + 'static>(
        &self,
        read: impl FnOnce(&WorkTree) -> R + Send + 'static,
    ) -> Result<R, NetError> {
        let (reply, answer) = oneshot::channel();
        let query: Query = Box::new(move |replica: &Replica| {
            let _ = reply.send(read(replica.tree()));
        });
        self.send(Command::Query(query)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// Takes operations that did not come from a peer (a bundle's) as a
    /// catch-up batch is taken ([`Replica::receive_all`]: checked, stored
    /// in one synced write, applied; one already stored changes nothing).
    /// They are not gossiped: peers fetch them by catch-up. A store
    /// failure stops the node ([`NetError::Stopped`]).
    pub async fn receive_all(&self, ops: Vec<TreeOp>) -> Result<Received, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Receive(ops, reply)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// The peers known to be subscribed to the working copy's topic.
    pub async fn subscribed_peers(&self) -> Result<Vec<PeerId>, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::SubscribedPeers(reply)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// The peers this node has a connection with.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ConnectedPeers(reply)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// The tree's version, updated after every change, local or remote,
    /// that the tree applied: wakes whoever waits for an operation to land
    /// (a benchmark, the disk writer).
    pub fn watch_version(&self) -> watch::Receiver<VersionVector> {
        self.version.clone()
    }

    /// Sends a presence message to every peer (if any) and to this node's
    /// own [`NodeHandle::presence`] readers; at most [`MAX_PRESENCE`] bytes.
    pub async fn publish_presence(&self, data: Vec<u8>) -> Result<(), NetError> {
        self.send(Command::Presence(data)).await
    }

    /// Presence messages from now on, this node's own included; a reader
    /// that falls [`PRESENCE_QUEUE`] behind loses the oldest.
    pub fn presence(&self) -> broadcast::Receiver<Presence> {
        self.presence.subscribe()
    }

    /// The node's state: its addresses, what it holds, and its peers with
    /// how far apart we are.
    pub async fn status(&self) -> Result<NodeStatus, NetError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Status(reply)).await?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    async fn send(&self, command: Command) -> Result<(), NetError> {
        self.commands.send(command).await.map_err(|_| NetError::Stopped)
    }
}

/// A catch-up request served on a blocking thread: who asked, where the
/// answer goes, and the answer (or the store's failure).
type Served = (PeerId, ResponseChannel<Response>, Result<Response, StoreError>);

struct NodeTask {
    swarm: Swarm<Behaviour>,
    replica: Replica,
    topic: TopicHash,
    /// The topic of announcements of operations too large to gossip.
    announce: TopicHash,
    /// The presence topic, and where its messages go.
    presence: (TopicHash, broadcast::Sender<Presence>),
    /// Messages not yet published (no subscribed peer yet), each with its
    /// topic: encoded operations, or announcements of large ones.
    outbox: VecDeque<(TopicHash, Vec<u8>)>,
    catchup_interval: Duration,
    /// Operations stored without a gap beyond the tree's version (stored,
    /// but waiting in the causal buffer): counted in what we ask for, so
    /// that a batch that cannot apply yet is not fetched again.
    stored: VersionVector,
    /// The peers we await a catch-up response from: one request each.
    asking: HashMap<PeerId, OutboundRequestId>,
    /// Peers to ask again as soon as their current response is in: we
    /// learnt of something they hold after the request left.
    again: HashSet<PeerId>,
    /// Per peer: catch-up requests it may still make, and when counted.
    buckets: HashMap<PeerId, (f64, tokio::time::Instant)>,
    /// How each peer was found, where it listens, how far apart we are.
    book: PeerBook,
    /// The tree's version, for [`NodeHandle::watch_version`].
    version: watch::Sender<VersionVector>,
    /// Garbage each peer sent, and the peers banned for it.
    strikes: Strikes,
    /// Catch-up requests being served off the task ([`SERVING_LIMIT`]).
    serving: JoinSet<Served>,
    /// Git objects: packs built for peers, fetches for us.
    objects: objects::Objects,
}

impl NodeTask {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut stop: oneshot::Receiver<()>,
    ) -> Result<(), NetError> {
        let mut retry = tokio::time::interval(RETRY_INTERVAL);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut catchup = tokio::time::interval(self.catchup_interval);
        catchup.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut redial = tokio::time::interval(REDIAL_INTERVAL);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                _ = &mut stop => break Ok(()),
                Some(command) = commands.recv() => {
                    if let Err(error) = self.command(command) {
                        tracing::error!(%error, "node stopping");
                        break Err(error);
                    }
                }
                event = self.swarm.select_next_some() => {
                    if let Err(error) = self.event(event) {
                        tracing::error!(%error, "node stopping");
                        break Err(error);
                    }
                }
                Some(served) = self.serving.join_next(), if !self.serving.is_empty() => {
                    if let Err(error) = self.answer(served) {
                        tracing::error!(%error, "node stopping");
                        break Err(error);
                    }
                }
                Some(packed) = self.objects.packed() => self.packed(packed),
                _ = retry.tick(), if !self.outbox.is_empty() => self.flush(),
                _ = redial.tick() => self.dial_due(),
                _ = catchup.tick() => {
                    self.lift_bans();
                    let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                    for peer in peers {
                        self.ask(peer);
                    }
                }
            }
        };
        // The readers of requests being served share the store's database:
        // let them finish, so that it is closed when the replica is.
        while self.serving.join_next().await.is_some() {}
        let closed = self.replica.close();
        result?;
        Ok(closed?)
    }

    fn command(&mut self, command: Command) -> Result<(), NetError> {
        match command {
            Command::Receive(ops, reply) => {
                let mut received = Received { operations: ops.len(), ..Received::default() };
                for op in &ops {
                    received.known += usize::from(self.replica.store().contains(OpKey::of(op))?);
                }
                for result in self.receive_all(ops)? {
                    match result {
                        Ok(applied) => received.applied += applied,
                        Err(error) => {
                            tracing::warn!(%error, "imported operation refused");
                            received.refused += 1;
                        }
                    }
                }
                let _ = reply.send(received);
            }
            Command::Local(local) => {
                let ops = local(&mut self.replica);
                self.announce_version();
                for op in &ops {
                    self.queue(op);
                }
                self.flush();
            }
            Command::Query(query) => query(&self.replica),
            Command::FetchObjects(request, reply) => self.fetch_objects(request, reply),
            Command::Presence(data) if data.len() <= MAX_PRESENCE => {
                let _ = self.presence.1.send(Presence { from: *self.swarm.local_peer_id(), data: data.clone() });
                if let Err(error) = self.swarm.behaviour_mut().gossipsub.publish(self.presence.0.clone(), data) {
                    tracing::debug!(%error, "presence not published");
                }
            }
            Command::Presence(data) => tracing::warn!(bytes = data.len(), "presence too large: dropped"),
            Command::Dial(addr, reply) => {
                let result = match addr.iter().last() {
                    Some(Protocol::P2p(peer)) => {
                        self.book.found(peer, addr, Discovery::Address);
                        self.dial_due();
                        Ok(())
                    }
                    _ => self.swarm.dial(addr.clone()).map_err(|e| NetError::Dial { addr, reason: e.to_string() }),
                };
                let _ = reply.send(result);
            }
            Command::Status(reply) => {
                let have = self.have();
                let status = NodeStatus {
                    peer_id: *self.swarm.local_peer_id(),
                    listening: self.swarm.listeners().cloned().collect(),
                    replica: self.replica.tree().replica().to_string(),
                    units: have.total(),
                    operations: self.replica.store().len(),
                    peers: self.book.status(&have),
                };
                let _ = reply.send(status);
            }
            Command::ConnectedPeers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::SubscribedPeers(reply) => {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let peers = gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&self.topic))
                    .map(|(peer, _)| *peer)
                    .collect();
                let _ = reply.send(peers);
            }
        }
        Ok(())
    }

    /// Dials the peers whose redial is due ([`PeerBook::due`]).
    fn dial_due(&mut self) {
        for (peer, addresses) in self.book.due() {
            let options = DialOpts::peer_id(peer)
                .addresses(addresses)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(options) {
                tracing::debug!(%peer, %error, "not dialed");
            }
        }
    }

    /// Queues an acknowledged local operation for gossip: itself, or an
    /// announcement when it is too large to gossip (peers then fetch it).
    fn queue(&mut self, op: &TreeOp) {
        let encoded = op.encode();
        let message = match encoded.len() <= MAX_GOSSIP_OP {
            true => (self.topic.clone(), encoded),
            false => (self.announce.clone(), Announcement { range: op.range() }.encode()),
        };
        if self.outbox.len() >= OUTBOX_LIMIT {
            self.outbox.pop_front();
            tracing::warn!(limit = OUTBOX_LIMIT, "outbox full: the oldest unsent operation is dropped");
        }
        self.outbox.push_back(message);
    }

    /// Publishes what waits, in order, until a publish fails for want of
    /// peers (retried later).
    fn flush(&mut self) {
        while let Some((topic, message)) = self.outbox.front() {
            match self.swarm.behaviour_mut().gossipsub.publish(topic.clone(), message.clone()) {
                Ok(_) | Err(PublishError::Duplicate) => {}
                Err(PublishError::NoPeersSubscribedToTopic | PublishError::AllQueuesFull(_)) => return,
                Err(error) => tracing::warn!(%error, "an operation could not be published: dropped"),
            }
            self.outbox.pop_front();
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) -> Result<(), NetError> {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let (acceptance, failure) = match self.validate(propagation_source, &message) {
                    Ok(acceptance) => (acceptance, None),
                    Err(error) => (MessageAcceptance::Ignore, Some(error)),
                };
                if matches!(acceptance, MessageAcceptance::Reject) {
                    self.strike(propagation_source);
                }
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &propagation_source,
                    acceptance,
                );
                failure.map_or(Ok(()), |error| Err(error.into()))
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { peer_id, topic })) => {
                tracing::debug!(%peer_id, %topic, "peer subscribed");
                self.flush();
                Ok(())
            }
            SwarmEvent::Behaviour(BehaviourEvent::Catchup(event)) => self.catchup(event),
            SwarmEvent::Behaviour(BehaviourEvent::Objects(event)) => {
                self.objects_event(event);
                Ok(())
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, address) in found {
                    tracing::debug!(%peer, %address, "found by mDNS");
                    self.book.found(peer, address, Discovery::Mdns);
                }
                self.dial_due();
                Ok(())
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                for address in info.listen_addrs {
                    self.book.found(peer_id, address, Discovery::Incoming);
                }
                Ok(())
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                tracing::info!(%peer_id, address = %endpoint.get_remote_address(), "connected");
                self.book.connected(peer_id);
                self.ask(peer_id);
                Ok(())
            }
            SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                tracing::info!(%peer_id, ?cause, "disconnected");
                self.book.disconnected(peer_id);
                if !self.swarm.is_connected(&peer_id) {
                    self.asking.remove(&peer_id);
                    self.again.remove(&peer_id);
                    self.buckets.remove(&peer_id);
                }
                Ok(())
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::warn!(?peer_id, %error, "dial failed");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A presence message: passed on to this node's readers (who check what
    /// it says) if it is not too large.
    fn presence_from(&mut self, from: PeerId, message: &gossipsub::Message) -> MessageAcceptance {
        if message.data.len() > MAX_PRESENCE {
            tracing::warn!(%from, bytes = message.data.len(), "presence too large: rejected");
            return MessageAcceptance::Reject;
        }
        let author = message.source.unwrap_or(from);
        let _ = self.presence.1.send(Presence { from: author, data: message.data.clone() });
        MessageAcceptance::Accept
    }

    /// Checks a gossip message and, if it is a valid operation of our
    /// topic, stores and applies it; if it is a valid announcement, fetches
    /// what it announces. `Reject` means garbage (the caller strikes the
    /// peer). A store failure is returned: the node must stop.
    fn validate(&mut self, from: PeerId, message: &gossipsub::Message) -> Result<MessageAcceptance, StoreError> {
        let source = message.source.map(|p| p.to_string()).unwrap_or_default();
        if message.topic == self.announce {
            return Ok(self.announced(from, message));
        }
        if message.topic == self.presence.0 {
            return Ok(self.presence_from(from, message));
        }
        if message.topic != self.topic {
            tracing::warn!(%source, %from, topic = %message.topic, "message on a topic we did not join: rejected");
            return Ok(MessageAcceptance::Reject);
        }
        let op = match TreeOp::decode(&message.data) {
            Ok(op) => op,
            Err(error) => {
                tracing::warn!(%source, %from, %error, "message that is not an operation: rejected");
                return Ok(MessageAcceptance::Reject);
            }
        };
        if let Err(error) = self.replica.tree().check(&op) {
            tracing::warn!(%source, %from, %error, "invalid operation: rejected");
            return Ok(MessageAcceptance::Reject);
        }
        let range = op.range();
        if let Err(error) = self.receive(op)? {
            // Stored, but refused when applied (e.g. a create inside a
            // file after a concurrent change), or not stored for a full
            // causal buffer: valid, so forwarded.
            tracing::info!(%source, %from, %error, "operation refused by the tree");
        }
        // Waiting for what it depends on (or dropped from a full buffer):
        // the peer that sent it holds what we lack, most likely.
        if !self.replica.tree().version().contains_range(&range) {
            self.ask_soon(from);
        }
        Ok(MessageAcceptance::Accept)
    }

    /// An announcement of an operation too large to gossip: fetched at once
    /// from its author if we are connected to it, else from the peer that
    /// relayed the announcement (which may have fetched it by then).
    fn announced(&mut self, from: PeerId, message: &gossipsub::Message) -> MessageAcceptance {
        let announcement = match Announcement::decode(&message.data) {
            Ok(announcement) => announcement,
            Err(error) => {
                tracing::warn!(%from, %error, "announcement that does not decode: rejected");
                return MessageAcceptance::Reject;
            }
        };
        if !self.have().contains_range(&announcement.range) {
            let author = message.source.filter(|peer| self.swarm.is_connected(peer));
            self.ask_soon(author.unwrap_or(from));
        }
        MessageAcceptance::Accept
    }

    /// Stores and applies a peer's operation ([`Replica::receive`]) and
    /// notes it when it is stored. The inner error is a refusal (the
    /// operation may be stored all the same); the outer one a store
    /// failure, which stops the node.
    fn receive(&mut self, op: TreeOp) -> Result<Result<usize, TreeApplyError>, StoreError> {
        Ok(self.receive_all(vec![op])?.pop().expect("one result per operation"))
    }

    /// [`NodeTask::receive`] for a batch, stored in one write
    /// ([`Replica::receive_all`]).
    fn receive_all(&mut self, ops: Vec<TreeOp>) -> Result<Vec<Result<usize, TreeApplyError>>, StoreError> {
        let keys: Vec<(IdRange, OpKey)> = ops.iter().map(|op| (op.range(), OpKey::of(op))).collect();
        let results = self.replica.receive_all(ops)?;
        if results.iter().any(|result| matches!(result, Ok(applied) if *applied > 0)) {
            self.announce_version();
        }
        for ((range, key), result) in keys.into_iter().zip(&results) {
            if result.is_ok() || self.replica.store().contains(key)? {
                self.note_stored(range);
            }
        }
        Ok(results)
    }

    fn announce_version(&self) {
        let tree = self.replica.tree().version();
        self.version.send_if_modified(|version| {
            let changed = version != tree;
            if changed {
                version.clone_from(tree);
            }
            changed
        });
    }

    /// What we hold: the tree's version, and the operations stored
    /// beyond it without a gap.
    fn have(&self) -> VersionVector {
        let mut have = self.replica.tree().version().clone();
        have.join(&self.stored);
        have
    }

    fn note_stored(&mut self, range: IdRange) {
        let have = self.replica.tree().version().get(range.replica).max(self.stored.get(range.replica));
        if range.seq <= have && range.end() > have {
            self.stored.set(range.replica, range.end());
        }
    }

    /// Asks `peer` for what we lack, unless a request to it is under way.
    fn ask(&mut self, peer: PeerId) {
        if self.asking.contains_key(&peer) {
            return;
        }
        let request = Request::Have(self.have());
        let id = self.swarm.behaviour_mut().catchup.send_request(&peer, request);
        self.asking.insert(peer, id);
    }

    /// Asks `peer` now, or as soon as the request under way is answered
    /// (it left before we learnt that the peer holds more).
    fn ask_soon(&mut self, peer: PeerId) {
        if self.asking.contains_key(&peer) {
            self.again.insert(peer);
        } else {
            self.ask(peer);
        }
    }

    /// Counts a piece of garbage from `peer`, and bans it at the limit
    /// ([`crate::strikes`]): its connections close and it is refused.
    fn strike(&mut self, peer: PeerId) {
        if self.strikes.strike(peer, tokio::time::Instant::now()) {
            tracing::warn!(%peer, ban = ?BAN_DURATION, "peer keeps sending garbage: disconnected and banned");
            self.swarm.behaviour_mut().blocked.block_peer(peer);
        }
    }

    fn lift_bans(&mut self) {
        for peer in self.strikes.lift(tokio::time::Instant::now()) {
            tracing::info!(%peer, "ban over: the peer may connect again");
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
        }
    }

    /// Takes one more request from `peer` out of its bucket, if it has one.
    fn allow(&mut self, peer: PeerId) -> bool {
        let now = tokio::time::Instant::now();
        let (tokens, then) = self.buckets.entry(peer).or_insert((CATCHUP_BURST, now));
        *tokens = (*tokens + now.duration_since(*then).as_secs_f64() * CATCHUP_RATE).min(CATCHUP_BURST);
        *then = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn catchup(&mut self, event: request_response::Event<Request, Response>) -> Result<(), NetError> {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request: Request::Have(theirs), channel, .. } => {
                    self.book.their_version(peer, theirs.clone());
                    self.serve(peer, theirs, channel);
                    Ok(())
                }
                request_response::Message::Response { request_id, response } => {
                    if self.asking.get(&peer) == Some(&request_id) {
                        self.asking.remove(&peer);
                    }
                    self.take(peer, response)
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                tracing::warn!(%peer, %error, "catch-up request failed");
                if self.asking.get(&peer) == Some(&request_id) {
                    self.asking.remove(&peer);
                    self.again.remove(&peer);
                }
                if let request_response::OutboundFailure::Io(error) = &error {
                    self.strike_if_garbage(peer, error);
                }
                Ok(())
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::warn!(%peer, %error, "catch-up request not served");
                if let request_response::InboundFailure::Io(error) = &error {
                    self.strike_if_garbage(peer, error);
                }
                Ok(())
            }
            request_response::Event::ResponseSent { .. } => Ok(()),
        }
    }

    /// A catch-up stream failed: garbage from the peer if what it sent did
    /// not decode or was over the limit ([`std::io::ErrorKind::InvalidData`]
    /// from [`crate::frames`]), not if the connection merely broke.
    fn strike_if_garbage(&mut self, peer: PeerId, error: &std::io::Error) {
        if error.kind() == std::io::ErrorKind::InvalidData {
            self.strike(peer);
        }
    }

    /// Serves a catch-up request off the task: the store is read on a
    /// blocking thread, and [`NodeTask::answer`] sends what it found.
    fn serve(&mut self, peer: PeerId, theirs: VersionVector, channel: ResponseChannel<Response>) {
        if !self.allow(peer) || self.serving.len() >= SERVING_LIMIT {
            tracing::warn!(%peer, serving = self.serving.len(), "catch-up requests too fast: told to wait");
            self.respond(peer, channel, Response::Busy);
            return;
        }
        let (reader, ours) = (self.replica.store().reader(), self.have());
        self.serving.spawn_blocking(move || {
            let response = catchup::serve(&reader, &ours, &theirs);
            (peer, channel, response)
        });
    }

    /// Sends a response served off the task; a store failure (or a
    /// serving thread that panicked) stops the node.
    fn answer(&mut self, served: Result<Served, tokio::task::JoinError>) -> Result<(), NetError> {
        let (peer, channel, response) = served.map_err(|e| NetError::Setup(format!("catch-up serving: {e}")))?;
        self.respond(peer, channel, response?);
        Ok(())
    }

    fn respond(&mut self, peer: PeerId, channel: ResponseChannel<Response>, response: Response) {
        if self.swarm.behaviour_mut().catchup.send_response(channel, response).is_err() {
            tracing::debug!(%peer, "catch-up response not sent: the request was dropped");
        }
    }

    /// Takes a catch-up response: every operation through
    /// [`Replica::receive`]; asks again at once when the peer has more and
    /// this batch moved us on, or when we learnt meanwhile that it holds
    /// more. A response holding garbage is one strike against the peer.
    fn take(&mut self, peer: PeerId, response: Response) -> Result<(), NetError> {
        let (ops, more) = match response {
            Response::Ops { ops, more } => (ops, more),
            Response::Busy => {
                tracing::debug!(%peer, "catch-up peer busy: asking later");
                self.again.remove(&peer);
                return Ok(());
            }
        };
        let before = self.have();
        let (mut taken, mut refused, mut garbage) = (0usize, 0usize, 0usize);
        let mut valid = Vec::with_capacity(ops.len());
        for bytes in ops {
            match TreeOp::decode(&bytes).map(|op| (self.replica.tree().check(&op), op)) {
                Ok((Ok(()), op)) => valid.push(op),
                Ok((Err(error), _)) => {
                    tracing::warn!(%peer, %error, "catch-up sent an invalid operation: skipped");
                    garbage += 1;
                }
                Err(error) => {
                    tracing::warn!(%peer, %error, "catch-up sent something that is not an operation: skipped");
                    garbage += 1;
                }
            }
        }
        for result in self.receive_all(valid)? {
            match result {
                Ok(_) => taken += 1,
                Err(error) => {
                    tracing::info!(%peer, %error, "catch-up operation refused");
                    refused += 1;
                }
            }
        }
        if taken + refused + garbage > 0 {
            tracing::debug!(%peer, taken, refused, garbage, more, "catch-up batch");
        }
        if garbage > 0 {
            self.strike(peer);
        }
        let again = self.again.remove(&peer);
        if again || (more && self.have() != before) {
            self.ask(peer);
        }
        Ok(())
    }
}
