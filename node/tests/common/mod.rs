//! Helpers shared by the network tests. Each test binary uses a part of
//! them, so the rest is dead code there.
#![allow(dead_code)]

pub mod daemons;
pub mod editor;

use memo_core::tree::EmptyBase;
use memo_node::net::{self, Node, NodeConfig, WorkingCopySecret};
use memo_node::Replica;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Generous: a slow, shared CI machine. Nothing here asserts a duration.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The members' shared secret.
pub const MEMBERS: [u8; 32] = [7; 32];

/// Starts a node on a loopback port for the store under `dir` (its
/// identity beside it), holding `secret`, asking its peers to catch up
/// every `catchup`.
pub async fn start_node(dir: &Path, secret: [u8; 32], catchup: Duration) -> Node {
    start_node_with(dir, secret, catchup, |_| {}).await
}

/// As [`start_node`], with `adjust` applied to the configuration last.
pub async fn start_node_with(
    dir: &Path,
    secret: [u8; 32],
    catchup: Duration,
    adjust: impl FnOnce(&mut NodeConfig),
) -> Node {
    let store = dir.join("store");
    let keypair = net::load_or_create_identity(&net::identity_path(&store)).unwrap();
    let replica = Replica::open(&store, Arc::new(EmptyBase)).unwrap();
    let listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    let mut config = NodeConfig::new(keypair, WorkingCopySecret::new(secret), b"test working copy".to_vec(), listen);
    config.catchup_interval = catchup;
    adjust(&mut config);
    Node::start(replica, config).await.unwrap()
}
