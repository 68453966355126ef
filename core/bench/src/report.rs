//! Markdown tables of the measures.

use crate::bench::{Cell, Row, Settings};
use crate::peers::memo::Memo;
use crate::peers::Peer;
use std::fmt::Write;
use std::time::Duration;

/// What the columns mean, to print once above the tables.
pub fn legend(settings: &Settings) -> String {
    format!(
        "Times are the median of {runs} runs ({slow} for automerge and yrs). Each value is followed \
         by its ratio to memo-core's (peer ÷ memo-core: above 1× means memo-core is faster or smaller).\n\n\
         - **local replay**: every patch of a sequential trace applied as local edits (one \
         commit per trace transaction where the library has commits).\n\
         - **remote merge**: a fresh replica merges the whole history. memo-core: applies every \
         operation (`ops_since`), in memory; the row below decodes `encode_history` first, as the \
         peers decode their own encodings. Concurrent traces are first replayed once, untimed \
         (diamond-types through its event graph, the others by simulating the agents).\n\
         - **encoded history**: the library's own encoding of the whole document.\n\
         - **memory (local)** / **(merged)**: bytes allocated and still held by the document \
         after the local replay / by the fresh replica after the remote merge.\n\
         - ″: the row above's value; n/a: the peer has no such measure.\n",
        runs = settings.runs,
        slow = settings.slow_runs,
    )
}

/// A table for one trace: one line per peer, each measure with its ratio to
/// memo-core's (peer ÷ memo-core: above 1× means memo-core is faster or
/// smaller).
pub fn table(title: &str, about: &str, rows: &[Row]) -> String {
    let memo = rows.iter().find(|r| r.peer == Memo::NAME);
    let mut out = String::new();
    let _ = writeln!(out, "### {title}\n\n{about}\n");
    let _ =
        writeln!(out, "| peer | local replay | remote merge | encoded history | memory (local) | memory (merged) |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    // A peer with nothing to show for this trace (a rope on a concurrent
    // trace) gets no line.
    for row in rows.iter().filter(|r| !r.is_empty()) {
        let is_memo = row.peer == Memo::NAME;
        let base = |pick: fn(&Row) -> Option<f64>| if is_memo { None } else { memo.and_then(pick) };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.peer,
            cell(&row.local, base(|r| secs(&r.local)), fmt_time),
            cell(&row.merge, base(|r| secs(&r.merge)), fmt_time),
            cell(&row.encoded, base(|r| bytes(&r.encoded)), fmt_bytes),
            cell(&row.local_memory, base(|r| bytes(&r.local_memory)), fmt_bytes),
            cell(&row.merged_memory, base(|r| bytes(&r.merged_memory)), fmt_bytes),
        );
    }
    out
}

fn secs(c: &Cell<Duration>) -> Option<f64> {
    match c {
        Cell::Value(d) => Some(d.as_secs_f64()),
        _ => None,
    }
}

fn bytes(c: &Cell<usize>) -> Option<f64> {
    match c {
        Cell::Value(b) => Some(*b as f64),
        _ => None,
    }
}

pub(crate) fn cell<T: Copy + Into<Measure>>(c: &Cell<T>, memo: Option<f64>, fmt: fn(T) -> String) -> String {
    match c {
        Cell::Value(v) => match memo {
            Some(base) if base > 0.0 => format!("{} ({})", fmt(*v), ratio((*v).into().0 / base)),
            _ => fmt(*v),
        },
        Cell::NotApplicable => "n/a".to_owned(),
        Cell::SameAsAbove => "″".to_owned(),
        Cell::Failed(why) => format!("FAILED: {why}"),
    }
}

/// A ratio to memo-core's, with two decimals, or two significant digits
/// below 0.01 (`0.0012×`).
fn ratio(r: f64) -> String {
    match r {
        r if r == 0.0 || r >= 0.01 => format!("{r:.2}×"),
        r => format!("{:.*}×", (1 - r.log10().floor() as i32) as usize, r),
    }
}

/// A measure as a number, for ratios.
pub(crate) struct Measure(pub f64);

impl From<Duration> for Measure {
    fn from(d: Duration) -> Self {
        Measure(d.as_secs_f64())
    }
}

impl From<usize> for Measure {
    fn from(b: usize) -> Self {
        Measure(b as f64)
    }
}

pub(crate) fn fmt_time(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    match ms {
        ms if ms < 10.0 => format!("{ms:.2} ms"),
        ms if ms < 1000.0 => format!("{ms:.1} ms"),
        ms => format!("{:.2} s", ms / 1e3),
    }
}

pub(crate) fn fmt_bytes(b: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = b as f64;
    match b {
        b if b < KIB => format!("{b} B"),
        b if b < KIB * KIB => format!("{:.1} KiB", b / KIB),
        b => format!("{:.1} MiB", b / KIB / KIB),
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
