//! memo-bench: replays editing traces into memo-core and into other text
//! CRDTs, side by side, and prints a markdown table per trace (stdout) with
//! progress on stderr.
//!
//! ```text
//! cargo run -p memo-bench --release -- [--trace NAME]... [--runs N]
//!     [--skip-slow] [--slow-runs N] [--only PEER]...
//! cargo run -p memo-bench --release -- --tree [--runs N] [--tree-nodes N]
//!     [--tree-moves N] [--base-files N]
//! ```
//!
//! `--tree` runs the working-tree section instead of the traces: memo-core's
//! `WorkTree` against loro's movable tree, and a large base snapshot.

#[allow(unsafe_code)] // the one `unsafe impl GlobalAlloc`
mod alloc;
mod bench;
mod peers;
mod report;
mod simulate;
mod tree;

use bench::{is_sequential, Row, Settings};
use clap::Parser;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const DEFAULT_TRACES: [&str; 7] = [
    "sequential/automerge-paper",
    "sequential/seph-blog1",
    "sequential/rustcode",
    "sequential/sveltecomponent",
    "concurrent/friendsforever",
    "concurrent/clownschool",
    "concurrent/egwalker-A1-node_nodecc",
];

/// Replays editing traces into memo-core and peer CRDTs and prints the
/// measures as markdown tables.
#[derive(Debug, Parser)]
#[command(name = "memo-bench")]
struct Args {
    /// A trace, relative to the traces folder, e.g. `sequential/rustcode`
    /// (repeatable; default: four sequential and three concurrent traces).
    #[arg(long = "trace", value_name = "NAME")]
    traces: Vec<String>,
    /// Runs per timed measure; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Runs per timed measure for the slow peers (automerge, yrs).
    #[arg(long, default_value_t = 1)]
    slow_runs: usize,
    /// Leave out the slow peers (automerge, yrs).
    #[arg(long)]
    skip_slow: bool,
    /// Measure only this peer (repeatable): memo-core, diamond-types, cola,
    /// loro, automerge, yrs, jumprope.
    #[arg(long = "only", value_name = "PEER")]
    only: Vec<String>,
    /// Run the working-tree section instead of the traces: random moves in
    /// memo-core's `WorkTree` and loro's `LoroTree`, and loading a large
    /// base snapshot.
    #[arg(long)]
    tree: bool,
    /// Working tree: nodes (directories) the moves shuffle.
    #[arg(long, default_value_t = 1000, requires = "tree")]
    tree_nodes: usize,
    /// Working tree: moves tried.
    #[arg(long, default_value_t = 10_000, requires = "tree")]
    tree_moves: usize,
    /// Working tree: files of the base snapshot (1,000 to a directory).
    #[arg(long, default_value_t = 100_000, requires = "tree")]
    base_files: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.tree {
        tree::run(&tree::TreeSettings {
            runs: args.runs.max(1),
            nodes: args.tree_nodes.max(1),
            moves: args.tree_moves,
            base_files: args.base_files.max(1),
        });
        return ExitCode::SUCCESS;
    }
    if let Err(e) = memo_traces::traces_dir() {
        eprintln!("memo-bench: {e}");
        return ExitCode::FAILURE;
    }
    let all = peers::all();
    if let Some(unknown) = args.only.iter().find(|o| !all.iter().any(|p| p.key() == o.as_str())) {
        let mut known: Vec<_> = all.iter().map(|p| p.key()).collect();
        known.dedup();
        eprintln!("memo-bench: unknown peer {unknown:?}; the peers are {}", known.join(", "));
        return ExitCode::FAILURE;
    }
    let peers: Vec<_> = all
        .into_iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|o| o == p.key()))
        .filter(|p| !(args.skip_slow && p.slow))
        .collect();
    let traces: Vec<String> = if args.traces.is_empty() {
        DEFAULT_TRACES.iter().map(|t| t.to_string()).collect()
    } else {
        args.traces.clone()
    };
    let settings = Settings { runs: args.runs.max(1), slow_runs: args.slow_runs.max(1) };

    println!("{}", report::legend(&settings));
    let mut failed = false;
    for name in &traces {
        eprintln!("{name}: loading");
        let trace = match memo_traces::load(name) {
            Ok(trace) => trace,
            Err(e) => {
                eprintln!("memo-bench: {e}");
                failed = true;
                continue;
            }
        };
        let rows: Vec<Row> = peers
            .iter()
            .map(|peer| {
                eprintln!("  {}", peer.name);
                catch_unwind(AssertUnwindSafe(|| (peer.measure)(&trace, &settings)))
                    .unwrap_or_else(|_| Row::failed(peer.name.to_owned(), "panicked"))
            })
            .collect();
        let patches: usize = trace.txns.iter().map(|t| t.patches.len()).sum();
        let about = format!(
            "{}, {} agent(s), {} txns, {} patches, {} chars at the end.",
            if is_sequential(&trace) { "Sequential" } else { "Concurrent" },
            trace.num_agents,
            report::thousands(trace.txns.len()),
            report::thousands(patches),
            report::thousands(trace.end_content.chars().count()),
        );
        println!("{}", report::table(name, &about, &rows));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
