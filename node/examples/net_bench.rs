//! The network's benchmark: `cargo run -p memo-node --release --example
//! net_bench` prints the tables of BENCHMARKS.md's "Network" section. All
//! nodes run in this process on loopback (mDNS off), each with a real
//! RocksDB store in a temporary directory.
//!
//! - Propagation: one keystroke (a one-character insert) from a node to
//!   1, 3 and 7 others in a full mesh, p50 and p99 over every (keystroke,
//!   receiver) pair and for the last receiver of each keystroke. Side by
//!   side, the floor: bare libp2p gossipsub swarms (the same transport,
//!   pnet, Noise, Yamux, signed messages) carrying a message of the same
//!   size, with no store and no CRDT.
//! - Sustained editing: keystrokes made one after another as fast as the
//!   node takes them (each stored and synced before it is sent), until the
//!   other node holds them all.
//! - Catch-up: a node holding 100,000 operations (one keystroke each); the
//!   time for a new node to fetch and apply them all.
//!
//! `NET_BENCH_KEYSTROKES` (default 300) and `NET_BENCH_CATCHUP` (default
//! 100,000) change the sizes.

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::swarm::SwarmEvent;
use libp2p::PeerId;
use memo_core::tree::EmptyBase;
use memo_core::{OpId, TreeOp, VersionVector};
use memo_node::net::{self, BehaviourEvent, Node, NodeConfig, WorkingCopySecret};
use memo_node::Replica;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const SECRET: [u8; 32] = [5; 32];
const FILE: &str = "notes.txt";

fn size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let keystrokes = size("NET_BENCH_KEYSTROKES", 300);
    println!("## Propagation of one keystroke over loopback ({keystrokes} keystrokes, full mesh)\n");
    println!("| receivers | memo p50 | memo p99 | last receiver p50 | last receiver p99 | bare gossipsub p50 | bare gossipsub p99 | memo / bare (p50) |");
    println!("|---|---|---|---|---|---|---|---|");
    for receivers in [1, 3, 7] {
        let (each, last) = memo_propagation(receivers, keystrokes).await;
        let bare = bare_propagation(receivers, keystrokes).await;
        println!(
            "| {receivers} | {} | {} | {} | {} | {} | {} | {:.2}x |",
            ms(percentile(&each, 50)),
            ms(percentile(&each, 99)),
            ms(percentile(&last, 50)),
            ms(percentile(&last, 99)),
            ms(percentile(&bare, 50)),
            ms(percentile(&bare, 99)),
            percentile(&each, 50).as_secs_f64() / percentile(&bare, 50).as_secs_f64(),
        );
    }
    let sustained = size("NET_BENCH_SUSTAINED", 5_000);
    let (rate, elapsed) = sustained_editing(sustained).await;
    println!("\n## Sustained editing\n");
    println!("{sustained} keystrokes, each stored (synced) and gossiped, all held by the other node after {:.2} s: {rate:.0} keystrokes/s", elapsed.as_secs_f64());
    let operations = size("NET_BENCH_CATCHUP", 100_000);
    let (elapsed, bytes) = catch_up(operations).await;
    println!("\n## Catch-up\n");
    println!(
        "A new node fetched and applied {operations} operations in {:.2} s ({:.0} operations/s; the server's store holds {:.1} MiB)",
        elapsed.as_secs_f64(),
        operations as f64 / elapsed.as_secs_f64(),
        bytes as f64 / (1024.0 * 1024.0)
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[(sorted.len() - 1) * p / 100]
}

async fn start(dir: &Path) -> Node {
    let store = dir.join("store");
    let keypair = net::load_or_create_identity(&net::identity_path(&store)).unwrap();
    let replica = Replica::open(&store, Arc::new(EmptyBase)).unwrap();
    let listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    let config = NodeConfig::new(keypair, WorkingCopySecret::new(SECRET), b"bench".to_vec(), listen);
    Node::start(replica, config).await.unwrap()
}

/// `count` nodes, each dialing every earlier one, all subscribed to all.
async fn mesh(dirs: &[tempfile::TempDir]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for dir in dirs {
        let node = start(dir.path()).await;
        for earlier in &nodes {
            node.dial(earlier.addresses()[0].clone()).await.unwrap();
        }
        nodes.push(node);
    }
    for node in &nodes {
        while node.subscribed_peers().await.unwrap().len() < nodes.len() - 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    nodes
}

/// Waits until `node`'s tree holds `id`.
async fn holds(node: &Node, id: OpId) {
    let mut version = node.watch_version();
    version.wait_for(|v: &VersionVector| v.contains(id)).await.unwrap();
}

fn last_id(ops: &[TreeOp]) -> OpId {
    let range = ops.last().unwrap().range();
    OpId::new(range.replica, range.end() - 1)
}

/// Per (keystroke, receiver) latencies, and per keystroke the last
/// receiver's.
async fn memo_propagation(receivers: usize, keystrokes: usize) -> (Vec<Duration>, Vec<Duration>) {
    let dirs: Vec<_> = (0..=receivers).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = mesh(&dirs).await;
    let created = nodes[0].change(|tree| tree.create_text(FILE, "")).await.unwrap().unwrap();
    for node in &nodes[1..] {
        holds(node, last_id(&created)).await;
    }
    let (mut each, mut last) = (Vec::new(), Vec::new());
    for i in 0..keystrokes {
        let start = Instant::now();
        let ops = nodes[0].change(move |tree| tree.edit_text(FILE, i, i, "x")).await.unwrap().unwrap();
        let id = last_id(&ops);
        let arrivals = futures::future::join_all(nodes[1..].iter().map(|node| async move {
            holds(node, id).await;
            start.elapsed()
        }))
        .await;
        last.push(*arrivals.iter().max().unwrap());
        each.extend(arrivals);
    }
    for node in nodes {
        node.shutdown().await.unwrap();
    }
    (each, last)
}

/// The floor: bare gossipsub swarms on the node's transport, one message
/// of a keystroke's size (24 bytes) at a time.
async fn bare_propagation(receivers: usize, messages: usize) -> Vec<Duration> {
    let topic = IdentTopic::new("bench");
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<(usize, Instant)>();
    let mut publishers = Vec::new();
    let mut addresses = Vec::new();
    let mut peers: Vec<PeerId> = Vec::new();
    for index in 0..=receivers {
        let keypair = libp2p::identity::Keypair::generate_ed25519();
        let mut swarm = net::new_swarm(keypair, &WorkingCopySecret::new(SECRET), net::HANDSHAKE_TIMEOUT).unwrap();
        swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        let address = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        for earlier in &addresses {
            swarm.dial(Clone::clone(earlier)).unwrap();
        }
        addresses.push(address);
        peers.push(*swarm.local_peer_id());
        let (publish, mut to_publish) = mpsc::unbounded_channel::<Vec<u8>>();
        publishers.push(publish);
        let arrived = arrived.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(message) = to_publish.recv() => {
                        // Only once every receiver is known to be subscribed.
                        while swarm.behaviour().gossipsub.all_peers().filter(|(_, topics)| !topics.is_empty()).count() < receivers {
                            let _ = tokio::time::timeout(Duration::from_millis(10), swarm.select_next_some()).await;
                        }
                        swarm.behaviour_mut().gossipsub.publish(topic.clone(), message).unwrap();
                    }
                    event = swarm.select_next_some() => {
                        if let SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message { message_id, propagation_source, .. })) = event {
                            arrived.send((index, Instant::now())).unwrap();
                            let gossip = &mut swarm.behaviour_mut().gossipsub;
                            gossip.report_message_validation_result(&message_id, &propagation_source, gossipsub::MessageAcceptance::Accept);
                        }
                    }
                }
            }
        });
    }
    // The first message (not counted) waits for the mesh to form.
    let mut samples = Vec::new();
    for i in 0..=messages {
        let start = Instant::now();
        let mut message = vec![0u8; 24];
        message[..8].copy_from_slice(&(i as u64).to_le_bytes());
        publishers[0].send(message).unwrap();
        for _ in 0..receivers {
            let (_, at) = arrivals.recv().await.unwrap();
            if i > 0 {
                samples.push(at - start);
            }
        }
    }
    samples
}

/// Keystrokes one after another; the rate until the other node holds all.
async fn sustained_editing(keystrokes: usize) -> (f64, Duration) {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes = mesh(&dirs).await;
    nodes[0].change(|tree| tree.create_text(FILE, "")).await.unwrap().unwrap();
    let start = Instant::now();
    let mut last = None;
    for i in 0..keystrokes {
        let ops = nodes[0].change(move |tree| tree.edit_text(FILE, i, i, "x")).await.unwrap().unwrap();
        last = Some(last_id(&ops));
    }
    holds(&nodes[1], last.unwrap()).await;
    let elapsed = start.elapsed();
    for node in nodes {
        node.shutdown().await.unwrap();
    }
    (keystrokes as f64 / elapsed.as_secs_f64(), elapsed)
}

/// A node with `operations` keystrokes, then a new node dials it: the
/// time until the newcomer holds them all.
async fn catch_up(operations: usize) -> (Duration, u64) {
    let (server_dir, joiner_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = start(server_dir.path()).await;
    let made = server
        .change(move |tree| {
            let mut ops = tree.create_text(FILE, "")?;
            for i in 0..operations - ops.len() {
                ops.extend(tree.edit_text(FILE, i, i, "x")?);
            }
            Ok::<_, memo_core::tree::TreeError>(ops)
        })
        .await
        .unwrap()
        .unwrap();
    let target = last_id(&made);
    let bytes = dir_size(server_dir.path());
    let joiner = start(joiner_dir.path()).await;
    let start = Instant::now();
    joiner.dial(server.addresses()[0].clone()).await.unwrap();
    holds(&joiner, target).await;
    let elapsed = start.elapsed();
    joiner.shutdown().await.unwrap();
    server.shutdown().await.unwrap();
    (elapsed, bytes)
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => dir_size(&entry.path()),
            _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}
