//! Bundles between real daemons that never meet: two clones of one
//! working copy (joined by a ticket without addresses, mDNS off), so the
//! only way operations travel is `memo bundle export` / `memo bundle
//! import`.

mod common;

use common::daemons::{Daemon, WorkingCopy};
use memo_core::protocol::bundle::{self, BundleKey};
use memo_core::ticket::Ticket;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

fn import(wc: &WorkingCopy, file: &Path) -> Output {
    wc.memo(&["bundle", "import", "--json", file.to_str().unwrap()])
}

fn imported(wc: &WorkingCopy, file: &Path) -> Value {
    let out = import(wc, file);
    assert!(out.status.success(), "memo bundle import: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(wc: &WorkingCopy, file: &Path) -> String {
    let out = import(wc, file);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The version the daemon holds, from the last run of its log.
fn version(daemon: &Daemon) -> Value {
    let log = daemon.call("history/log", Value::Null);
    log["runs"].as_array().and_then(|runs| runs.last()).map(|run| run["version"].clone()).unwrap_or(json!({}))
}

#[test]
fn a_bundle_carries_edits_between_daemons_that_never_meet() {
    let (a, b) = (WorkingCopy::new(), WorkingCopy::new());
    let ticket = a.share();
    assert!(Ticket::decode(&ticket).unwrap().addresses.is_empty(), "no daemon ran: the ticket names no address");
    b.join(&ticket);
    let (daemon_a, daemon_b) = (a.start_daemon(), b.start_daemon());
    daemon_a.edit(1, 40);
    assert_ne!(daemon_a.state(), daemon_b.state());

    let files = tempfile::tempdir().unwrap();
    let all = files.path().join("all.memo");
    let out = a.memo(&["bundle", "export", "-o", all.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let first = imported(&b, &all);
    assert_eq!(first["known"], 0, "{first}");
    assert!(first["applied"].as_u64().unwrap() > 0 && first["refused"] == 0, "{first}");
    assert_eq!(daemon_a.state(), daemon_b.state(), "B holds what A holds");

    // Importing again changes nothing.
    let again = imported(&b, &all);
    assert_eq!((&again["known"], &again["applied"]), (&again["operations"], &json!(0)), "{again}");
    assert_eq!(daemon_a.state(), daemon_b.state());

    // B edits; a bundle of what A lacks (to stdout) brings A level.
    let a_has = version(&daemon_a);
    daemon_b.edit(2, 30);
    let out = b.memo(&["bundle", "export", "--since", &a_has.to_string()]);
    assert!(out.status.success(), "{out:?}");
    let since = files.path().join("since.memo");
    std::fs::write(&since, &out.stdout).unwrap();
    let whole = b.memo(&["bundle", "export"]);
    assert!(out.stdout.len() < whole.stdout.len(), "--since leaves out what A holds");
    let taken = imported(&a, &since);
    assert_eq!(taken["known"], 0, "only what A lacks: {taken}");
    assert_eq!(daemon_a.state(), daemon_b.state(), "A holds what B holds");
    assert_eq!(imported(&a, &files.path().join("all.memo"))["applied"], 0, "A's own operations change nothing");
}

#[test]
fn damaged_foreign_and_unauthenticated_bundles_are_refused() {
    let (a, b, c) = (WorkingCopy::new(), WorkingCopy::new(), WorkingCopy::new());
    let ticket = Ticket::decode(&a.share()).unwrap();
    b.join(&ticket.encode().unwrap());
    c.share();
    let (daemon_a, daemon_b, _daemon_c) = (a.start_daemon(), b.start_daemon(), c.start_daemon());
    daemon_a.edit(3, 20);
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("good.memo");
    assert!(a.memo(&["bundle", "export", "-o", good.to_str().unwrap()]).status.success());
    let bytes = std::fs::read(&good).unwrap();

    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x20;
    let damaged_file = files.path().join("damaged.memo");
    std::fs::write(&damaged_file, &damaged).unwrap();
    assert!(refused(&b, &damaged_file).contains("changed after it was made"));

    let ops = bundle::decode(&bytes, &ticket.working_copy, &BundleKey::from_secret(&ticket.secret)).unwrap();
    let forged = bundle::encode(&ticket.working_copy, &BundleKey::from_secret(&[0; 32]), &ops);
    let forged_file = files.path().join("forged.memo");
    std::fs::write(&forged_file, forged).unwrap();
    assert!(refused(&b, &forged_file).contains("not made with this working copy's secret"));

    assert!(refused(&c, &good).contains("is of working copy"));
    let not_a_bundle = files.path().join("notes.txt");
    std::fs::write(&not_a_bundle, "hello").unwrap();
    assert!(refused(&b, &not_a_bundle).contains("not a Memo bundle"));

    let before = daemon_b.state();
    assert_eq!(before.1, 0, "nothing of a refused bundle was taken");
    assert!(imported(&b, &good)["applied"].as_u64().unwrap() > 0);
    assert_eq!(daemon_a.state(), daemon_b.state());
}
