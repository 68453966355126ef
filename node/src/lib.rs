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
//! - [`location`]: where a working copy's store lives (`.git/memo/store`
//!   by default);
//! - [`disk`]: the working copy on disk kept in step with the replica
//!   (ingestion of local changes, safe writes of remote ones, the watcher,
//!   `.gitignore`).
//!
//! Git and the editor RPC land with their issues.

pub mod catchup;
pub mod disk;
pub mod location;
pub mod net;
pub mod replica;
pub mod store;

#[doc(hidden)]
pub mod debug;

pub use replica::{RecoveryError, Replica};
pub use store::{Store, StoreError};
