//! The Memo node: everything around the pure CRDTs of `memo-core` that
//! touches the outside world.
//!
//! - [`store`]: the durable operation store (RocksDB), written before
//!   anything else sees an operation;
//! - [`replica`]: start-up, a working copy's replica rebuilt from its store;
//! - [`net`]: the network (libp2p gossipsub of live operations; the rest
//!   of issue 5 is listed there);
//! - [`catchup`]: the anti-entropy protocol by which nodes fetch the
//!   operations they lack;
//! - [`strikes`]: peers that keep sending garbage, counted and banned;
//! - [`location`]: where a working copy's store lives (`.git/memo/store`
//!   by default);
//! - [`daemon`] runs a working copy's node; [`control`] is its socket's
//!   wire format and [`rpc`] its methods, the editor RPC among them.
//!
//! The file watcher and Git land with their issues.

pub mod catchup;
pub mod control;
pub mod daemon;
pub mod location;
pub mod membership;
pub mod net;
pub mod replica;
pub mod rpc;
pub mod store;
pub mod strikes;

#[doc(hidden)]
pub mod debug;

pub use replica::{RecoveryError, Replica};
pub use store::{Store, StoreError};
