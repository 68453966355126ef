//! Git and the working copy, with real repositories and `memo daemon`
//! processes: a commit, a checkout, an amend on one clone move every
//! clone's HEAD (fetching commits a clone lacks from a peer), the others'
//! uncommitted edits stay, concurrent checkouts end on one HEAD, and a
//! clone without the working copy's commit joins.

mod common;

use common::daemons::{git, Daemon, WorkingCopy};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// An upstream with `main` (the base) and two branches off it, `feature`
/// and `topic`, each changing `lib.rs` and adding a file.
fn upstream() -> WorkingCopy {
    let upstream = WorkingCopy::committed(&[
        ("README.md", "# Project\n"),
        ("src/lib.rs", "fn a() {}\n\nfn b() {}\n\nfn c() {}\n"),
    ]);
    git(upstream.path(), &["branch", "-M", "main"]);
    for (branch, body, file) in [
        ("feature", "fn a() { 1 }\n\nfn b() {}\n\nfn c() {}\n", "feature.txt"),
        ("topic", "fn a() {}\n\nfn b() {}\n\nfn c() { 3 }\n", "topic.txt"),
    ] {
        git(upstream.path(), &["checkout", "-q", "-b", branch, "main"]);
        std::fs::write(upstream.path().join("src/lib.rs"), body).unwrap();
        std::fs::write(upstream.path().join(file), format!("{branch}\n")).unwrap();
        git(upstream.path(), &["add", "-A"]);
        git(upstream.path(), &["commit", "-q", "-m", branch]);
    }
    git(upstream.path(), &["checkout", "-q", "main"]);
    upstream
}

/// Two clones of `upstream`'s `main`, shared and joined, daemons running.
fn pair(upstream: &WorkingCopy) -> (WorkingCopy, WorkingCopy, Daemon, Daemon) {
    let (a, b) = (WorkingCopy::clone_of(upstream.path()), WorkingCopy::clone_of(upstream.path()));
    a.share();
    let daemon_a = a.start_daemon();
    b.join(&a.share());
    let daemon_b = b.start_daemon();
    (a, b, daemon_a, daemon_b)
}

fn git_output(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn head(dir: &Path) -> String {
    git_output(dir, &["rev-parse", "HEAD"])
}

/// The branch HEAD is on; empty when detached.
fn branch(dir: &Path) -> String {
    git_output(dir, &["symbolic-ref", "--short", "-q", "HEAD"])
}

/// `git status --porcelain`, sorted.
fn status(dir: &Path) -> Vec<String> {
    let out = Command::new("git").args(["status", "--porcelain"]).current_dir(dir).output().unwrap();
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Every file of the working copy (`.git` left out) with its content.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap().flatten() {
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            match path.is_dir() {
                true => stack.push(path),
                false => {
                    let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                    found.insert(name, std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
    }
    found
}

/// Waits until `done` holds, or fails with `what` and the daemons' logs.
fn wait_until(what: &str, daemons: &[&Daemon], mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + common::PATIENCE;
    while !done() {
        if Instant::now() > deadline {
            let logs: Vec<String> = daemons.iter().map(|d| d.log_text()).collect();
            panic!("{what}: not after {:?}\n{}", common::PATIENCE, logs.join("\n-----\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_commit_on_one_clone_moves_the_others_head_and_branch() {
    let upstream = upstream();
    let (a, b, daemon_a, daemon_b) = pair(&upstream);
    std::fs::write(a.path().join("plan.md"), "step one\n").unwrap();
    wait_until("plan.md on b", &[&daemon_b], || b.path().join("plan.md").exists());
    git(a.path(), &["add", "-A"]);
    git(a.path(), &["commit", "-q", "-m", "plan"]);
    let commit = head(a.path());
    // b never fetched it: its daemon gets it from a's.
    wait_until("b's HEAD at a's commit", &[&daemon_a, &daemon_b], || head(b.path()) == commit);
    assert_eq!(branch(b.path()), "main", "b's main moved along");
    wait_until("b's index at the commit's tree", &[&daemon_b], || status(b.path()).is_empty());
    assert_eq!(git_output(b.path(), &["show", "HEAD:plan.md"]), "step one");
    let log: serde_json::Value = serde_json::from_slice(&b.memo(&["log", "--json"]).stdout).unwrap();
    let commits = log["commits"].as_array().cloned().unwrap_or_default();
    assert!(commits.iter().any(|c| c["commit"] == commit.as_str()), "in the commit map: {log}");
}

#[test]
fn a_checkout_on_one_clone_is_followed_and_the_others_edits_stay() {
    let upstream = upstream();
    let (a, b, daemon_a, daemon_b) = pair(&upstream);
    let daemons = [&daemon_a, &daemon_b];
    // b's uncommitted work: an edit of a file the checkout leaves alone,
    // an edit of a file it changes, and a new file.
    std::fs::write(b.path().join("README.md"), "# Project\n\nb's notes\n").unwrap();
    std::fs::write(b.path().join("src/lib.rs"), "fn a() {}\n\nfn b() { 2 }\n\nfn c() {}\n").unwrap();
    std::fs::write(b.path().join("draft.txt"), "b's draft\n").unwrap();
    wait_until("b's edits on a", &daemons, || files(a.path()) == files(b.path()));
    // b's edit of lib.rs is on a's disk too: Git carries it over with -m
    // (a three-way merge), as it would a's own.
    git(a.path(), &["checkout", "-q", "-m", "feature"]);
    let feature = head(a.path());
    wait_until("b's HEAD on feature", &daemons, || head(b.path()) == feature);
    wait_until("both disks equal", &daemons, || files(a.path()) == files(b.path()));
    assert_eq!(branch(b.path()), "feature", "b switched to a branch of the same name");
    let on_b = files(b.path());
    assert_eq!(on_b["feature.txt"], "feature\n");
    assert_eq!(on_b["README.md"], "# Project\n\nb's notes\n", "b's edit stays");
    assert_eq!(on_b["draft.txt"], "b's draft\n", "b's new file stays");
    assert_eq!(on_b["src/lib.rs"], "fn a() { 1 }\n\nfn b() { 2 }\n\nfn c() {}\n", "the checkout and b's edit, merged");
    let uncommitted = [" M README.md", " M src/lib.rs", "?? draft.txt"];
    wait_until("what is uncommitted, on b", &daemons, || status(b.path()) == uncommitted);
    wait_until("the same on a", &daemons, || status(a.path()) == uncommitted);
}

#[test]
fn concurrent_checkouts_end_on_one_head_everywhere() {
    let upstream = upstream();
    let (a, b, daemon_a, daemon_b) = pair(&upstream);
    let daemons = [&daemon_a, &daemon_b];
    let both = std::thread::scope(|scope| {
        let on_a = scope.spawn(|| git(a.path(), &["checkout", "-q", "feature"]));
        git(b.path(), &["checkout", "-q", "topic"]);
        on_a.join()
    });
    both.unwrap();
    wait_until("one HEAD", &daemons, || {
        let (ha, hb) = (head(a.path()), head(b.path()));
        ha == hb && branch(a.path()) == branch(b.path()) && files(a.path()) == files(b.path())
    });
    let (on, ours) = (branch(a.path()), files(a.path()));
    assert!(on == "feature" || on == "topic", "on {on}");
    assert_eq!(ours.get(&format!("{on}.txt")).map(String::as_str), Some(&*format!("{on}\n")), "{ours:?}");
}

#[test]
fn an_amend_moves_every_head_and_replication_goes_on() {
    let upstream = upstream();
    let (a, b, daemon_a, daemon_b) = pair(&upstream);
    let daemons = [&daemon_a, &daemon_b];
    std::fs::write(a.path().join("x.txt"), "x\n").unwrap();
    wait_until("x.txt on b", &daemons, || b.path().join("x.txt").exists());
    git(a.path(), &["add", "-A"]);
    git(a.path(), &["commit", "-q", "-m", "x"]);
    let first = head(a.path());
    wait_until("b at the commit", &daemons, || head(b.path()) == first);
    // The amend: HEAD moves to a commit that does not descend from the last.
    std::fs::write(a.path().join("x.txt"), "x, amended\n").unwrap();
    git(a.path(), &["commit", "-q", "-a", "--amend", "-m", "x, amended"]);
    let amended = head(a.path());
    wait_until("b at the amended commit", &daemons, || head(b.path()) == amended);
    wait_until("b's x.txt amended", &daemons, || {
        files(b.path()).get("x.txt").map(String::as_str) == Some("x, amended\n")
    });
    assert_eq!(branch(b.path()), "main", "b's main, which followed the working copy, moved to the amend");
    std::fs::write(a.path().join("y.txt"), "after the amend\n").unwrap();
    wait_until("y.txt on b", &daemons, || b.path().join("y.txt").exists());
    wait_until("only y.txt uncommitted on b", &daemons, || status(b.path()) == ["?? y.txt"]);
}

#[test]
fn a_clone_without_the_commit_joins_and_gets_it_from_a_peer() {
    let upstream = upstream();
    let a = WorkingCopy::clone_of(upstream.path());
    // The working copy stands on a commit only a has.
    std::fs::write(a.path().join("local.md"), "never pushed\n").unwrap();
    git(a.path(), &["add", "-A"]);
    git(a.path(), &["commit", "-q", "-m", "local"]);
    a.share();
    let daemon_a = a.start_daemon();
    std::fs::write(a.path().join("uncommitted.txt"), "live\n").unwrap();
    // b is an empty repository: no fetch, no clone.
    let b = WorkingCopy::new();
    let join = b.memo(&["join", "--no-daemon", &a.share()]);
    assert!(join.status.success(), "{join:?}");
    assert!(String::from_utf8_lossy(&join.stderr).contains("fetching it from a peer"), "{join:?}");
    assert_eq!(head(b.path()), head(a.path()), "b checked out the base");
    let daemon_b = b.start_daemon();
    wait_until("both disks equal", &[&daemon_a, &daemon_b], || files(a.path()) == files(b.path()));
    assert_eq!(files(b.path())["local.md"], "never pushed\n");
    wait_until("only uncommitted.txt uncommitted on b", &[&daemon_b], || status(b.path()) == ["?? uncommitted.txt"]);
}

#[test]
fn a_clone_joining_after_a_commit_follows_it_and_takes_nobody_back() {
    let upstream = upstream();
    let a = WorkingCopy::clone_of(upstream.path());
    a.share();
    let daemon_a = a.start_daemon();
    std::fs::write(a.path().join("later.md"), "committed after sharing\n").unwrap();
    wait_until("later.md read on a", &[&daemon_a], || {
        let status = daemon_a.call("status", serde_json::Value::Null);
        status["node"]["operations"].as_u64().unwrap_or(0) > 0
    });
    git(a.path(), &["add", "-A"]);
    git(a.path(), &["commit", "-q", "-m", "later"]);
    let commit = head(a.path());
    // b joins at the base, which the working copy's HEAD has left.
    let b = WorkingCopy::clone_of(upstream.path());
    b.join(&a.share());
    let daemon_b = b.start_daemon();
    let daemons = [&daemon_a, &daemon_b];
    wait_until("b at a's commit", &daemons, || head(b.path()) == commit);
    wait_until("both disks equal", &daemons, || files(a.path()) == files(b.path()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(head(a.path()), commit, "a stays where it was: b's old HEAD leads nobody");
    assert_eq!(head(b.path()), commit);
}
