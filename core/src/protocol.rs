//! The messages nodes exchange besides gossiped operations, as pure data:
//! what they hold, how they are encoded, and their limits. The node puts
//! them on libp2p streams; nothing here does I/O.
//!
//! - [`catchup`]: anti-entropy, by which a node fetches the operations it
//!   lacks from a peer in bounded batches.

pub mod catchup;
