//! The light client in Node.js merges with a native replica through
//! bundles: the WebAssembly module that `scripts/test` builds (`cargo build
//! -p memo-light --target wasm32-unknown-unknown`), loaded by
//! `light/js/merge.mjs` with Node's built-in `WebAssembly` and no npm
//! package. Without Node.js or the module, the test says so and passes,
//! except under CI (`CI` set), where that is a failure.

use memo_core::protocol::bundle::{self, BundleKey};
use memo_core::ticket::Ticket;
use memo_core::tree::MemoryBase;
use memo_core::{ReplicaId, WorkTree};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::SystemTime;

/// Skips the test with `why`, or fails it under CI.
fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why} (CI must run this test)");
    eprintln!("skipped: {why}");
}

/// The newest modification time of the Rust sources the module is built from.
fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let time = match path.is_dir() {
            true => newest_source(&path),
            false => entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH),
        };
        newest = newest.max(time);
    }
    newest
}

/// The module, built from the current sources (`MEMO_LIGHT_WASM` names
/// another one).
fn wasm() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("MEMO_LIGHT_WASM") {
        return Ok(path.into());
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("wasm32-unknown-unknown");
    let modified = |p: &PathBuf| p.metadata().and_then(|m| m.modified()).ok();
    let built = ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join("memo_light.wasm"))
        .filter_map(|path| Some((modified(&path)?, path)))
        .max();
    let build = "cargo build -p memo-light --target wasm32-unknown-unknown";
    let (time, path) = built.ok_or_else(|| format!("no memo_light.wasm under {}: run {build}", target.display()))?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sources = newest_source(&root.join("light/src")).max(newest_source(&root.join("core/src")));
    match sources <= time {
        true => Ok(path),
        false => Err(format!("{} is older than the sources: run {build}", path.display())),
    }
}

#[test]
fn a_node_js_light_client_merges_with_a_native_replica_through_bundles() {
    if Command::new("node").arg("--version").output().is_err() {
        return skip("no Node.js (`node`) on PATH");
    }
    let wasm = match wasm() {
        Ok(wasm) => wasm,
        Err(why) => return skip(&why),
    };
    let ticket = Ticket { working_copy: [7; 16], name: "wc".into(), secret: [42; 32], base: vec![], addresses: vec![] };
    let key = BundleKey::from_secret(&ticket.secret);
    let base = Arc::new(MemoryBase::new().file("README.md", "Memo\n"));
    let mut native = WorkTree::new(ReplicaId::from_u128(1), base);
    native.create_dir("docs").unwrap();
    native.create_text("docs/notes.txt", "hello world\n").unwrap();
    native.edit_text("README.md", 5, 5, "light client\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = native.ops_since(&Default::default());
    std::fs::write(dir.path().join("first.memo"), bundle::encode(&ticket.working_copy, &key, &first)).unwrap();
    // Made before the light client edits, given to it after: concurrent.
    let seen = native.version().clone();
    native.edit_text("docs/notes.txt", 6, 11, "there").unwrap();
    let concurrent = native.ops_since(&seen);
    std::fs::write(dir.path().join("concurrent.memo"), bundle::encode(&ticket.working_copy, &key, &concurrent))
        .unwrap();

    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("js/merge.mjs"))
        .args([wasm.as_os_str(), ticket.encode().unwrap().as_ref(), dir.path().as_os_str()])
        .output()
        .unwrap();
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    let light: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let theirs = bundle::decode(&std::fs::read(dir.path().join("light.memo")).unwrap(), &ticket.working_copy, &key)
        .expect("the light client's bundle is authenticated");
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|op| op.id.replica != native.replica()), "only what the native side lacks");
    for op in theirs {
        native.apply(op).unwrap();
    }
    assert_eq!(native.pending_size().0, 0);
    assert_eq!(light["paths"], serde_json::json!(native.paths()), "{light}");
    for path in ["README.md", "docs/notes.txt", "light/new.txt", "scratch.txt"] {
        assert_eq!(light["files"][path], native.read_text(path).unwrap(), "{path}: {light}");
    }
    // Two inserts at one place, neither seen by the other: either order
    // (FugueMax decides, by the light client's random replica id), never
    // interleaved; "world" deleted by one side while the other inserted
    // before it.
    let notes = native.read_text("docs/notes.txt").unwrap();
    assert!(["🎉 hello big there\n", "🎉 hello therebig \n"].contains(&notes.as_str()), "{notes:?}");
    assert_eq!(native.read_text("README.md").unwrap(), "MEMO\nlight client\n");
    assert_eq!(light["first"]["applied"], first.len(), "{light}");
    assert!(light["refused"].as_str().unwrap().contains("not a Memo bundle"), "{light}");
}
