//! Peers that keep sending garbage: each invalid message a peer sends is a
//! strike against it; [`GARBAGE_LIMIT`] strikes within [`GARBAGE_WINDOW`]
//! and it is banned (disconnected, and refused when it comes back) for
//! [`BAN_DURATION`].
//!
//! A strike is something only a broken or hostile peer sends: a gossip
//! message that is not an operation of our working copy (wrong topic,
//! undecodable, failing [`memo_core::WorkTree::check`]), a catch-up
//! response holding such operations, or a catch-up message that does not
//! decode. A refusal the tree makes later (a create inside a file after a
//! concurrent change, a full causal buffer) is not one: honest peers cause
//! those. The limit leaves room for a peer running another version that
//! sends a few messages we cannot read; a peer that sends garbage all
//! along is cut off within seconds. The state is pure (the time is passed
//! in), so that the node's task does the I/O and tests need no clock.

use libp2p::PeerId;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Strikes within [`GARBAGE_WINDOW`] that get a peer banned.
pub const GARBAGE_LIMIT: u32 = 10;

/// How long strikes count: a window starts at a peer's first strike.
pub const GARBAGE_WINDOW: Duration = Duration::from_secs(60);

/// How long a banned peer is refused.
pub const BAN_DURATION: Duration = Duration::from_secs(10 * 60);

/// Strikes and bans (see the module documentation).
#[derive(Debug, Default)]
pub struct Strikes {
    /// Per peer: strikes in the current window, and when it started.
    counts: HashMap<PeerId, (u32, Instant)>,
    /// Banned peers, and until when.
    banned: HashMap<PeerId, Instant>,
}

impl Strikes {
    /// Counts a strike against `peer` at `now`; `true` when this one gets
    /// it banned (once: a banned peer's later strikes return `false`).
    pub fn strike(&mut self, peer: PeerId, now: Instant) -> bool {
        if self.banned.contains_key(&peer) {
            return false;
        }
        let (count, since) = self.counts.entry(peer).or_insert((0, now));
        if now.duration_since(*since) > GARBAGE_WINDOW {
            (*count, *since) = (0, now);
        }
        *count += 1;
        if *count < GARBAGE_LIMIT {
            return false;
        }
        self.counts.remove(&peer);
        self.banned.insert(peer, now + BAN_DURATION);
        true
    }

    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.banned.contains_key(peer)
    }

    /// The bans over by `now`, removed; strikes from windows past are
    /// forgotten on the way. (Strikes outlive a connection: a peer cannot
    /// wipe them by reconnecting.)
    pub fn lift(&mut self, now: Instant) -> Vec<PeerId> {
        self.counts.retain(|_, (_, since)| now.duration_since(*since) <= GARBAGE_WINDOW);
        let over: Vec<PeerId> = self.banned.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for peer in &over {
            self.banned.remove(peer);
        }
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_banned_at_the_limit_within_the_window_and_the_ban_ends() {
        let (mut strikes, peer, start) = (Strikes::default(), PeerId::random(), Instant::now());
        for _ in 1..GARBAGE_LIMIT {
            assert!(!strikes.strike(peer, start));
        }
        assert!(strikes.strike(peer, start), "the limit bans");
        assert!(strikes.is_banned(&peer) && !strikes.strike(peer, start), "banned once");
        assert!(strikes.lift(start + BAN_DURATION / 2).is_empty());
        assert_eq!(strikes.lift(start + BAN_DURATION), vec![peer]);
        assert!(!strikes.is_banned(&peer));
    }

    #[test]
    fn strikes_spread_wider_than_the_window_never_ban() {
        let (mut strikes, peer, mut now) = (Strikes::default(), PeerId::random(), Instant::now());
        // At most 6 strikes fall in any one window.
        for _ in 0..3 * GARBAGE_LIMIT {
            assert!(!strikes.strike(peer, now));
            now += GARBAGE_WINDOW / 5;
        }
    }
}
