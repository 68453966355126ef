//! The working copy's benchmark (issue 6): `cargo run -p memo-node
//! --release --example disk_bench` prints the tables of BENCHMARKS.md's
//! "Working copy on disk" section. It runs the release `memo` binary found
//! next to this example's directory (`target/release/memo`: build it first
//! with `cargo build -p memo-node --release --bin memo`, or name another
//! with `MEMO_BIN`). Everything is in a temporary directory, on loopback.
//!
//! - Save to disk: two `memo daemon` processes on two clones of one commit
//!   (mDNS off, listening on 127.0.0.1), and side by side in the same run
//!   two Syncthing instances sharing one folder (watcher on, its delay at
//!   the minimum of 1 s; discovery, relays, NAT, usage and crash reports
//!   off). A save is what an editor does: the whole file written to a
//!   temporary file beside it, then renamed into place. Timed from the
//!   rename on A to B's file holding exactly the new content (B's file is
//!   read every millisecond); p50 and p99 over the saves, each
//!   made 0.2 to 1.2 s after the last one arrived (drawn at random, the
//!   same for both). Without
//!   `syncthing` on the machine its column is skipped, and said so.
//! - Initial scan: a working copy of 50,000 small text files (500
//!   directories of 100), all committed in Git (the replica's base is that
//!   commit: the scan compares) and all uncommitted on an empty base (each
//!   file becomes a create). Each runs in a child process of its own, so
//!   that its peak memory is its own.
//!
//! `DISK_BENCH_SAVES` (default 100), `DISK_BENCH_DIRS` (500) and
//! `DISK_BENCH_FILES_PER_DIR` (100) change the sizes; `DISK_BENCH_SKIP`
//! (`memo`, `syncthing`, `scan`, comma-separated) leaves parts out.

use memo_core::tree::{BaseSnapshot, EmptyBase};
use memo_node::disk::{DiskConfig, DiskSync};
use memo_node::git::{self, GitBase};
use memo_node::Replica;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FILE: &str = "notes.txt";
/// The editor's temporary file (memo leaves `*.tmp` out, as editors' own).
const TEMP: &str = ".notes.txt.tmp";
/// How long one save may take to arrive before the run gives up.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(60);
/// The pause after a save arrived, before the next one (B's own write
/// settles; the next save is a new event for both systems): between 200
/// and 1,200 ms, drawn anew each time, so that saves fall at every phase of
/// a periodic timer (Syncthing's watcher flushes on a 1 s tick: with a
/// fixed pause, the saves lock to one phase of it).
const PAUSE_MS: std::ops::Range<u64> = 200..1_200;
/// Set in the child process that runs one initial scan.
const SCAN_CHILD: &str = "DISK_BENCH_SCAN_CHILD";
const API_KEY: &str = "memo-disk-bench-api-key";

fn size(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn skipped(part: &str) -> bool {
    std::env::var("DISK_BENCH_SKIP").is_ok_and(|v| v.split(',').any(|p| p.trim() == part))
}

fn main() {
    if let Ok(kind) = std::env::var(SCAN_CHILD) {
        let root = std::env::args().nth(1).expect("the working copy to scan");
        scan_child(&kind, Path::new(&root));
        return;
    }
    let saves = size("DISK_BENCH_SAVES", 100);
    println!("## Save on A to the complete file on B's disk ({saves} saves of a 4 KB text file, loopback)\n");
    let memo = match skipped("memo") {
        true => Err("skipped (DISK_BENCH_SKIP)".to_string()),
        false => memo_saves(saves),
    };
    let syncthing = match skipped("syncthing") {
        true => Err("skipped (DISK_BENCH_SKIP)".to_string()),
        false => syncthing_saves(saves),
    };
    print_saves(&memo, &syncthing);
    if !skipped("scan") {
        scans();
    }
}

/// Latencies, and each process's resident memory after the saves.
struct Saves {
    latencies: Vec<Duration>,
    memory: Vec<Memory>,
}

fn print_saves(memo: &Result<Saves, String>, syncthing: &Result<Saves, String>) {
    println!("| system | p50 | p99 | min | max | memory of A / B after the saves (RSS, peak) |");
    println!("|---|---:|---:|---:|---:|---|");
    for (name, result) in [("memo (2 `memo daemon`)", memo), ("Syncthing (fsWatcherDelayS=1)", syncthing)] {
        match result {
            Ok(saves) => {
                let sorted = sorted(&saves.latencies);
                let memory: Vec<String> = saves.memory.iter().map(Memory::show).collect();
                println!(
                    "| {name} | {} | {} | {} | {} | {} |",
                    ms(percentile(&sorted, 50)),
                    ms(percentile(&sorted, 99)),
                    ms(sorted[0]),
                    ms(sorted[sorted.len() - 1]),
                    memory.join(" / ")
                );
            }
            Err(why) => println!("| {name} | n/a | n/a | n/a | n/a | {why} |"),
        }
    }
    if let (Ok(memo), Ok(syncthing)) = (memo, syncthing) {
        let (memo, syncthing) = (sorted(&memo.latencies), sorted(&syncthing.latencies));
        let ratio = |p| percentile(&syncthing, p).as_secs_f64() / percentile(&memo, p).as_secs_f64();
        println!("\nSyncthing / memo: {:.1}x at p50, {:.1}x at p99 (above 1x: memo is faster).", ratio(50), ratio(99));
    }
    println!();
}

fn sorted(samples: &[Duration]) -> Vec<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() - 1) * p / 100]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The content of save `i`: about 4 KB of text, the first line counting.
fn content(i: usize) -> String {
    let mut text = format!("save {i}\n");
    for line in 0..64 {
        text.push_str(&format!("line {line:02}: the quick brown fox jumps over the lazy dog, again.\n"));
    }
    text
}

/// Saves `text` in `dir` as an editor does: a temporary file, renamed.
fn save(dir: &Path, text: &str) -> Instant {
    std::fs::write(dir.join(TEMP), text).expect("write the temporary file");
    let start = Instant::now();
    std::fs::rename(dir.join(TEMP), dir.join(FILE)).expect("rename into place");
    start
}

/// Waits until `path` holds exactly `text`, reading it every millisecond.
fn arrival(path: &Path, text: &str, timeout: Duration) -> Result<Instant, String> {
    let start = Instant::now();
    loop {
        if std::fs::read(path).is_ok_and(|bytes| bytes == text.as_bytes()) {
            return Ok(Instant::now());
        }
        if start.elapsed() > timeout {
            return Err(format!("{} did not arrive within {timeout:?}", path.display()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `count` saves on `a`, each timed until `b` has it, after one untimed
/// warm-up save.
fn timed_saves(a: &Path, b: &Path, count: usize) -> Result<Vec<Duration>, String> {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut pause = || {
        // xorshift64: the same pauses for both systems.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(PAUSE_MS.start + seed % (PAUSE_MS.end - PAUSE_MS.start)));
    };
    save(a, &content(0));
    arrival(&b.join(FILE), &content(0), ARRIVAL_TIMEOUT)?;
    pause();
    let mut latencies = Vec::with_capacity(count);
    for i in 1..=count {
        let text = content(i);
        let start = save(a, &text);
        latencies.push(arrival(&b.join(FILE), &text, ARRIVAL_TIMEOUT)? - start);
        pause();
    }
    Ok(latencies)
}

/// Child processes stopped when dropped (the end of a part, or a panic).
#[derive(Default)]
struct Processes(Vec<Child>);

impl Processes {
    fn spawn(&mut self, command: &mut Command) -> Result<u32, String> {
        let child = command.spawn().map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let pid = child.id();
        self.0.push(child);
        Ok(pid)
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        for child in &mut self.0 {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A process's resident set size and its peak, from /proc.
#[derive(Clone, Copy, Default)]
struct Memory {
    rss_kib: u64,
    peak_kib: u64,
}

impl Memory {
    fn of(pid: &str) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Memory { rss_kib: field("VmRSS:"), peak_kib: field("VmHWM:") }
    }

    fn show(&self) -> String {
        format!("{}, {}", mib(self.rss_kib), mib(self.peak_kib))
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn run(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()),
        false => Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim())),
    }
}

fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command.current_dir(dir).args(["-c", "user.name=bench", "-c", "user.email=bench@example.com"]);
    command.args(["-c", "commit.gpgsign=false"]);
    command
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

// ---------------------------------------------------------------- memo

fn memo_binary() -> Result<PathBuf, String> {
    if let Some(given) = std::env::var_os("MEMO_BIN") {
        return Ok(given.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let beside = exe.parent().and_then(Path::parent).map(|dir| dir.join("memo"));
    match beside {
        Some(memo) if memo.is_file() => Ok(memo),
        _ => Err("no `memo` binary beside the example: run `cargo build -p memo-node --release --bin memo` first, \
                  or set MEMO_BIN"
            .to_string()),
    }
}

fn memo_saves(count: usize) -> Result<Saves, String> {
    let memo = memo_binary()?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (origin, alice, bob) = (work.path().join("origin"), work.path().join("alice"), work.path().join("bob"));
    std::fs::create_dir(&origin).map_err(|e| e.to_string())?;
    run(git(&origin).args(["init", "-q"]))?;
    std::fs::write(origin.join(FILE), "# Notes\n").map_err(|e| e.to_string())?;
    run(git(&origin).args(["add", "-A"]))?;
    run(git(&origin).args(["commit", "-q", "-m", "first commit"]))?;
    for clone in [&alice, &bob] {
        run(git(work.path()).arg("clone").arg("-q").arg(&origin).arg(clone))?;
    }
    let memo_in = |dir: &Path| {
        let mut command = Command::new(&memo);
        command.current_dir(dir).env("MEMO_MDNS", "off").env("MEMO_LISTEN", "/ip4/127.0.0.1/tcp/0");
        command
    };
    let mut daemons = Processes::default();
    let mut start_daemon = |dir: &Path, log: &str| -> Result<u32, String> {
        let log = std::fs::File::create(work.path().join(log)).map_err(|e| e.to_string())?;
        let pid = daemons.spawn(memo_in(dir).arg("daemon").stdout(Stdio::null()).stderr(log))?;
        wait_until("the daemon's status", Duration::from_secs(30), || {
            run(memo_in(dir).args(["status", "--json"])).is_ok_and(|s| s.contains("\"daemon\": {"))
        })?;
        Ok(pid)
    };
    run(memo_in(&alice).args(["share", "--no-daemon"]))?;
    let alice_pid = start_daemon(&alice, "alice.log")?;
    let ticket = run(memo_in(&alice).args(["share", "--no-daemon"]))?;
    run(memo_in(&bob).args(["join", "--no-daemon", &ticket]))?;
    let bob_pid = start_daemon(&bob, "bob.log")?;
    let latencies = timed_saves(&alice, &bob, count)?;
    let memory = [alice_pid, bob_pid].map(|pid| Memory::of(&pid.to_string())).to_vec();
    drop(daemons);
    Ok(Saves { latencies, memory })
}

// ----------------------------------------------------------- Syncthing

/// One Syncthing instance's ports and identity.
struct Instance {
    home: PathBuf,
    folder: PathBuf,
    id: String,
    listen: u16,
    gui: u16,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn syncthing_saves(count: usize) -> Result<Saves, String> {
    let version = Command::new("syncthing").arg("--version").output();
    let Some(version) = version.ok().filter(|o| o.status.success()) else {
        let why = "skipped: `syncthing` is not installed (Debian: `apt-get install syncthing`)";
        println!("{why}\n");
        return Err(why.to_string());
    };
    println!("{}\n", String::from_utf8_lossy(&version.stdout).trim());
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut instances = Vec::new();
    for name in ["a", "b"] {
        let (home, folder) = (work.path().join(format!("home-{name}")), work.path().join(name));
        std::fs::create_dir_all(folder.join(".stfolder")).map_err(|e| e.to_string())?;
        let home_arg = format!("--home={}", home.display());
        run(Command::new("syncthing").args(["generate", &home_arg, "--no-default-folder", "--skip-port-probing"]))?;
        let id = run(Command::new("syncthing").args(["serve", &home_arg, "--device-id"]))?;
        instances.push(Instance { home, folder, id, listen: free_port()?, gui: free_port()? });
    }
    for me in &instances {
        std::fs::write(me.home.join("config.xml"), syncthing_config(me, &instances)).map_err(|e| e.to_string())?;
    }
    let (a, b) = (&instances[0], &instances[1]);
    std::fs::write(a.folder.join(FILE), "# Notes\n").map_err(|e| e.to_string())?;
    let mut processes = Processes::default();
    let mut pids = Vec::new();
    for (me, name) in instances.iter().zip(["a", "b"]) {
        let log =
            std::fs::File::create(work.path().join(format!("syncthing-{name}.log"))).map_err(|e| e.to_string())?;
        let command = Command::new("syncthing")
            .args(["serve", &format!("--home={}", me.home.display()), "--no-browser", "--no-restart", "--no-upgrade"])
            .env("STNORESTART", "1")
            .env("STNOUPGRADE", "1")
            .env("STNODEFAULTFOLDER", "1")
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start syncthing: {e}"));
        let child = command?;
        pids.push(child.id());
        processes.0.push(child);
    }
    let connected = |me: &Instance, other: &Instance| {
        rest(me.gui, "/rest/system/connections")
            .is_some_and(|v| v["connections"][&other.id]["connected"].as_bool() == Some(true))
    };
    wait_until("the two Syncthing instances to connect", Duration::from_secs(120), || {
        connected(a, b) && connected(b, a)
    })?;
    arrival(&b.folder.join(FILE), "# Notes\n", Duration::from_secs(120))?;
    let idle = |me: &Instance| {
        rest(me.gui, "/rest/db/status?folder=bench")
            .is_some_and(|v| v["state"].as_str() == Some("idle") && v["needTotalItems"].as_u64() == Some(0))
    };
    wait_until("both Syncthing folders to be idle", Duration::from_secs(120), || idle(a) && idle(b))?;
    // The watcher of B sees Syncthing's own write of the first file: let
    // that scan pass before timing.
    std::thread::sleep(Duration::from_secs(2));
    let latencies = timed_saves(&a.folder, &b.folder, count)?;
    let memory = pids.iter().map(|pid| Memory::of(&pid.to_string())).collect();
    drop(processes);
    Ok(Saves { latencies, memory })
}

/// `me`'s config.xml: both devices at their loopback addresses, one folder
/// shared, nothing that leaves the machine (no discovery, relays, NAT,
/// STUN, usage or crash reports, upgrade checks).
fn syncthing_config(me: &Instance, all: &[Instance]) -> String {
    let mut folder_devices = String::new();
    let mut devices = String::new();
    for (device, name) in all.iter().zip(["a", "b"]) {
        folder_devices.push_str(&format!("        <device id=\"{}\" introducedBy=\"\"></device>\n", device.id));
        devices.push_str(&format!(
            "    <device id=\"{}\" name=\"{name}\" compression=\"metadata\" introducer=\"false\" \
             skipIntroductionRemovals=\"false\" introducedBy=\"\">\n        <address>tcp://127.0.0.1:{}</address>\n        \
             <paused>false</paused>\n        <autoAcceptFolders>false</autoAcceptFolders>\n    </device>\n",
            device.id, device.listen
        ));
    }
    format!(
        r#"<configuration version="36">
    <folder id="bench" label="bench" path="{folder}" type="sendreceive" rescanIntervalS="86400" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
{folder_devices}        <minDiskFree unit="%">0</minDiskFree>
        <markerName>.stfolder</markerName>
    </folder>
{devices}    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:{gui}</address>
        <apikey>{API_KEY}</apikey>
        <theme>default</theme>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{listen}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <reconnectionIntervalS>2</reconnectionIntervalS>
        <relaysEnabled>false</relaysEnabled>
        <startBrowser>false</startBrowser>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <urSeen>3</urSeen>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <stunKeepaliveStartS>0</stunKeepaliveStartS>
        <stunKeepaliveMinS>0</stunKeepaliveMinS>
        <announceLANAddresses>false</announceLANAddresses>
        <setLowPriority>false</setLowPriority>
        <minHomeDiskFree unit="%">0</minHomeDiskFree>
    </options>
</configuration>
"#,
        folder = me.folder.display(),
        gui = me.gui,
        listen = me.listen,
    )
}

/// A GET of Syncthing's REST API on 127.0.0.1, its JSON body.
fn rest(port: u16, path: &str) -> Option<serde_json::Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {API_KEY}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    serde_json::from_str(response.split_once("\r\n\r\n")?.1).ok()
}

// --------------------------------------------------------- initial scan

fn scans() {
    let (dirs, per_dir) = (size("DISK_BENCH_DIRS", 500), size("DISK_BENCH_FILES_PER_DIR", 100));
    println!("## Initial scan of a working copy of {} files ({dirs} directories of {per_dir})\n", dirs * per_dir);
    println!("Each in a process of its own. Memory: the process's resident set before opening the replica, after the scan, and its peak.\n");
    println!("| working copy | base + replica open | `DiskSync::open` | `rescan` | operations made | RSS before | RSS after | peak RSS |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for kind in ["committed", "uncommitted"] {
        let work = tempfile::tempdir().expect("a temporary directory");
        let root = work.path().join("wc");
        make_working_copy(&root, dirs, per_dir, kind == "committed");
        let exe = std::env::current_exe().expect("this program");
        let output = Command::new(exe).arg(&root).env(SCAN_CHILD, kind).output().expect("the scan's process");
        assert!(output.status.success(), "the {kind} scan failed: {}", String::from_utf8_lossy(&output.stderr));
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
    println!();
}

fn make_working_copy(root: &Path, dirs: usize, per_dir: usize, commit: bool) {
    for d in 0..dirs {
        let dir = root.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir).expect("a directory");
        for f in 0..per_dir {
            let text = format!("// d{d:03}/f{f:03}.rs\nfn f{f}() -> usize {{\n    {d} * {f}\n}}\n");
            std::fs::write(dir.join(format!("f{f:03}.rs")), text).expect("a file");
        }
    }
    run(git(root).args(["init", "-q"])).expect("git init");
    if commit {
        run(git(root).args(["add", "-A"])).expect("git add");
        run(git(root).args(["commit", "-q", "-m", "the files"])).expect("git commit");
    }
    // Every file older than the settle time: the scan reads them all now.
    std::thread::sleep(Duration::from_millis(200));
}

/// In the child: opens a replica on the working copy at `root` (its base
/// the commit, or empty) and times its start-up scan; prints a table row.
fn scan_child(kind: &str, root: &Path) {
    let store = tempfile::tempdir().expect("a store directory");
    let before = Memory::of("self");
    let start = Instant::now();
    let base: Arc<dyn BaseSnapshot> = match git::head_commit(root).expect("the repository") {
        Some(commit) => Arc::new(GitBase::open(root, commit).expect("the base")),
        None => Arc::new(EmptyBase),
    };
    let mut replica = Replica::open(store.path(), base).expect("the replica");
    let opened = start.elapsed();
    let start = Instant::now();
    let mut disk = DiskSync::open(root, DiskConfig::default()).expect("the working copy");
    let disk_opened = start.elapsed();
    let start = Instant::now();
    let report = disk.rescan(&mut replica).expect("the scan");
    let scanned = start.elapsed();
    assert_eq!(report.waiting, 0, "files still settling");
    let after = Memory::of("self");
    println!(
        "| {kind} | {} | {} | {} | {} | {} | {} | {} |",
        ms(opened),
        ms(disk_opened),
        ms(scanned),
        report.ops.len(),
        mib(before.rss_kib),
        mib(after.rss_kib),
        mib(after.peak_kib)
    );
}
