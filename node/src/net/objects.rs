//! Git objects between nodes, in the node's task: packs
//! ([`crate::objects`]) built off the task for the peers that ask, and
//! fetches for this node, which ask the connected peers one after another
//! until one has the commits. [`fetch_once`] does the same before a node
//! runs, for `memo join` in a clone that lacks the working copy's base.

use super::{build_swarm, Behaviour, BehaviourEvent, NetError, NodeTask, WorkingCopySecret};
use crate::objects::{self, ObjectsError, Request, Response};
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{mdns, Multiaddr, PeerId, Swarm};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// How long one peer may take to send a pack.
pub const OBJECTS_TIMEOUT: Duration = Duration::from_secs(300);

/// Packs built at once for peers (each reads the whole history it sends).
pub const PACKING_LIMIT: usize = 2;

type Packed = (PeerId, ResponseChannel<Response>, Result<Response, ObjectsError>);

/// What the node's task keeps for Git objects.
pub(super) struct Objects {
    /// The clone packs are built from; `None`: every request gets
    /// [`Response::Missing`].
    repository: Option<PathBuf>,
    packing: JoinSet<Packed>,
    fetching: HashMap<OutboundRequestId, Fetch>,
}

/// A fetch under way: the peers not asked yet, and who waits.
struct Fetch {
    request: Request,
    left: Vec<PeerId>,
    reply: oneshot::Sender<Result<Vec<u8>, ObjectsError>>,
}

impl Objects {
    pub(super) fn new(repository: Option<PathBuf>) -> Objects {
        Objects { repository, packing: JoinSet::new(), fetching: HashMap::new() }
    }

    /// The next pack built, when one is being built.
    pub(super) async fn packed(&mut self) -> Option<Result<Packed, tokio::task::JoinError>> {
        match self.packing.is_empty() {
            true => std::future::pending().await,
            false => self.packing.join_next().await,
        }
    }
}

impl NodeTask {
    /// Fetches what `request` wants from the connected peers, in turn.
    pub(super) fn fetch_objects(&mut self, request: Request, reply: oneshot::Sender<Result<Vec<u8>, ObjectsError>>) {
        let left: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        self.ask_objects(Fetch { request, left, reply });
    }

    fn ask_objects(&mut self, mut fetch: Fetch) {
        let Some(peer) = fetch.left.pop() else {
            let _ = fetch.reply.send(Err(ObjectsError::NoPeer));
            return;
        };
        let id = self.swarm.behaviour_mut().objects.send_request(&peer, fetch.request.clone());
        self.objects.fetching.insert(id, fetch);
    }

    pub(super) fn objects_event(&mut self, event: request_response::Event<Request, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => self.pack_for(peer, request, channel),
                request_response::Message::Response { request_id, response } => {
                    let Some(fetch) = self.objects.fetching.remove(&request_id) else { return };
                    match response {
                        Response::Pack(pack) => {
                            let _ = fetch.reply.send(Ok(pack));
                        }
                        Response::Missing => self.ask_objects(fetch),
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                tracing::warn!(%peer, %error, "Git objects request failed");
                if let request_response::OutboundFailure::Io(error) = &error {
                    self.strike_if_garbage(peer, error);
                }
                if let Some(fetch) = self.objects.fetching.remove(&request_id) {
                    self.ask_objects(fetch);
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::warn!(%peer, %error, "Git objects request not served");
                if let request_response::InboundFailure::Io(error) = &error {
                    self.strike_if_garbage(peer, error);
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Builds a pack for `peer` off the task (at most [`PACKING_LIMIT`] at
    /// once: past it, the peer hears [`Response::Missing`] and asks
    /// another, or again later).
    fn pack_for(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        let repository = match &self.objects.repository {
            Some(path) if self.objects.packing.len() < PACKING_LIMIT => path.clone(),
            _ => return self.send_objects(peer, channel, Response::Missing),
        };
        self.objects.packing.spawn_blocking(move || (peer, channel, objects::pack(&repository, &request)));
    }

    /// Sends a pack built off the task; a failure to build one is logged
    /// and answered with [`Response::Missing`].
    pub(super) fn packed(&mut self, packed: Result<Packed, tokio::task::JoinError>) {
        let (peer, channel, response) = match packed {
            Ok(packed) => packed,
            Err(error) => return tracing::error!(%error, "building a pack failed"),
        };
        let response = response.unwrap_or_else(|error| {
            tracing::warn!(%peer, %error, "no pack for a peer");
            Response::Missing
        });
        self.send_objects(peer, channel, response);
    }

    fn send_objects(&mut self, peer: PeerId, channel: ResponseChannel<Response>, response: Response) {
        if self.swarm.behaviour_mut().objects.send_response(channel, response).is_err() {
            tracing::debug!(%peer, "Git objects response not sent: the request was dropped");
        }
    }
}

/// Fetches what `request` wants from the first peer that has it, before
/// any node runs: dials `peers` (and whatever mDNS finds, if `mdns` is
/// set) with `keypair` and the working copy's secret, until `timeout`.
pub async fn fetch_once(
    keypair: Keypair,
    secret: &WorkingCopySecret,
    peers: &[Multiaddr],
    mdns: Option<Duration>,
    request: Request,
    timeout: Duration,
) -> Result<Vec<u8>, ObjectsError> {
    let setup = |error: NetError| ObjectsError::Network(error.to_string());
    let mut swarm: Swarm<Behaviour> = build_swarm(keypair, secret, super::HANDSHAKE_TIMEOUT, mdns).map_err(setup)?;
    for address in peers {
        if let Err(error) = swarm.dial(address.clone()) {
            tracing::warn!(%address, %error, "cannot dial a peer of the ticket");
        }
    }
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut asked = HashSet::new();
    let mut waiting = 0usize;
    loop {
        let event = tokio::select! {
            _ = &mut deadline => return Err(ObjectsError::NoPeer),
            event = swarm.select_next_some() => event,
        };
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } if asked.insert(peer_id) => {
                swarm.behaviour_mut().objects.send_request(&peer_id, request.clone());
                waiting += 1;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, address) in found.into_iter().filter(|(peer, _)| !asked.contains(peer)) {
                    tracing::debug!(%peer, %address, "found by mDNS");
                    let _ = swarm.dial(address);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Objects(request_response::Event::Message {
                message: request_response::Message::Response { response: Response::Pack(pack), .. },
                ..
            })) => return Ok(pack),
            SwarmEvent::Behaviour(BehaviourEvent::Objects(
                request_response::Event::Message {
                    message: request_response::Message::Response { response: Response::Missing, .. },
                    ..
                }
                | request_response::Event::OutboundFailure { .. },
            )) => {
                waiting -= 1;
                if waiting == 0 && mdns.is_none() && asked.len() >= peers.len() {
                    return Err(ObjectsError::NoPeer);
                }
            }
            _ => {}
        }
    }
}
