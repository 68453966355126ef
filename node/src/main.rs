//! `memo`: the command-line entry point. The node itself (network,
//! watcher) lands with the node issues; for now the binary offers its
//! version and help, `memo store-info`, and hidden commands the store's
//! tests drive. Logs go to stderr, filtered by `RUST_LOG` (default: warn).

use clap::{Parser, Subcommand};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Memo replicates a Git working copy, uncommitted edits included, across
/// machines in real time.
#[derive(Debug, Parser)]
#[command(name = "memo", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
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

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        None => {
            eprintln!("memo {}: the node is not built yet; see `memo --help`", env!("CARGO_PKG_VERSION"));
            ExitCode::from(2)
        }
        Some(Command::StoreInfo { working_copy, store, json }) => match store_info(&working_copy, store, json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("memo: {error}");
                ExitCode::FAILURE
            }
        },
        Some(Command::DebugAppendStream { store, seed, until, snapshot_every }) => {
            let mut out = std::io::stdout().lock();
            let result = memo_node::debug::append_stream(&store, seed, until, snapshot_every, &mut out);
            match result {
                Ok(()) => ExitCode::SUCCESS,
                // A closed stdout (the reader went away) is no failure.
                Err(memo_node::debug::StreamError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("memo: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `memo store-info`: opens the store only if it exists (looking must not
/// make one).
fn store_info(working_copy: &Path, store: Option<PathBuf>, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let dir = memo_node::location::store_dir(working_copy, store.as_deref())?;
    if !dir.exists() {
        return Err(
            format!("no store at {}: this working copy has not been shared or joined yet", dir.display()).into()
        );
    }
    let store = memo_node::Store::open(&dir)?;
    let version = store.version()?;
    let covered = store.newest_snapshot()?.map(|(covers, _)| covers);
    if json {
        let authors: serde_json::Map<String, serde_json::Value> =
            version.iter().map(|(replica, count)| (replica.to_string(), count.into())).collect();
        let info = serde_json::json!({
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
