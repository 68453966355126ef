//! The Memo node: everything around the pure CRDTs of `memo-core` that
//! touches the outside world.
//!
//! - [`store`]: the durable operation store (RocksDB), written before
//!   anything else sees an operation;
//! - [`replica`]: start-up, a working copy's replica rebuilt from its store;
//! - [`net`]: the network: libp2p gossipsub of live operations, discovery
//!   (addresses, mDNS), access control, bounds, and the [`net::Node`] task;
//! - [`catchup`]: the anti-entropy protocol by which nodes fetch the
//!   operations they lack;
//! - [`strikes`]: peers that keep sending garbage, counted and banned;
//! - [`disk`]: the working copy on disk kept in step with the replica
//!   (ingestion of local changes, safe writes of remote ones, the watcher,
//!   `.gitignore`);
//! - [`git`]: the commit a working copy stands on, as the tree's base;
//! - [`frames`]: how request-response messages sit on a libp2p stream
//!   (length, limit, message), for both protocols;
//! - [`objects`]: Git objects over libp2p, the protocol by which a node
//!   gets the commits it lacks (with their trees and blobs) as a Git pack;
//! - [`membership`]: which working copy a clone belongs to, its secret,
//!   where its peers were seen; tickets carry it between machines;
//! - [`daemon`]: one working copy's node, run by `memo daemon`, and
//!   [`control`], the socket through which `memo` talks to it, whose
//!   methods are in [`rpc`], the editor RPC among them;
//! - [`location`]: where a node keeps its files (`.git/memo/` by default),
//!   and [`config`]: the user's defaults (`~/.config/memo/config`).

pub mod catchup;
pub mod config;
pub mod control;
pub mod daemon;
pub mod disk;
pub mod frames;
pub mod git;
pub mod location;
pub mod membership;
pub mod net;
pub mod objects;
pub mod replica;
pub mod rpc;
pub mod store;
pub mod strikes;
pub mod time;

#[doc(hidden)]
pub mod debug;

pub use replica::{RecoveryError, Replica};
pub use store::{Store, StoreError};
