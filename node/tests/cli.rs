//! The `memo` binary as a user runs it: `memo store-info` finds the store
//! of the working copy it is run in, never makes one, and says what to do
//! when there is none.

use std::path::Path;
use std::process::{Command, Output};

fn memo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memo")).args(args).current_dir(dir).env_remove("MEMO_STORE").output().unwrap()
}

#[test]
fn store_info_reads_the_working_copys_store_and_never_makes_one() {
    let wc = tempfile::tempdir().unwrap();
    let git = Command::new("git").args(["init", "-q"]).current_dir(wc.path()).status().unwrap();
    assert!(git.success());
    let store = wc.path().join(".git/memo/store");

    let none = memo(wc.path(), &["store-info"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no store at"), "{none:?}");
    assert!(!store.exists(), "looking made a store");

    let stream = memo(wc.path(), &["debug-append-stream", store.to_str().unwrap(), "7", "40"]);
    assert!(stream.status.success(), "{stream:?}");
    std::fs::create_dir_all(wc.path().join("src")).unwrap();
    let info = memo(&wc.path().join("src"), &["store-info", "--json"]);
    assert!(info.status.success(), "{info:?}");
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(json["operations"].as_u64().unwrap() > 0);
    assert_eq!(json["store"].as_str().unwrap(), std::path::absolute(&store).unwrap().to_str().unwrap());

    // --store (or MEMO_STORE) points anywhere.
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("store");
    std::fs::rename(&store, &moved).unwrap();
    let info = memo(Path::new("/"), &["store-info", "--store", moved.to_str().unwrap()]);
    assert!(info.status.success(), "{info:?}");
    assert!(String::from_utf8_lossy(&info.stdout).contains("operations"));
}
