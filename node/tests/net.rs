//! Two nodes over real TCP sockets on loopback (no mDNS, nothing outside
//! 127.0.0.1): a local change on one reaches the other by gossipsub, both
//! ways.

mod common;

use memo_node::net::{self, Node, WorkingCopySecret};
use std::path::Path;
use std::time::Duration;

async fn start(dir: &Path) -> Node {
    common::start_node(dir, common::MEMBERS, net::CATCHUP_INTERVAL).await
}

/// Polls `node` until `done` holds for its tree, or fails after [`common::PATIENCE`].
async fn wait_for(
    node: &Node,
    what: &str,
    done: impl Fn(&memo_core::WorkTree) -> bool + Send + Sync + Clone + 'static,
) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let done = done.clone();
        if node.read(move |tree| done(tree)).await.unwrap() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_subscriber(node: &Node, peer: libp2p::PeerId) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while !node.subscribed_peers().await.unwrap().contains(&peer) {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {peer} to subscribe");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_loopback_converge_both_ways() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path()).await;
    let b = start(dir_b.path()).await;
    assert!(a.addresses().iter().all(|addr| addr.to_string().starts_with("/ip4/127.0.0.1/tcp/")));
    b.dial(a.addresses()[0].clone()).await.unwrap();
    // Not needed for correctness (unsent operations are retried), but it
    // makes the test exercise live gossip rather than the retry alone.
    wait_for_subscriber(&a, b.peer_id()).await;
    wait_for_subscriber(&b, a.peer_id()).await;

    let ops = a.change(|tree| tree.create_text("hello.txt", "from a")).await.unwrap().unwrap();
    assert!(!ops.is_empty());
    wait_for(&b, "a's file on b", |tree| tree.read_text("hello.txt").is_ok_and(|t| t == "from a")).await;

    b.change(|tree| tree.create_text("reply.txt", "from b")).await.unwrap().unwrap();
    wait_for(&a, "b's file on a", |tree| tree.read_text("reply.txt").is_ok_and(|t| t == "from b")).await;

    let paths_a = a.read(|tree| tree.paths()).await.unwrap();
    let paths_b = b.read(|tree| tree.paths()).await.unwrap();
    assert_eq!(paths_a, paths_b);
    let version_a = a.read(|tree| tree.version().clone()).await.unwrap();
    let version_b = b.read(|tree| tree.version().clone()).await.unwrap();
    assert_eq!(version_a, version_b);

    let (peer_a, peer_b) = (a.peer_id(), b.peer_id());
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();

    // The identity persists, and what was received was stored.
    let again = start(dir_b.path()).await;
    assert_eq!(again.peer_id(), peer_b);
    assert_ne!(peer_a, peer_b);
    let text = again.read(|tree| tree.read_text("hello.txt").ok()).await.unwrap();
    assert_eq!(text.as_deref(), Some("from a"));
    again.shutdown().await.unwrap();
}

#[cfg(unix)]
#[test]
fn the_identity_file_is_private_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = net::identity_path(&dir.path().join("store"));
    let first = net::load_or_create_identity(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = net::load_or_create_identity(&path).unwrap();
    assert_eq!(first.public(), again.public());
}

#[test]
fn the_topic_derives_from_the_working_copy_id_not_its_name() {
    let topic = net::topic_for(b"my project").hash();
    assert_eq!(topic.as_str().len(), 64);
    assert!(!topic.as_str().contains("my project"));
    assert_ne!(topic, net::topic_for(b"another").hash());
}

/// A peer on the topic that publishes garbage: its messages are rejected
/// (not applied, not stored), and the members keep converging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_topic_is_rejected_and_the_members_keep_working() {
    use futures::StreamExt;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path()).await;
    let b = start(dir_b.path()).await;
    b.dial(a.addresses()[0].clone()).await.unwrap();

    let keypair = libp2p::identity::Keypair::generate_ed25519();
    // A member (it holds the secret) gone bad: validation still applies.
    let mut rogue = net::new_swarm(keypair, &WorkingCopySecret::new(common::MEMBERS), net::HANDSHAKE_TIMEOUT).unwrap();
    let topic = net::topic_for(b"test working copy");
    rogue.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
    rogue.dial(a.addresses()[0].clone()).unwrap();
    let rogue_id = *rogue.local_peer_id();
    // Drive the rogue swarm in the background; publish garbage once it can.
    let garbage = tokio::spawn(async move {
        let mut sent = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while sent < 5 {
            tokio::select! {
                _ = rogue.select_next_some() => {}
                _ = tick.tick() => {
                    let payload = format!("not an operation {sent}").into_bytes();
                    if rogue.behaviour_mut().gossipsub.publish(topic.clone(), payload).is_ok() {
                        sent += 1;
                    }
                }
            }
        }
        // Keep serving, so that a's validation (and any reply) runs.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = rogue.select_next_some() => {}
                _ = tokio::time::sleep_until(deadline) => {}
            }
        }
    });
    wait_for_subscriber(&a, rogue_id).await;
    garbage.await.unwrap();

    wait_for_subscriber(&a, b.peer_id()).await;
    a.change(|tree| tree.create_text("still.txt", "working")).await.unwrap().unwrap();
    wait_for(&b, "a's file on b", |tree| tree.read_text("still.txt").is_ok_and(|t| t == "working")).await;
    assert_eq!(a.read(|tree| tree.paths()).await.unwrap(), vec!["still.txt".to_string()]);
    assert_eq!(b.read(|tree| tree.paths()).await.unwrap(), vec!["still.txt".to_string()]);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
