//! Catch-up (anti-entropy) over real TCP on loopback (no mDNS, nothing
//! outside 127.0.0.1): what gossip alone never delivers (the past, to a
//! late joiner or a node back from offline; across a line of nodes)
//! arrives by version exchange and batched fetches.

mod common;

use memo_core::{TreeOp, VersionVector, WorkTree};
use memo_node::net::Node;
use std::path::Path;
use std::time::Duration;

async fn start(dir: &Path) -> Node {
    common::start_node(dir, common::MEMBERS, Duration::from_millis(300)).await
}

/// Makes `count` files named `{prefix}{i}.txt` in one change.
async fn make_files(node: &Node, prefix: &'static str, count: usize) {
    node.change(move |tree: &mut WorkTree| {
        let mut ops: Vec<TreeOp> = Vec::new();
        for i in 0..count {
            ops.extend(tree.create_text(&format!("{prefix}{i}.txt"), &format!("{prefix} {i}"))?);
        }
        Ok::<_, memo_core::tree::TreeError>(ops)
    })
    .await
    .unwrap()
    .unwrap();
}

async fn version(node: &Node) -> VersionVector {
    node.read(|tree| tree.version().clone()).await.unwrap()
}

/// Polls until every node has the same version and paths, which include
/// `target`'s version; fails after [`common::PATIENCE`].
async fn converge(nodes: &[&Node], target: &VersionVector) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let mut versions = Vec::new();
        let mut paths = Vec::new();
        for node in nodes {
            versions.push(version(node).await);
            paths.push(node.read(|tree| tree.paths()).await.unwrap());
        }
        if versions.iter().all(|v| v == &versions[0] && v.dominates(target)) && paths.iter().all(|p| p == &paths[0]) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for convergence: {versions:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_catches_up_with_the_past() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path()).await;
    // More than one batch (1,000 operations).
    make_files(&a, "a", 1_200).await;
    let target = version(&a).await;

    let b = start(dir_b.path()).await;
    b.dial(a.addresses()[0].clone()).await.unwrap();
    converge(&[&a, &b], &target).await;
    let text = b.read(|tree| tree.read_text("a1199.txt").ok()).await.unwrap();
    assert_eq!(text.as_deref(), Some("a 1199"));
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_of_three_converges_through_the_middle() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start(dirs[0].path()).await;
    let b = start(dirs[1].path()).await;
    let c = start(dirs[2].path()).await;
    // Changes made while alone: only catch-up can carry them.
    make_files(&a, "a", 20).await;
    make_files(&c, "c", 20).await;
    // A and C dial B; they never dial each other.
    a.dial(b.addresses()[0].clone()).await.unwrap();
    c.dial(b.addresses()[0].clone()).await.unwrap();
    let mut target = version(&a).await;
    target.join(&version(&c).await);
    converge(&[&a, &b, &c], &target).await;

    // And live changes afterwards, from both ends.
    make_files(&a, "later-a", 3).await;
    make_files(&c, "later-c", 3).await;
    let mut target = version(&a).await;
    target.join(&version(&c).await);
    converge(&[&a, &b, &c], &target).await;
    let on_a = a.read(|tree| tree.read_text("c19.txt").ok()).await.unwrap();
    assert_eq!(on_a.as_deref(), Some("c 19"));
    let on_c = c.read(|tree| tree.read_text("a19.txt").ok()).await.unwrap();
    assert_eq!(on_c.as_deref(), Some("a 19"));
    for node in [a, b, c] {
        node.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_back_from_offline_catches_up() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path()).await;
    let b = start(dir_b.path()).await;
    b.dial(a.addresses()[0].clone()).await.unwrap();
    make_files(&a, "before", 5).await;
    converge(&[&a, &b], &version(&a).await).await;

    let peer_b = b.peer_id();
    b.shutdown().await.unwrap();
    make_files(&a, "while-away", 50).await;
    let target = version(&a).await;

    let b = start(dir_b.path()).await;
    assert_eq!(b.peer_id(), peer_b);
    b.dial(a.addresses()[0].clone()).await.unwrap();
    converge(&[&a, &b], &target).await;
    let text = b.read(|tree| tree.read_text("while-away49.txt").ok()).await.unwrap();
    assert_eq!(text.as_deref(), Some("while-away 49"));
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
