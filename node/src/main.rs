//! `memo`: the command-line entry point. The node itself (network,
//! watcher) lands with the node issues; for now the binary offers its
//! version and help, and hidden commands the store's tests drive.

use clap::{Parser, Subcommand};
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;

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
