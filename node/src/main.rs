//! `memo`: the command-line entry point. The node itself (network, store,
//! watcher) lands with the node issues; for now the binary offers its
//! version and help, so that the workspace and its packaging are in place.

use clap::Parser;
use std::process::ExitCode;

/// Memo replicates a Git working copy, uncommitted edits included, across
/// machines in real time.
#[derive(Debug, Parser)]
#[command(name = "memo", version, about, long_about = None)]
struct Cli {}

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(Cli {}) => {
            eprintln!("memo {}: the node is not built yet; see `memo --help`", env!("CARGO_PKG_VERSION"));
            ExitCode::from(2)
        }
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let _ = error.print();
            ExitCode::from(code)
        }
    }
}
