//! Bounds and hostile peers over real TCP on loopback (no mDNS, nothing
//! outside 127.0.0.1): a member gone bad (a bare libp2p swarm holding the
//! secret) that publishes garbage, answers catch-up with garbage, or
//! floods operations from the far future; and operations too large for
//! gossip. The honest members keep converging throughout.

mod common;

use futures::StreamExt;
use libp2p::request_response;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use memo_core::causal::Bounds;
use memo_core::tree::{Content, EmptyBase, TreeApplyError};
use memo_core::{ReplicaId, TreeOp, WorkTree};
use memo_node::catchup::{Request, Response};
use memo_node::net::{self, Behaviour, BehaviourEvent, Node, WorkingCopySecret};
use memo_node::replica::ReceiveError;
use memo_node::store::OpKey;
use memo_node::Replica;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CATCHUP: Duration = Duration::from_millis(200);
const WORKING_COPY: &[u8] = b"test working copy";

async fn start(dir: &Path) -> Node {
    common::start_node(dir, common::MEMBERS, CATCHUP).await
}

/// Polls `check` until it holds, or fails after [`common::PATIENCE`].
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn has_text(node: &Node, path: &'static str, text: String) -> bool {
    node.read(move |tree| tree.read_text(path).is_ok_and(|t| t == text)).await.unwrap()
}

/// The honest members make a change each and see the other's.
async fn members_converge(a: &Node, b: &Node, round: usize) {
    let (from_a, from_b) = (format!("a{round}"), format!("b{round}"));
    let path_a: &'static str = Box::leak(format!("{from_a}.txt").into_boxed_str());
    let path_b: &'static str = Box::leak(format!("{from_b}.txt").into_boxed_str());
    let text = from_a.clone();
    a.change(move |tree| tree.create_text(path_a, &text)).await.unwrap().unwrap();
    let text = from_b.clone();
    b.change(move |tree| tree.create_text(path_b, &text)).await.unwrap().unwrap();
    eventually("a's change on b", || has_text(b, path_a, from_a.clone())).await;
    eventually("b's change on a", || has_text(a, path_b, from_b.clone())).await;
}

/// A member gone bad, driven in the background: it redials `target`
/// whenever it is not connected, calls `act` every 50 ms and `react` on
/// every event, and counts the connections it lost.
struct Rogue {
    peer: PeerId,
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Rogue {
    fn start(
        target: Multiaddr,
        mut act: impl FnMut(&mut Swarm<Behaviour>) + Send + 'static,
        mut react: impl FnMut(&mut Swarm<Behaviour>, BehaviourEvent) + Send + 'static,
    ) -> Rogue {
        let keypair = libp2p::identity::Keypair::generate_ed25519();
        let secret = WorkingCopySecret::new(common::MEMBERS);
        let mut swarm = net::new_swarm(keypair, &secret, net::HANDSHAKE_TIMEOUT).unwrap();
        for topic in [net::topic_for(WORKING_COPY), net::announce_topic_for(WORKING_COPY)] {
            swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
        }
        let (peer, closed) = (*swarm.local_peer_id(), Arc::new(AtomicUsize::new(0)));
        let counter = closed.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::Behaviour(event) => react(&mut swarm, event),
                        SwarmEvent::ConnectionClosed { .. } => drop(counter.fetch_add(1, Ordering::SeqCst)),
                        _ => {}
                    },
                    _ = tick.tick() => {
                        if swarm.connected_peers().next().is_none() {
                            let _ = swarm.dial(target.clone());
                        }
                        act(&mut swarm);
                    }
                }
            }
        });
        Rogue { peer, closed, task }
    }

    /// Waits until `member` has banned the rogue: it lost a connection,
    /// and for a while after, redialing all along, it never shows among
    /// the member's peers again.
    async fn wait_until_banned_by(&self, member: &Node) {
        eventually("the rogue's disconnection", || async {
            self.closed.load(Ordering::SeqCst) > 0 && !member.connected_peers().await.unwrap().contains(&self.peer)
        })
        .await;
        let until = tokio::time::Instant::now() + CATCHUP * 10;
        while tokio::time::Instant::now() < until {
            assert!(!member.connected_peers().await.unwrap().contains(&self.peer), "the banned rogue is back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers every catch-up request with `answer`; ignores the rest.
fn answer_catchup(
    mut answer: impl FnMut(&Request) -> Response + Send + 'static,
) -> impl FnMut(&mut Swarm<Behaviour>, BehaviourEvent) + Send + 'static {
    move |swarm, event| {
        if let BehaviourEvent::Catchup(request_response::Event::Message {
            message: request_response::Message::Request { request, channel, .. },
            ..
        }) = event
        {
            let _ = swarm.behaviour_mut().catchup.send_response(channel, answer(&request));
        }
    }
}

/// The members converge while the rogue sends garbage to `a`, which bans
/// it; they go on converging after, and nothing of the garbage applied.
async fn banned_while_members_converge(a: Node, b: Node, rogue: Rogue) {
    members_converge(&a, &b, 0).await;
    rogue.wait_until_banned_by(&a).await;
    members_converge(&a, &b, 1).await;
    assert_eq!(a.read(|tree| tree.paths().len()).await.unwrap(), 4, "no garbage applied");
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

async fn two_members() -> (Node, Node, [tempfile::TempDir; 2]) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = start(dirs[0].path()).await;
    let b = start(dirs[1].path()).await;
    b.dial(a.addresses()[0].clone()).await.unwrap();
    (a, b, dirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_keeps_publishing_garbage_is_banned_and_the_members_keep_converging() {
    let (a, b, _dirs) = two_members().await;
    let topic = net::topic_for(WORKING_COPY);
    let mut sent = 0;
    let rogue = Rogue::start(
        a.addresses()[0].clone(),
        move |swarm| {
            let garbage = format!("not an operation {sent}").into_bytes();
            sent += usize::from(swarm.behaviour_mut().gossipsub.publish(topic.clone(), garbage).is_ok());
        },
        |_, _| {},
    );
    banned_while_members_converge(a, b, rogue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_answers_catch_up_with_garbage_is_banned_and_the_members_keep_converging() {
    let (a, b, _dirs) = two_members().await;
    // Bytes that are no operation, and an operation that fails the check
    // (a name with a slash).
    let mut author = WorkTree::new(ReplicaId::from_u128(9), Arc::new(EmptyBase));
    let mut bad = author.create_dir("fine").unwrap();
    if let memo_core::tree::TreeOpKind::Create { name, .. } = &mut bad.kind {
        *name = "../../etc".into();
    }
    let ops = vec![b"garbage".to_vec(), bad.encode()];
    let rogue = Rogue::start(
        a.addresses()[0].clone(),
        |_| {},
        answer_catchup(move |_| Response::Ops { ops: ops.clone(), more: false }),
    );
    banned_while_members_converge(a, b, rogue).await;
}

/// `count` binary files of `size` bytes by a replica of its own: the
/// operations, in order.
fn binary_files(count: usize, size: usize) -> Vec<TreeOp> {
    let mut author = WorkTree::new(ReplicaId::from_u128(77), Arc::new(EmptyBase));
    (0..count).map(|i| author.create_binary(&format!("flood{i}.bin"), vec![i as u8; size], false).unwrap()).collect()
}

#[test]
fn an_operation_the_full_buffer_cannot_take_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut replica = Replica::open(dir.path().join("store"), Arc::new(EmptyBase)).unwrap();
    replica.set_pending_bounds(Bounds { ops: 3, bytes: usize::MAX });
    let ops = binary_files(10, 10);
    for op in &ops[1..4] {
        assert_eq!(replica.receive(op.clone()).unwrap(), 0, "waits");
    }
    let full = replica.receive(ops[4].clone());
    assert!(matches!(full, Err(ReceiveError::Refused(TreeApplyError::BufferFull(_)))), "{full:?}");
    assert!(!replica.store().contains(OpKey::of(&ops[4])).unwrap(), "dropped, so not stored");
    assert!(replica.store().contains(OpKey::of(&ops[3])).unwrap());
    // In order, everything applies (as catch-up delivers it).
    for op in ops {
        replica.receive(op).unwrap();
    }
    assert_eq!(replica.tree().paths().len(), 10);
    assert_eq!(replica.tree().pending_size(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_far_future_operations_stays_within_the_bound_and_the_node_still_converges() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let bounds = Bounds { ops: 50, bytes: 64 << 10 };
    let a = common::start_node_with(dirs[0].path(), common::MEMBERS, CATCHUP, |c| c.pending_bounds = bounds).await;
    let b = start(dirs[1].path()).await;
    b.dial(a.addresses()[0].clone()).await.unwrap();

    // 300 operations of 4 KiB: all but the first gossiped, so none is
    // ready; the rogue answers catch-up only once told to.
    let ops = binary_files(300, 4 << 10);
    let total = ops.len() as u64;
    let encoded: Vec<Vec<u8>> = ops.iter().map(TreeOp::encode).collect();
    let honest = Arc::new(AtomicBool::new(false));
    let (topic, mut next, flood) = (net::topic_for(WORKING_COPY), 1, encoded.clone());
    let answers = honest.clone();
    let rogue = Rogue::start(
        a.addresses()[0].clone(),
        move |swarm| {
            // A few a tick, so that the test sees the buffer fill.
            for _ in 0..10 {
                if next < flood.len()
                    && swarm.behaviour_mut().gossipsub.publish(topic.clone(), flood[next].clone()).is_ok()
                {
                    next += 1;
                }
            }
        },
        answer_catchup(move |request| {
            let Request::Have(have) = request;
            if !answers.load(Ordering::SeqCst) {
                return Response::Busy;
            }
            let missing = encoded.iter().zip(&ops).filter(|(_, op)| !have.contains_range(&op.range()));
            Response::Ops { ops: missing.map(|(bytes, _)| bytes.clone()).take(100).collect(), more: true }
        }),
    );

    let within = |(count, bytes): (usize, usize)| count <= bounds.ops && bytes <= bounds.bytes;
    eventually("a full buffer", || async {
        let size = a.read(|tree| tree.pending_size()).await.unwrap();
        assert!(within(size), "{size:?} waits, over {bounds:?}");
        size.1 + (4 << 10) > bounds.bytes
    })
    .await;
    // The flood goes on; the buffer stays within its bounds, and the
    // members keep converging.
    for round in 0..3 {
        members_converge(&a, &b, round).await;
        let size = a.read(|tree| tree.pending_size()).await.unwrap();
        assert!(within(size), "{size:?} waits, over {bounds:?}");
    }

    // Once the rogue serves catch-up, what did not fit arrives in order.
    honest.store(true, Ordering::SeqCst);
    let author = ReplicaId::from_u128(77);
    for node in [&a, &b] {
        eventually("the whole flood, in order", || async {
            node.read(move |tree| tree.version().get(author)).await.unwrap() == total
        })
        .await;
    }
    assert_eq!(a.read(|tree| tree.pending_size()).await.unwrap(), (0, 0));
    drop(rogue);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5_mib_binary_and_a_2_mib_text_paste_replicate_by_announcement_and_catch_up() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    // No periodic catch-up: after the first exchange on connecting, only
    // the announcements can bring the large operations.
    let never = Duration::from_secs(3600);
    let a = common::start_node(dirs[0].path(), common::MEMBERS, never).await;
    let b = common::start_node(dirs[1].path(), common::MEMBERS, never).await;
    b.dial(a.addresses()[0].clone()).await.unwrap();
    eventually("b subscribed on a", || async { a.subscribed_peers().await.unwrap().contains(&b.peer_id()) }).await;

    // One change at a time, each ending in a large operation: nothing
    // after it could make b notice that it lacks it.
    let binary: Vec<u8> = (0..5u32 << 20).map(|i| (i % 251) as u8).collect();
    let content = binary.clone();
    a.change(move |tree| tree.create_binary("big.bin", content, false).map(|op| vec![op])).await.unwrap().unwrap();
    eventually("the 5 MiB file on b", || {
        let binary = binary.clone();
        let b = &b;
        async move {
            b.read(move |tree| matches!(tree.read("big.bin"), Ok(Content::Binary(c)) if c == binary)).await.unwrap()
        }
    })
    .await;

    let text: String = (0..2usize << 20).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let paste = text.clone();
    a.change(move |tree| tree.create_text("paste.txt", &paste)).await.unwrap().unwrap();
    eventually("the 2 MiB paste on b", || has_text(&b, "paste.txt", text.clone())).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
