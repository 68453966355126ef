//! Two replicas of one working copy in one process, each with a real
//! directory (`git init`ed), a real RocksDB store, and a `DiskSync`; the
//! test pumps operations between them.

#![allow(dead_code)]

use memo_core::tree::EmptyBase;
use memo_core::TreeOp;
use memo_node::disk::{DiskConfig, DiskSync, SyncReport};
use memo_node::Replica;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;

pub struct Node {
    pub dir: TempDir,
    pub store: TempDir,
    pub replica: Replica,
    pub disk: DiskSync,
    pub config: DiskConfig,
}

impl Node {
    pub fn new(config: DiskConfig) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        git(dir.path(), &["init", "-q"]);
        Node::on(dir, config)
    }

    /// A node on an existing working copy, with a fresh store.
    pub fn on(dir: TempDir, config: DiskConfig) -> Node {
        let store = tempfile::tempdir().expect("temp dir");
        let config = config.with_state_file(store.path().join("disk-state"));
        let replica = Replica::open(store.path().join("store"), Arc::new(EmptyBase)).expect("store opens");
        let disk = DiskSync::open(dir.path(), config.clone()).expect("working copy opens");
        Node { dir, store, replica, disk, config }
    }

    /// The node stopped without warning (nothing closed) and started again
    /// on the same directory and store.
    pub fn restart(self) -> Node {
        let Node { dir, store, replica, disk, config } = self;
        drop(disk);
        drop(replica);
        let replica = Replica::open(store.path().join("store"), Arc::new(EmptyBase)).expect("store reopens");
        let disk = DiskSync::open(dir.path(), config.clone()).expect("working copy opens");
        Node { dir, store, replica, disk, config }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("in the root")).expect("mkdir -p");
        std::fs::write(path, content).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn rescan(&mut self) -> Vec<TreeOp> {
        self.disk.rescan(&mut self.replica).expect("rescan").ops
    }

    pub fn ingest(&mut self, rels: &[&str]) -> SyncReport {
        let hints: Vec<PathBuf> = rels.iter().map(|rel| self.path(rel)).collect();
        self.disk.ingest(&mut self.replica, &hints).expect("ingest")
    }

    /// Takes a peer's operations and writes them out; returns the local
    /// operations made on the way (a user's change found in the way).
    pub fn receive(&mut self, ops: &[TreeOp]) -> Vec<TreeOp> {
        for op in ops {
            let _ = self.replica.receive(op.clone());
        }
        self.disk.materialize(&mut self.replica, ops).expect("materialize").ops
    }

    /// Every replicated file, link and directory under the root, `.git`
    /// left out: what a user sees.
    pub fn listing(&self) -> BTreeMap<String, String> {
        listing(self.dir.path())
    }
}

/// Paths under `root` with their content (`<dir>`, `-> target` for links).
pub fn listing(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir).expect("list") {
            let item = item.expect("entry");
            let path = item.path();
            let rel = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
            if rel == ".git" {
                continue;
            }
            let kind = item.file_type().expect("type");
            let shown = if kind.is_symlink() {
                format!("-> {}", std::fs::read_link(&path).expect("link").display())
            } else if kind.is_dir() {
                stack.push(path);
                "<dir>".to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned()
            };
            out.insert(rel, shown);
        }
    }
    out
}

pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

/// Two nodes whose disks settle at once (tests that write whole files).
pub fn pair() -> (Node, Node) {
    (Node::new(DiskConfig::default().without_settle()), Node::new(DiskConfig::default().without_settle()))
}

/// Rescans both and exchanges operations until neither has anything new.
pub fn sync(a: &mut Node, b: &mut Node) {
    let mut from_a = a.rescan();
    let mut from_b = b.rescan();
    for _ in 0..10 {
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        let back_to_a = b.receive(&from_a);
        let back_to_b = a.receive(&from_b);
        from_a = back_to_b;
        from_b = back_to_a;
    }
    panic!("the nodes did not settle");
}
