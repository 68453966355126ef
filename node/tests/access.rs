//! Access control over real TCP on loopback (no mDNS, nothing outside
//! 127.0.0.1): only nodes that hold the working copy's secret connect. A
//! node with another secret (same working copy id, so the same topic) never
//! connects, learns nothing, and cannot inject an operation.

mod common;

use memo_node::net::{self, Node, WorkingCopySecret};
use std::path::Path;
use std::time::Duration;

const CATCHUP: Duration = Duration::from_millis(200);

async fn start(dir: &Path, secret: [u8; 32]) -> Node {
    common::start_node(dir, secret, CATCHUP).await
}

async fn paths(node: &Node) -> Vec<String> {
    node.read(|tree| tree.paths()).await.unwrap()
}

async fn wait_for_path(node: &Node, path: &'static str) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while !paths(node).await.iter().any(|p| p == path) {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(node: &Node, path: &'static str) {
    node.change(move |tree| tree.create_text(path, "content")).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_secret_never_connects_learns_nothing_and_injects_nothing() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path(), [1; 32]).await;
    let b = start(dirs[1].path(), [1; 32]).await;
    let outsider = start(dirs[2].path(), [2; 32]).await;

    b.dial(a.addresses()[0].clone()).await.unwrap();
    create(&a, "before.txt").await;
    wait_for_path(&b, "before.txt").await;

    // The outsider dials both members (the dial may be accepted locally and
    // fail in the handshake), and makes a change of its own.
    for member in [&a, &b] {
        let _ = outsider.dial(member.addresses()[0].clone()).await;
    }
    create(&outsider, "intruder.txt").await;

    // The members go on changing things; they converge with each other.
    create(&a, "during-a.txt").await;
    create(&b, "during-b.txt").await;
    wait_for_path(&b, "during-a.txt").await;
    wait_for_path(&a, "during-b.txt").await;

    // Give it several catch-up intervals and retries, checking all along
    // that no connection with the outsider ever exists.
    let until = tokio::time::Instant::now() + CATCHUP * 8;
    while tokio::time::Instant::now() < until {
        assert!(outsider.connected_peers().await.unwrap().is_empty(), "the outsider connected");
        for member in [&a, &b] {
            let peers = member.connected_peers().await.unwrap();
            assert!(!peers.contains(&outsider.peer_id()), "a member accepted the outsider");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(a.connected_peers().await.unwrap().contains(&b.peer_id()));

    assert_eq!(paths(&outsider).await, vec!["intruder.txt".to_string()]);
    let expected = vec!["before.txt".to_string(), "during-a.txt".to_string(), "during-b.txt".to_string()];
    let (mut pa, mut pb) = (paths(&a).await, paths(&b).await);
    pa.sort();
    pb.sort();
    assert_eq!(pa, expected);
    assert_eq!(pb, expected);

    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    outsider.shutdown().await.unwrap();
}

#[test]
fn the_secret_is_not_printed_and_the_key_is_derived() {
    let secret = WorkingCopySecret::new([0xab; 32]);
    let shown = format!("{secret:?}");
    assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    let key = secret.pnet_key();
    // Not the raw secret: the key is SHA-256 over a domain tag and it.
    assert_ne!(key, libp2p::pnet::PreSharedKey::new([0xab; 32]));
    assert_eq!(key, WorkingCopySecret::new([0xab; 32]).pnet_key());
    assert_ne!(key, WorkingCopySecret::new([0xac; 32]).pnet_key());
}

/// Dials `member` from a bare swarm with `secret` and returns whether a
/// connection was established (`true`) or the dial failed (`false`): by a
/// handshake error, or by `handshake_timeout` when garbled Noise frames
/// leave both sides waiting for bytes that never come.
async fn dial_from_bare_swarm(member: &Node, secret: [u8; 32], handshake_timeout: Duration) -> bool {
    use futures::StreamExt;
    use libp2p::swarm::SwarmEvent;
    let keypair = libp2p::identity::Keypair::generate_ed25519();
    let mut swarm = net::new_swarm(keypair, &WorkingCopySecret::new(secret), handshake_timeout).unwrap();
    swarm.dial(member.addresses()[0].clone()).unwrap();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    assert_eq!(peer_id, member.peer_id());
                    return true;
                }
                SwarmEvent::OutgoingConnectionError { .. } => return false,
                _ => {}
            },
            _ = tokio::time::sleep_until(deadline) => panic!("the dial neither connected nor failed"),
        }
    }
}

/// The dial itself: with the members' secret it connects (so the set-up is
/// sound), with another one it fails, and the member never lists the
/// outsider as connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_with_another_secret_fails_and_with_the_secret_connects() {
    let dir = tempfile::tempdir().unwrap();
    let member = start(dir.path(), [1; 32]).await;
    // A short handshake timeout keeps the test fast; the control below,
    // with a generous one, shows that the same dial does connect.
    let short = Duration::from_secs(1);
    assert!(!dial_from_bare_swarm(&member, [2; 32], short).await, "connected with a wrong secret");
    assert!(dial_from_bare_swarm(&member, [1; 32], common::PATIENCE).await, "did not connect with the right secret");
    member.shutdown().await.unwrap();
}
