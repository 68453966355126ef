//! What a node knows of its peers: how each was found, where it listens,
//! what it has (its version, as of its last catch-up request), and when to
//! dial it again after a connection is lost.
//!
//! Any peer with a known address is redialed while it is away, with a
//! backoff that doubles from [`REDIAL_FIRST`] to [`REDIAL_MAX`]: a node
//! that restarts, a link that heals, or a partition that ends is found
//! again without mDNS (which announces a peer once) or a user's help.

use libp2p::{Multiaddr, PeerId};
use memo_core::VersionVector;
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// The first wait before a lost peer is dialed again...
pub const REDIAL_FIRST: Duration = Duration::from_secs(1);

/// ...doubling after each failure up to this.
pub const REDIAL_MAX: Duration = Duration::from_secs(60);

/// How many addresses are kept per peer (the newest).
const MAX_ADDRESSES: usize = 8;

/// How a peer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Discovery {
    /// An address we were given: a ticket's, or one remembered from before.
    Address,
    /// Announced on the LAN by mDNS.
    Mdns,
    /// It connected to us.
    Incoming,
}

impl std::fmt::Display for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Discovery::Address => "address",
            Discovery::Mdns => "mdns",
            Discovery::Incoming => "incoming",
        })
    }
}

/// A peer as `memo peers` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    #[serde(serialize_with = "as_text")]
    pub peer: PeerId,
    pub found: Discovery,
    pub connected: bool,
    #[serde(serialize_with = "all_as_text")]
    pub addresses: Vec<Multiaddr>,
    /// Units of work we hold and the peer lacks, as of its last version
    /// (`None`: it has not told us yet).
    pub they_lack: Option<u64>,
    /// Units the peer holds and we lack.
    pub we_lack: Option<u64>,
}

pub(super) fn as_text<S: serde::Serializer, T: std::fmt::Display>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

pub(super) fn all_as_text<S: serde::Serializer, T: std::fmt::Display>(values: &[T], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(ToString::to_string))
}

#[derive(Debug)]
struct Peer {
    found: Discovery,
    addresses: Vec<Multiaddr>,
    theirs: Option<VersionVector>,
    connections: usize,
    failures: u32,
    redial_at: Instant,
}

/// The node's peers (see the module docs).
#[derive(Debug, Default)]
pub struct PeerBook {
    peers: HashMap<PeerId, Peer>,
}

impl PeerBook {
    /// Notes `address` of `peer`, found by `how` (the first way a peer was
    /// found is the one shown).
    pub fn found(&mut self, peer: PeerId, address: Multiaddr, how: Discovery) {
        let entry = self.entry(peer, how);
        let address = without_peer_id(address);
        entry.addresses.retain(|known| *known != address);
        entry.addresses.push(address);
        let excess = entry.addresses.len().saturating_sub(MAX_ADDRESSES);
        entry.addresses.drain(..excess);
    }

    /// A connection to `peer` is up.
    pub fn connected(&mut self, peer: PeerId) {
        let entry = self.entry(peer, Discovery::Incoming);
        entry.connections += 1;
        entry.failures = 0;
    }

    /// A connection to `peer` is down: dial it again soon, if it is known
    /// where.
    pub fn disconnected(&mut self, peer: PeerId) {
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 {
                entry.redial_at = Instant::now() + REDIAL_FIRST;
            }
        }
    }

    /// Waits longer before the next dial to `peer`: [`PeerBook::due`]
    /// calls it for each dial it hands out, as if that dial will fail (a
    /// connection resets the count).
    fn back_off(&mut self, peer: PeerId) {
        if let Some(entry) = self.peers.get_mut(&peer) {
            entry.failures = entry.failures.saturating_add(1);
            let wait = REDIAL_FIRST.saturating_mul(1 << entry.failures.min(16)).min(REDIAL_MAX);
            entry.redial_at = Instant::now() + wait;
        }
    }

    /// The peer told us its version (in a catch-up request).
    pub fn their_version(&mut self, peer: PeerId, version: VersionVector) {
        self.entry(peer, Discovery::Incoming).theirs = Some(version);
    }

    /// The peers to dial now: known addresses, no connection, their wait
    /// over. Each gets its next wait as if this dial will fail.
    pub fn due(&mut self) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let now = Instant::now();
        let due: Vec<_> = self
            .peers
            .iter()
            .filter(|(_, p)| p.connections == 0 && !p.addresses.is_empty() && p.redial_at <= now)
            .map(|(id, p)| (*id, p.addresses.clone()))
            .collect();
        for (peer, _) in &due {
            self.back_off(*peer);
        }
        due
    }

    /// Every peer, connected ones first, with how far apart we are given
    /// our version `ours`.
    pub fn status(&self, ours: &VersionVector) -> Vec<PeerStatus> {
        let mut all: Vec<PeerStatus> = self
            .peers
            .iter()
            .map(|(id, p)| PeerStatus {
                peer: *id,
                found: p.found,
                connected: p.connections > 0,
                addresses: p.addresses.clone(),
                they_lack: p.theirs.as_ref().map(|theirs| units_lacking(theirs, ours)),
                we_lack: p.theirs.as_ref().map(|theirs| units_lacking(ours, theirs)),
            })
            .collect();
        all.sort_by_key(|p| (!p.connected, p.peer));
        all
    }

    fn entry(&mut self, peer: PeerId, how: Discovery) -> &mut Peer {
        self.peers.entry(peer).or_insert_with(|| Peer {
            found: how,
            addresses: Vec::new(),
            theirs: None,
            connections: 0,
            failures: 0,
            redial_at: Instant::now(),
        })
    }
}

/// How many units `other` has that `have` lacks.
pub fn units_lacking(have: &VersionVector, other: &VersionVector) -> u64 {
    other.missing_from(have).iter().map(|range| range.len).sum()
}

/// `address` without a trailing `/p2p/<peer id>` (the book is keyed by it).
fn without_peer_id(mut address: Multiaddr) -> Multiaddr {
    if let Some(libp2p::multiaddr::Protocol::P2p(_)) = address.iter().last() {
        address.pop();
    }
    address
}

#[cfg(test)]
mod tests {
    use super::*;
    use memo_core::ReplicaId;

    #[tokio::test(start_paused = true)]
    async fn a_lost_peer_is_redialed_with_a_growing_wait() {
        let mut book = PeerBook::default();
        let peer = PeerId::random();
        book.found(peer, "/ip4/127.0.0.1/tcp/1".parse().unwrap(), Discovery::Address);
        assert_eq!(book.due().len(), 1, "a new address is dialed at once");
        assert!(book.due().is_empty(), "and not again before its wait");
        book.connected(peer);
        book.disconnected(peer);
        tokio::time::advance(REDIAL_FIRST).await;
        assert_eq!(book.due().len(), 1);
        for _ in 0..20 {
            book.back_off(peer);
        }
        tokio::time::advance(REDIAL_MAX - Duration::from_millis(1)).await;
        assert!(book.due().is_empty());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(book.due().len(), 1, "the wait stops growing at REDIAL_MAX");
    }

    #[test]
    fn status_says_how_far_apart_we_are() {
        let mut book = PeerBook::default();
        let peer = PeerId::random();
        let (a, b) = (ReplicaId::from_u128(1), ReplicaId::from_u128(2));
        let ours: VersionVector = [(a, 10), (b, 2)].into_iter().collect();
        let theirs: VersionVector = [(a, 4), (b, 5)].into_iter().collect();
        book.connected(peer);
        assert_eq!(book.status(&ours)[0].they_lack, None);
        book.their_version(peer, theirs);
        let status = &book.status(&ours)[0];
        assert_eq!((status.they_lack, status.we_lack), (Some(6), Some(3)));
        assert_eq!(status.found, Discovery::Incoming);
    }
}
