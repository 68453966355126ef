//! The daemon's own methods: `status`, `peers`, `ticket`, `stop` (a clean
//! shutdown, as SIGTERM: `memo down`); and, for tests
//! and benchmarks, `debug.stream` (`{seed, count}`: that many steps of the
//! seeded stream of [`crate::debug::step`] as local changes) and
//! `debug.tree` (a digest of the tree's paths and contents, to compare
//! replicas).

use super::{no_method, stopped};
use crate::control::{code, RpcError};
use crate::membership::Membership;
use crate::net::NodeHandle;
use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use serde_json::{json, Value};
use std::convert::Infallible;

pub(super) async fn call(
    node: &NodeHandle,
    membership: &Membership,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    match method {
        "status" => {
            let status = node.status().await.map_err(stopped)?;
            let scanned = crate::daemon::scanned();
            Ok(
                json!({ "working_copy": membership.id_hex(), "name": membership.name, "scanned": scanned, "node": status }),
            )
        }
        "peers" => Ok(json!(node.status().await.map_err(stopped)?.peers)),
        "stop" => {
            crate::daemon::request_stop();
            Ok(json!({}))
        }
        "ticket" => {
            let listening = node.status().await.map_err(stopped)?.listening;
            let own = |a: Multiaddr| a.with(Protocol::P2p(node.peer_id()));
            let ticket = membership.ticket(&shareable(&listening.into_iter().map(own).collect::<Vec<_>>()));
            let text = ticket.encode().map_err(|e| RpcError::new(code::INTERNAL, e.to_string()))?;
            Ok(json!({ "ticket": text, "name": membership.name, "working_copy": membership.id_hex() }))
        }
        "debug.stream" => {
            let number = |key: &str| params.get(key).and_then(Value::as_u64);
            let (Some(seed), Some(count)) = (number("seed"), number("count")) else {
                return Err(RpcError::new(code::INVALID_PARAMS, "debug.stream wants {\"seed\": n, \"count\": n}"));
            };
            let made = node
                .change(move |tree| {
                    let ops: Vec<_> = (0..count).flat_map(|_| crate::debug::step(tree, seed)).collect();
                    Ok::<_, Infallible>(ops)
                })
                .await
                .map_err(stopped)?
                .map_err(|e| RpcError::new(code::INTERNAL, e.to_string()))?;
            Ok(json!({ "operations": made.len() }))
        }
        "debug.tree" => {
            let (paths, digest) =
                node.read(|tree| (tree.paths().len(), crate::debug::digest(tree))).await.map_err(stopped)?;
            Ok(json!({ "paths": paths, "digest": digest }))
        }
        _ => Err(no_method()),
    }
}

/// The addresses to put in a ticket: the node's, other machines' view
/// first (loopback last: it reaches only this machine).
fn shareable(addresses: &[Multiaddr]) -> Vec<Multiaddr> {
    let is_loopback = |a: &Multiaddr| {
        a.iter().any(|p| {
            matches!(p, Protocol::Ip4(ip) if ip.is_loopback()) || matches!(p, Protocol::Ip6(ip) if ip.is_loopback())
        })
    };
    let (mut out, loopback): (Vec<_>, Vec<_>) = addresses.iter().cloned().partition(|a| !is_loopback(a));
    out.extend(loopback);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_list_loopback_addresses_last() {
        let all: Vec<Multiaddr> =
            ["/ip4/127.0.0.1/tcp/1", "/ip4/10.0.0.2/tcp/1"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(shareable(&all), vec![all[1].clone(), all[0].clone()]);
    }
}
