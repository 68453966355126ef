//! `memo`: the command-line entry point. Data goes to stdout (`--json`
//! where a script reads it), messages and logs to stderr, filtered by
//! `RUST_LOG` (default: warn). Exit codes: 0 ok, 1 failure, 2 usage.

use clap::{Args, Parser, Subcommand};
use libp2p::Multiaddr;
use memo_node::control::{self, ClientError};
use memo_node::daemon::{self, DaemonOptions};
use memo_node::location::NodePaths;
use memo_node::membership::Membership;
use memo_node::net::{CATCHUP_INTERVAL, MDNS_INTERVAL};
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// Memo replicates a Git working copy, uncommitted edits included, across
/// machines in real time.
#[derive(Debug, Parser)]
#[command(name = "memo", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log lines on stderr (-v info, -vv debug, -vvv trace); RUST_LOG
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Makes this working copy shareable (its id and secret, on HEAD's
    /// commit) without starting anything; `memo share` does this too.
    Init {
        #[command(flatten)]
        at: At,
        /// The working copy's name, for people (default: the directory's).
        #[arg(long)]
        name: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Shares this working copy: makes its id and secret (once), starts the
    /// daemon, and prints a ticket for `memo join` on other machines.
    Share {
        #[command(flatten)]
        at: At,
        /// The working copy's name, for people (default: the directory's).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        start: Start,
    },
    /// Joins the working copy a ticket names (run in a clone of the same
    /// repository), and starts the daemon.
    Join {
        /// The ticket `memo share` printed.
        ticket: String,
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        start: Start,
    },
    /// Starts the daemon in the background, unless one runs.
    Up {
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        network: Network,
    },
    /// Stops the running daemon cleanly.
    Down {
        #[command(flatten)]
        at: At,
    },
    /// Runs the daemon in the foreground until interrupted.
    Daemon {
        #[command(flatten)]
        at: At,
        #[command(flatten)]
        network: Network,
    },
    /// Shows the working copy, its daemon, and how far apart its peers are.
    Status {
        #[command(flatten)]
        at: At,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists the peers: connected or not, how each was found, how far
    /// apart we are (units of work each side lacks).
    Peers {
        #[command(flatten)]
        at: At,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The editor RPC of the running daemon on stdin and stdout, with LSP
    /// framing (`Content-Length` headers), for editors that spawn a
    /// process. Without `--stdio`, editors talk JSON lines to the socket
    /// `.git/memo/daemon.sock` directly.
    Rpc {
        #[command(flatten)]
        at: At,
        /// Serve on stdin and stdout.
        #[arg(long)]
        stdio: bool,
    },
    /// Shows the history: runs of operations by one author each, with the
    /// files they touched, oldest first.
    Log {
        #[command(flatten)]
        at: At,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists every change to one file (it follows renames), oldest first,
    /// numbered for `memo show --at`.
    History {
        /// The file, relative to the working copy's root.
        file: String,
        #[command(flatten)]
        at: At,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Undoes this replica's latest edit of a text file (again: the one
    /// before), on every replica.
    Undo {
        /// The file, relative to the working copy's root.
        file: String,
        #[command(flatten)]
        at: At,
    },
    /// Prints a text file as it is, or as it was after a step of `memo
    /// history` or at a version.
    Show {
        /// The file, relative to the working copy's root.
        file: String,
        /// When: a step number of `memo history <path>`, a commit of `memo
        /// log` (its id or a prefix), a time (`2026-11-21T14:05Z`, `10m
        /// ago`, `@<unix seconds>`; UTC: when this replica had it), or a
        /// version as JSON (`{"<replica>": <units>, ...}`).
        #[arg(long = "at", alias = "version", value_name = "STEP|COMMIT|TIME|VERSION")]
        when: Option<String>,
        #[command(flatten)]
        at: At,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Moves operations between machines that never meet, as files: `memo
    /// bundle export > ops.memo` here, `memo bundle import ops.memo` there.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Shows a working copy's store: where it is, this replica's id, how
    /// many operations it holds and from whom, and what its snapshot covers.
    StoreInfo {
        /// A path inside the working copy.
        #[arg(default_value = ".")]
        working_copy: PathBuf,
        /// The store directory (default: `.git/memo/store` of the working copy).
        #[arg(long, env = memo_node::location::STORE_ENV)]
        store: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Makes `count` seeded local changes through the running daemon.
    #[command(hide = true)]
    DebugStream {
        #[command(flatten)]
        at: At,
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        count: u64,
    },
    /// Prints the running daemon's tree digest as JSON.
    #[command(hide = true)]
    DebugTree {
        #[command(flatten)]
        at: At,
    },
    /// Applies a seeded stream of local operations to the store at
    /// `store`, printing each acknowledged sequence number (the crash
    /// tests kill it at random moments).
    #[command(hide = true)]
    DebugAppendStream {
        store: PathBuf,
        seed: u64,
        until: u64,
        /// Write a snapshot every this many stored operations.
        #[arg(long, default_value_t = memo_node::store::DEFAULT_SNAPSHOT_INTERVAL)]
        snapshot_every: u64,
    },
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Writes the operations this replica holds (all, or those a version
    /// lacks) as a bundle, authenticated with the working copy's secret.
    Export {
        /// Only what this version lacks: JSON `{"<replica>": <units>, ...}`
        /// (as `memo show --at` takes it).
        #[arg(long, value_name = "VERSION")]
        since: Option<String>,
        /// Write the bundle to this file instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        at: At,
    },
    /// Takes a bundle's operations (again is harmless). A bundle of another
    /// working copy, made without its secret, or damaged is refused.
    Import {
        /// The bundle file.
        file: PathBuf,
        #[command(flatten)]
        at: At,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Which working copy.
#[derive(Debug, Args)]
struct At {
    /// A path inside the working copy (as `git -C`).
    #[arg(short = 'C', long = "directory", default_value = ".", value_name = "PATH")]
    path: PathBuf,
    /// The store directory (default: `.git/memo/store`); the node's other
    /// files sit beside it.
    #[arg(long, env = memo_node::location::STORE_ENV)]
    store: Option<PathBuf>,
}

impl At {
    fn paths(&self) -> Result<NodePaths, Failure> {
        Ok(NodePaths::find(&self.path, self.store.as_deref())?)
    }
}

/// How a daemon's network runs.
#[derive(Debug, Clone, Args)]
struct Network {
    /// Where to listen (a multiaddr, repeatable; default: where the daemon
    /// listened last, else every interface on a port the system picks).
    #[arg(long, env = "MEMO_LISTEN", value_delimiter = ',', value_name = "MULTIADDR")]
    listen: Vec<Multiaddr>,
    /// Find peers on the LAN by mDNS.
    #[arg(long, env = "MEMO_MDNS", default_value = "on", value_parser = ["on", "off"])]
    mdns: String,
    /// Seconds between mDNS queries.
    #[arg(long, env = "MEMO_MDNS_INTERVAL", default_value_t = MDNS_INTERVAL.as_secs_f64(), hide = true)]
    mdns_interval: f64,
    /// Seconds between catch-up exchanges with each peer.
    #[arg(long, env = "MEMO_CATCHUP_INTERVAL", default_value_t = CATCHUP_INTERVAL.as_secs_f64(), hide = true)]
    catchup_interval: f64,
    /// Files larger than this many bytes are replicated whole, as binary
    /// files, even when they are text (the text CRDT tracks every character).
    #[arg(long, env = "MEMO_MAX_TEXT_BYTES", default_value_t = memo_node::disk::DiskConfig::default().max_text_bytes)]
    max_text_bytes: usize,
}

impl Network {
    fn options(&self) -> Result<DaemonOptions, Failure> {
        let seconds = |s: f64, what: &str| {
            Duration::try_from_secs_f64(s).map_err(|_| Failure::Usage(format!("{what}: {s} is not a duration")))
        };
        Ok(DaemonOptions {
            listen: self.listen.clone(),
            mdns: (self.mdns == "on").then(|| seconds(self.mdns_interval, "--mdns-interval")).transpose()?,
            catchup_interval: seconds(self.catchup_interval, "--catchup-interval")?,
            max_text_bytes: self.max_text_bytes,
        })
    }

    /// The same settings as `memo daemon` arguments.
    fn to_args(&self) -> Vec<String> {
        let mut args = vec![format!("--mdns={}", self.mdns)];
        args.push(format!("--mdns-interval={}", self.mdns_interval));
        args.push(format!("--catchup-interval={}", self.catchup_interval));
        args.push(format!("--max-text-bytes={}", self.max_text_bytes));
        args.extend(self.listen.iter().map(|a| format!("--listen={a}")));
        args
    }
}

/// Whether and how `share` and `join` start the daemon.
#[derive(Debug, Args)]
struct Start {
    /// Do not start the daemon (run `memo daemon` yourself).
    #[arg(long)]
    no_daemon: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    network: Network,
}

/// How a command failed: usage errors exit with 2, the others with 1.
#[derive(Debug)]
enum Failure {
    Usage(String),
    Other(Box<dyn std::error::Error>),
}

impl<E: std::error::Error + 'static> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Other(Box::new(error))
    }
}

fn main() -> ExitCode {
    // The user's configuration file sets defaults for what the
    // environment may set, before the flags are read (and before any
    // thread starts: the environment is process-wide).
    match memo_node::config::defaults() {
        Ok(defaults) => defaults.into_iter().for_each(|(name, value)| std::env::set_var(name, value)),
        Err(error) => {
            eprintln!("memo: {error}");
            return ExitCode::from(2);
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("memo: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Other(error)) => {
            eprintln!("memo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Init { at, name, json } => {
            let membership = init(&at.paths()?, name)?;
            let (id, base) = (membership.id_hex(), commit_name(&membership.base));
            match json {
                true => println!("{}", json!({ "name": membership.name, "working_copy": id, "base": base })),
                false => println!("working copy \"{}\" ({id}) on {base}", membership.name),
            }
            Ok(())
        }
        Command::Share { at, name, start } => share(&at.paths()?, name, &start),
        Command::Join { ticket, at, start } => join(&at.paths()?, &ticket, &start),
        Command::Daemon { at, network } => run_daemon(&at.paths()?, network.options()?),
        Command::Up { at, network } => up(&at.paths()?, &network),
        Command::Down { at } => down(&at.paths()?),
        Command::Status { at, json } => status(&at.paths()?, json),
        Command::Peers { at, json } => peers(&at.paths()?, json),
        Command::Log { at, json } => log(&at.paths()?, json),
        Command::Undo { file, at } => {
            let undone = daemon_call(&at.paths()?, "history/undo", json!({ "path": file }))?;
            match undone["undone"] == true {
                true => eprintln!("memo: undid your latest edit of {file}"),
                false => eprintln!("memo: you have no edit of {file} left to undo"),
            }
            Ok(())
        }
        Command::History { file, at, json } => history(&at.paths()?, &file, json),
        Command::Show { file, when, at, json } => show(&at.paths()?, &file, when.as_deref(), json),
        Command::Bundle { command: BundleCommand::Export { since, output, at } } => {
            bundle_export(&at.paths()?, since.as_deref(), output.as_deref())
        }
        Command::Bundle { command: BundleCommand::Import { file, at, json } } => {
            bundle_import(&at.paths()?, &file, json)
        }
        Command::StoreInfo { working_copy, store, json } => store_info(&working_copy, store, json),
        Command::Rpc { at, stdio: true } => {
            Ok(memo_node::rpc::stdio::proxy(&at.paths()?.socket, std::io::stdin(), std::io::stdout())?)
        }
        Command::Rpc { at, stdio: false } => Err(Failure::Usage(format!(
            "memo rpc needs --stdio (or talk JSON-RPC lines to {})",
            at.paths()?.socket.display()
        ))),
        Command::DebugStream { at, seed, count } => {
            let made = control::call(&at.paths()?.socket, "debug.stream", json!({ "seed": seed, "count": count }))?;
            println!("{made}");
            Ok(())
        }
        Command::DebugTree { at } => {
            println!("{}", control::call(&at.paths()?.socket, "debug.tree", Value::Null)?);
            Ok(())
        }
        Command::DebugAppendStream { store, seed, until, snapshot_every } => {
            let mut out = std::io::stdout().lock();
            match memo_node::debug::append_stream(&store, seed, until, snapshot_every, &mut out) {
                // A closed stdout (the reader went away) is no failure.
                Err(memo_node::debug::StreamError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
                result => Ok(result?),
            }
        }
    }
}

/// `memo share`: the membership (made once), the daemon, the ticket.
fn share(paths: &NodePaths, name: Option<String>, start: &Start) -> Result<(), Failure> {
    let membership = init(paths, name)?;
    if !start.no_daemon {
        ensure_daemon(paths, Some(&start.network))?;
        show_scan(paths)?;
    }
    let ticket = match control::call(&paths.socket, "ticket", Value::Null) {
        Ok(answer) => answer["ticket"].as_str().unwrap_or_default().to_string(),
        Err(ClientError::NotRunning) => {
            eprintln!("memo: no daemon runs, so the ticket holds no address: peers must find this one by mDNS");
            membership.ticket(&[]).encode()?
        }
        Err(error) => return Err(error.into()),
    };
    if start.json {
        println!("{}", json!({ "ticket": ticket, "name": membership.name, "working_copy": membership.id_hex() }));
    } else {
        println!("{ticket}");
        eprintln!(
            "\nWorking copy \"{}\" is shared. On another machine, in a clone of the same repository, run:\n\n    memo join {ticket}\n\nThe ticket holds the working copy's secret: whoever has it can read and change this working copy.",
            membership.name
        );
    }
    Ok(())
}

/// `memo init`: the working copy's membership, made once (a fresh id and
/// secret, on HEAD's commit), or the one it has.
fn init(paths: &NodePaths, name: Option<String>) -> Result<Membership, Failure> {
    if let Some(existing) = Membership::load(&paths.membership)? {
        return Ok(existing);
    }
    let name = name.unwrap_or_else(|| directory_name(&paths.working_copy));
    let base = memo_node::git::head_commit(&paths.working_copy)?;
    let created = Membership::create(&name, base.map(|oid| oid.as_bytes().to_vec()).unwrap_or_default());
    created.save(&paths.membership)?;
    Ok(created)
}

/// `memo join`: the ticket's membership, then the daemon.
fn join(paths: &NodePaths, text: &str, start: &Start) -> Result<(), Failure> {
    let ticket = memo_core::ticket::Ticket::decode(text).map_err(|e| Failure::Usage(e.to_string()))?;
    let theirs = Membership::from_ticket(&ticket)?;
    move_to_base(paths, &theirs, start)?;
    let joined = match Membership::load(&paths.membership)? {
        Some(ours) if ours.working_copy != theirs.working_copy => {
            return Err(memo_node::membership::MembershipError::Other {
                ours: ours.id_hex(),
                name: ours.name,
                theirs: theirs.id_hex(),
                path: paths.membership.clone(),
            }
            .into())
        }
        Some(mut ours) => {
            for peer in &theirs.peers {
                ours.remember(peer.clone());
            }
            ours
        }
        None => theirs,
    };
    joined.save(&paths.membership)?;
    let changed = memo_node::git::changed_paths(&paths.working_copy)?;
    if !changed.is_empty() {
        let some: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
        eprintln!(
            "memo: this clone has {} uncommitted change(s) ({}{}): they join the shared working copy as this \
             replica's edits, merged with the others'; nothing of them is overwritten",
            changed.len(),
            some.join(", "),
            if changed.len() > some.len() { ", ..." } else { "" },
        );
    }
    if !start.no_daemon {
        ensure_daemon(paths, Some(&start.network))?;
        if !start.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            show_catch_up(paths)?;
        }
    }
    if start.json {
        println!("{}", json!({ "name": joined.name, "working_copy": joined.id_hex() }));
    } else {
        eprintln!("Joined \"{}\". `memo status` shows the peers and how far apart you are.", joined.name);
    }
    Ok(())
}

/// Brings a joining clone to the working copy's base: the commit is
/// fetched from a peer if the clone lacks it, then checked out (HEAD
/// detached) unless a local change stands in the way. The daemon then
/// brings the clone to the working copy's HEAD.
fn move_to_base(paths: &NodePaths, theirs: &Membership, start: &Start) -> Result<(), Failure> {
    let head = memo_node::git::head_commit(&paths.working_copy)?;
    let (here, base) = (head.map(|oid| oid.as_bytes().to_vec()).unwrap_or_default(), &theirs.base);
    if &here == base {
        return Ok(());
    }
    let Ok(commit) = git2::Oid::from_bytes(base) else {
        return Err(format_failure(format!(
            "this clone is at {}, but the working copy was shared before its first commit: join from a clone \
             without commits",
            commit_name(&here),
        )));
    };
    if !memo_node::git::has_commit(&paths.working_copy, commit) {
        eprintln!("memo: this clone lacks commit {commit}, the working copy's base: fetching it from a peer");
        daemon::fetch_commits(paths, theirs, &start.network.options()?, &[commit])?;
    }
    memo_node::git::checkout_detached(&paths.working_copy, commit).map_err(|error| {
        format_failure(format!(
            "this clone is at {}, and cannot move to the working copy's base {commit} ({error}): commit or stash \
             your changes, then join again",
            commit_name(&here),
        ))
    })?;
    eprintln!("memo: this clone moved to the working copy's base {commit} (HEAD detached); the daemon brings it to the working copy's HEAD");
    Ok(())
}

/// Shows the catch-up from the peers as a progress bar (on a terminal),
/// until this replica holds what they held as of their last catch-up
/// request. Leaving early (Ctrl-C) leaves the daemon running.
fn show_catch_up(paths: &NodePaths) -> Result<(), Failure> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("catching up {bar:40} {pos}/{len} units of work ({per_sec})")
            .expect("a valid template"),
    );
    let started = std::time::Instant::now();
    loop {
        let status = control::call(&paths.socket, "status", Value::Null)?;
        let units = status["node"]["units"].as_u64().unwrap_or(0);
        let peers = status["node"]["peers"].as_array().cloned().unwrap_or_default();
        let targets: Vec<u64> = peers
            .iter()
            .filter(|p| p["connected"] == true)
            .filter_map(|p| Some(units - p["they_lack"].as_u64()?.min(units) + p["we_lack"].as_u64()?))
            .collect();
        match targets.iter().max() {
            Some(&target) if units >= target => {
                bar.finish_with_message("caught up");
                eprintln!("caught up: {units} units of work");
                return Ok(());
            }
            Some(&target) => {
                bar.set_length(target);
                bar.set_position(units);
            }
            None if started.elapsed() > Duration::from_secs(30) => {
                bar.finish_and_clear();
                eprintln!("no peer reachable yet: the daemon keeps trying (`memo status` shows it)");
                return Ok(());
            }
            None => {}
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A commit's id as Git prints it; "no commit" for none.
fn commit_name(id: &[u8]) -> String {
    match id.is_empty() {
        true => "no commit".into(),
        false => memo_core::hex::encode(id),
    }
}

fn directory_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "working copy".into())
}

/// The working copy's membership; an error saying what to do if it has
/// none (the daemon's own words).
fn shared(paths: &NodePaths) -> Result<Membership, Failure> {
    Membership::load(&paths.membership)?.ok_or_else(|| daemon::DaemonError::NotShared.into())
}

/// Calls the daemon, first starting it in the background if the working
/// copy is shared and no daemon runs.
fn daemon_call(paths: &NodePaths, method: &str, params: Value) -> Result<Value, Failure> {
    match control::call(&paths.socket, method, params.clone()) {
        Err(ClientError::NotRunning) => {
            shared(paths)?;
            ensure_daemon(paths, None)?;
            Ok(control::call(&paths.socket, method, params)?)
        }
        result => Ok(result?),
    }
}

/// Starts the daemon in the background unless one runs (with `network`'s
/// settings, else its own defaults and environment), and waits until it
/// answers on its socket.
fn ensure_daemon(paths: &NodePaths, network: Option<&Network>) -> Result<(), Failure> {
    if control::is_running(&paths.socket) {
        return Ok(());
    }
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&paths.log)?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.arg("daemon").arg("-C").arg(&paths.working_copy).arg("--store").arg(&paths.store);
    command
        .args(network.map(Network::to_args).unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    command.stderr(log);
    // Its own process group: a Ctrl-C in this terminal does not stop it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !control::is_running(&paths.socket) {
        if let Some(status) = child.try_wait()? {
            return Err(format_failure(format!(
                "the daemon stopped at once ({status}); its log, {}, says why",
                paths.log.display()
            )));
        }
        if std::time::Instant::now() > deadline {
            return Err(format_failure(format!("the daemon did not start within 30 s; see {}", paths.log.display())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("memo: daemon started (pid {}, log {})", child.id(), paths.log.display());
    Ok(())
}

fn format_failure(message: String) -> Failure {
    Failure::Other(message.into())
}

/// `memo up`: the daemon in the background, for a shared working copy.
fn up(paths: &NodePaths, network: &Network) -> Result<(), Failure> {
    shared(paths)?;
    if control::is_running(&paths.socket) {
        eprintln!("memo: the daemon is already running");
    }
    ensure_daemon(paths, Some(network))?;
    show_scan(paths)
}

/// On a terminal, shows a spinner until the daemon's first scan of the
/// working copy is done (a large one takes seconds: BENCHMARKS.md).
fn show_scan(paths: &NodePaths) -> Result<(), Failure> {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return Ok(());
    }
    let spinner = indicatif::ProgressBar::new_spinner().with_message("scanning the working copy");
    spinner.enable_steady_tick(Duration::from_millis(100));
    while control::call(&paths.socket, "status", Value::Null)?["scanned"] != true {
        std::thread::sleep(Duration::from_millis(100));
    }
    spinner.finish_with_message("working copy scanned");
    Ok(())
}

/// `memo down`: asks the daemon to stop, and waits until it has.
fn down(paths: &NodePaths) -> Result<(), Failure> {
    match control::call(&paths.socket, "stop", Value::Null) {
        Err(ClientError::NotRunning) => {
            eprintln!("memo: no daemon runs for this working copy");
            return Ok(());
        }
        result => drop(result?),
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // The daemon removes its socket once its store is closed.
    while paths.socket.exists() {
        if std::time::Instant::now() > deadline {
            return Err(format_failure(format!("the daemon did not stop within 60 s; see {}", paths.log.display())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("memo: the daemon stopped");
    Ok(())
}

fn run_daemon(paths: &NodePaths, options: DaemonOptions) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok(runtime.block_on(daemon::run(paths, options))?)
}

/// `memo status`: the membership, and the daemon's view if one runs.
fn status(paths: &NodePaths, json: bool) -> Result<(), Failure> {
    let membership = Membership::load(&paths.membership)?;
    let running = match control::call(&paths.socket, "status", Value::Null) {
        Ok(status) => Some(status),
        Err(ClientError::NotRunning) => None,
        Err(error) => return Err(error.into()),
    };
    if json {
        let shared = membership.as_ref().map(|m| json!({ "name": m.name, "working_copy": m.id_hex() }));
        println!("{:#}", json!({ "working_copy": paths.working_copy, "shared": shared, "daemon": running }));
        return Ok(());
    }
    println!("working copy  {}", paths.working_copy.display());
    match &membership {
        Some(m) => println!("shared as     \"{}\" ({})", m.name, m.id_hex()),
        None => println!("shared as     not shared (run `memo share`, or `memo join <ticket>`)"),
    }
    let Some(status) = running else {
        println!("daemon        not running (start it with `memo daemon`)");
        return Ok(());
    };
    let node = &status["node"];
    println!("daemon        running as peer {}", text(&node["peer_id"]));
    for address in node["listening"].as_array().into_iter().flatten() {
        println!("listening     {}", text(address));
    }
    println!("replica       {}", text(&node["replica"]));
    println!("holds         {} operations ({} units of work)", node["operations"], node["units"]);
    let list = node["peers"].as_array().cloned().unwrap_or_default();
    let connected = list.iter().filter(|p| p["connected"] == true).count();
    println!("peers         {connected} connected, {} known", list.len());
    print_peers(&list);
    Ok(())
}

/// `memo peers`: the daemon's peers.
fn peers(paths: &NodePaths, json: bool) -> Result<(), Failure> {
    let list = daemon_call(paths, "peers", Value::Null)?;
    if json {
        println!("{list:#}");
    } else {
        print_peers(list.as_array().map(Vec::as_slice).unwrap_or_default());
    }
    Ok(())
}

/// `memo log`: the history in runs by author.
fn log(paths: &NodePaths, json: bool) -> Result<(), Failure> {
    let log = daemon_call(paths, "history/log", Value::Null)?;
    if json {
        println!("{log:#}");
        return Ok(());
    }
    let when = |entry: &Value| {
        entry["time"].as_u64().map_or_else(|| "(before the time index)".into(), memo_node::time::format)
    };
    for commit in log["commits"].as_array().into_iter().flatten() {
        let units: u64 = commit["version"].as_object().into_iter().flatten().filter_map(|(_, n)| n.as_u64()).sum();
        println!(
            "{}  commit {}  holds {units} units of work  (recorded by {})",
            when(commit),
            text(&commit["commit"]),
            text(&commit["replica"])
        );
    }
    for run in log["runs"].as_array().into_iter().flatten() {
        let files: Vec<&str> = run["paths"].as_array().into_iter().flatten().map(text).collect();
        println!(
            "{}  {}  {} operations, {} units  {}",
            when(run),
            text(&run["replica"]),
            run["operations"],
            run["units"],
            files.join(" ")
        );
    }
    Ok(())
}

/// `memo history <path>`: every change to one file, numbered.
fn history(paths: &NodePaths, path: &str, json: bool) -> Result<(), Failure> {
    let history = daemon_call(paths, "history/file", json!({ "path": path }))?;
    if json {
        println!("{history:#}");
        return Ok(());
    }
    for (step, change) in history["steps"].as_array().into_iter().flatten().enumerate() {
        println!(
            "{:>4}  {}  {:<14} {} units",
            step + 1,
            text(&change["replica"]),
            text(&change["kind"]),
            change["units"]
        );
    }
    Ok(())
}

/// The version `--at` names for `path`: a step of its history, a commit
/// (or a prefix of one) of the commit map, a time, or a version as JSON.
fn version_of(paths: &NodePaths, path: &str, spec: &str) -> Result<Value, Failure> {
    if let Ok(step) = spec.parse::<usize>() {
        let history = daemon_call(paths, "history/file", json!({ "path": path }))?;
        let steps = history["steps"].as_array().cloned().unwrap_or_default();
        let found = step.checked_sub(1).and_then(|i| steps.get(i));
        let missing = || Failure::Usage(format!("{path} has {} steps; there is no step {step}", steps.len()));
        return found.map(|s| s["version"].clone()).ok_or_else(missing);
    }
    if spec.len() >= 4 && spec.chars().all(|c| c.is_ascii_hexdigit()) {
        let log = daemon_call(paths, "history/log", Value::Null)?;
        let prefix = spec.to_lowercase();
        let commits = log["commits"].as_array().cloned().unwrap_or_default();
        let found = commits.iter().find(|c| c["commit"].as_str().is_some_and(|id| id.starts_with(&prefix)));
        let missing = || Failure::Usage(format!("commit {spec} is not in the commit map (`memo log` lists it)"));
        return found.map(|c| c["version"].clone()).ok_or_else(missing);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if let Some(time) = memo_node::time::parse(spec, now) {
        return Ok(daemon_call(paths, "history/at_time", json!({ "time": time }))?["version"].clone());
    }
    serde_json::from_str(spec).map_err(|_| {
        Failure::Usage(format!(
            "--at {spec}: not a step, a commit of `memo log`, a time (2026-11-21T14:05Z, 10m ago) or a version"
        ))
    })
}

/// `memo show <path> [--at STEP|COMMIT|TIME|VERSION]`.
fn show(paths: &NodePaths, path: &str, version: Option<&str>, json: bool) -> Result<(), Failure> {
    let version = match version {
        None => Value::Null,
        Some(spec) => version_of(paths, path, spec)?,
    };
    let file = match version {
        Value::Null => daemon_call(paths, "buffer/open", json!({ "path": path, "encoding": "chars" }))?,
        version => daemon_call(paths, "file/read_at", json!({ "path": path, "version": version }))?,
    };
    match json {
        true => println!("{}", json!({ "path": path, "text": file["text"] })),
        false => print!("{}", text(&file["text"])),
    }
    Ok(())
}

/// `memo bundle export`: the daemon makes the bundle; it goes to stdout
/// or, whole or not at all, to `output`.
fn bundle_export(paths: &NodePaths, since: Option<&str>, output: Option<&Path>) -> Result<(), Failure> {
    use base64::Engine;
    use std::io::Write;
    let since: Value = match since {
        None => json!({}),
        Some(text) => serde_json::from_str(text).map_err(|e| Failure::Usage(format!("--since: {e}")))?,
    };
    let answer = daemon_call(paths, "bundle/export", json!({ "since": since }))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text(&answer["bytes"]))
        .map_err(|e| format_failure(format!("the daemon sent a bundle that is not base64: {e}")))?;
    match output {
        None => match std::io::stdout().lock().write_all(&bytes) {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {}
            result => result?,
        },
        Some(path) => {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let mut file = tempfile_in(dir)?;
            file.1.write_all(&bytes)?;
            file.1.sync_all()?;
            std::fs::rename(&file.0, path)?;
        }
    }
    eprintln!("memo: exported {} operations ({} bytes)", answer["operations"], bytes.len());
    Ok(())
}

/// A new file beside where the bundle goes, renamed into place once
/// written: no reader sees half a bundle.
fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File), Failure> {
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(|e| format_failure(e.to_string()))?;
    let path = dir.join(format!(".memo-bundle-{:016x}.tmp", u64::from_le_bytes(random)));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
    Ok((path, file))
}

/// `memo bundle import FILE`: the daemon reads the file (a bundle may be
/// larger than a request line).
fn bundle_import(paths: &NodePaths, file: &Path, json: bool) -> Result<(), Failure> {
    let path = std::fs::canonicalize(file).map_err(|e| format_failure(format!("{}: {e}", file.display())))?;
    let received = daemon_call(paths, "bundle/import", json!({ "path": path }))?;
    match json {
        true => println!("{received}"),
        false => eprintln!(
            "memo: imported {} operations: {} held already, {} applied, {} refused",
            received["operations"], received["known"], received["applied"], received["refused"]
        ),
    }
    Ok(())
}

fn print_peers(peers: &[Value]) {
    for peer in peers {
        let state = if peer["connected"] == true { "connected" } else { "away" };
        let apart = match (peer["they_lack"].as_u64(), peer["we_lack"].as_u64()) {
            (Some(they), Some(we)) => {
                format!("they lack {they} units, we lack {we} (as of their last catch-up request)")
            }
            _ => "versions not exchanged yet".to_string(),
        };
        println!("  {}  {state:<9}  found by {:<8}  {apart}", text(&peer["peer"]), text(&peer["found"]));
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("?")
}

/// `memo store-info`: opens the store only if it exists (looking must not
/// make one).
fn store_info(working_copy: &Path, store: Option<PathBuf>, json: bool) -> Result<(), Failure> {
    let dir = memo_node::location::store_dir(working_copy, store.as_deref())?;
    if !dir.exists() {
        return Err(format_failure(format!(
            "no store at {}: this working copy has not been shared or joined yet",
            dir.display()
        )));
    }
    let store = memo_node::Store::open(&dir)?;
    let version = store.version()?;
    let covered = store.newest_snapshot()?.map(|(covers, _)| covers);
    if json {
        let authors: serde_json::Map<String, Value> =
            version.iter().map(|(replica, count)| (replica.to_string(), count.into())).collect();
        let info = json!({
            "store": dir,
            "replica": store.replica_id().to_string(),
            "operations": store.len(),
            "next_seq": store.next_seq(),
            "units_by_replica": authors,
            "snapshot_covers": covered,
        });
        println!("{info:#}");
        return Ok(());
    }
    println!("store       {}", dir.display());
    println!("replica     {} (next sequence number {})", store.replica_id(), store.next_seq());
    println!("operations  {}", store.len());
    for (replica, count) in version.iter() {
        println!("  from {replica}: {count} units");
    }
    match covered {
        Some(covers) => println!("snapshot    covers the first {covers} operations stored"),
        None => println!("snapshot    none yet (start-up replays every operation)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
