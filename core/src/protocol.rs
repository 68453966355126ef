//! The messages nodes exchange besides gossiped operations, as pure data:
//! what they hold, how they are encoded, and their limits. The node puts
//! them on libp2p streams; nothing here does I/O.
//!
//! - [`bundle`]: operations in a file, authenticated by the working
//!   copy's secret, for machines that never meet.
//! - [`catchup`]: anti-entropy, by which a node fetches the operations it
//!   lacks from a peer in bounded batches.
//! - [`objects`]: Git objects, by which a node fetches the Git commits it
//!   lacks from a peer as a Git pack.

pub mod bundle;
pub mod catchup;
pub mod objects;
