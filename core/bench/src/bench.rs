//! Measures one peer on one trace.

use crate::alloc::live_bytes;
use crate::peers::Peer;
use memo_traces::Trace;
use std::time::{Duration, Instant};

/// How many times to repeat each timed measure.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub runs: usize,
    pub slow_runs: usize,
}

/// One measure of one peer.
#[derive(Debug, Clone)]
pub enum Cell<T> {
    Value(T),
    /// This peer has no such measure (e.g. a rope has no remote merge).
    NotApplicable,
    /// Measured in another row (the same code).
    SameAsAbove,
    /// The measure ran but its result was wrong, or it panicked.
    Failed(&'static str),
}

/// The measures of one peer on one trace.
#[derive(Debug, Clone)]
pub struct Row {
    pub peer: String,
    /// Median time to apply the trace as local edits (sequential traces).
    pub local: Cell<Duration>,
    /// Median time for a fresh replica to merge the whole history.
    pub merge: Cell<Duration>,
    /// Bytes of the whole history in the library's own encoding.
    pub encoded: Cell<usize>,
    /// Bytes held by the document after the local replay.
    pub local_memory: Cell<usize>,
    /// Bytes held by the fresh replica after the remote merge.
    pub merged_memory: Cell<usize>,
}

impl Row {
    /// Has this peer no measure at all (not even a failed one)?
    pub fn is_empty(&self) -> bool {
        fn na<T>(c: &Cell<T>) -> bool {
            matches!(c, Cell::NotApplicable)
        }
        na(&self.local) && na(&self.merge) && na(&self.encoded) && na(&self.local_memory) && na(&self.merged_memory)
    }

    pub fn failed(peer: String, why: &'static str) -> Self {
        Self {
            peer,
            local: Cell::Failed(why),
            merge: Cell::Failed(why),
            encoded: Cell::Failed(why),
            local_memory: Cell::Failed(why),
            merged_memory: Cell::Failed(why),
        }
    }
}

/// Is every transaction on top of the previous one (a sequential trace,
/// whatever its file format)?
pub fn is_sequential(trace: &Trace) -> bool {
    trace.txns.iter().enumerate().all(|(i, txn)| match i {
        0 => txn.parents.is_empty(),
        _ => txn.parents == [i - 1],
    })
}

/// One timed run: what it built, how long it took, and the bytes it holds.
pub(crate) struct Sample<T> {
    pub value: T,
    pub time: Duration,
    pub bytes: usize,
}

/// Times `build(prepare())`, leaving `prepare` out of the time but not out
/// of the bytes: what `build` consumes and frees is not counted as held.
pub(crate) fn sample<I, T>(prepare: impl FnOnce() -> I, build: impl FnOnce(I) -> T) -> Sample<T> {
    let before = live_bytes();
    let input = prepare();
    let start = Instant::now();
    let value = build(input);
    let time = start.elapsed();
    Sample { value, time, bytes: live_bytes().saturating_sub(before) }
}

/// Runs `build(prepare())` `runs` times (each result dropped before the next
/// run) and returns the last result, the median time and the last run's
/// bytes.
pub(crate) fn repeat<I, T>(runs: usize, mut prepare: impl FnMut() -> I, mut build: impl FnMut(I) -> T) -> Sample<T> {
    let mut times = Vec::with_capacity(runs);
    let mut last: Option<Sample<T>> = None;
    for _ in 0..runs.max(1) {
        drop(last.take());
        let s = sample(&mut prepare, &mut build);
        times.push(s.time);
        last = Some(s);
    }
    times.sort();
    let mut last = last.expect("at least one run");
    last.time = times[times.len() / 2];
    last
}

/// Measures peer `P` on `trace`. Every replica is checked against the
/// trace's end content; a wrong one fails its measure.
pub fn measure<P: Peer>(trace: &Trace, settings: &Settings) -> Row {
    let runs = if P::SLOW { settings.slow_runs } else { settings.runs };
    let ok = |doc: &P::Doc| P::text(doc) == trace.end_content;
    let mut row = Row {
        peer: P::NAME.to_owned(),
        local: Cell::NotApplicable,
        merge: Cell::NotApplicable,
        encoded: Cell::NotApplicable,
        local_memory: Cell::NotApplicable,
        merged_memory: Cell::NotApplicable,
    };

    // The replica whose history a fresh one will merge.
    let sequential = is_sequential(trace);
    let mut source = if P::SECOND_ROW {
        row.encoded = Cell::SameAsAbove;
        if sequential {
            row.local = Cell::SameAsAbove;
            row.local_memory = Cell::SameAsAbove;
            P::replay_local(trace)
        } else {
            P::replay_concurrent(trace).expect("the row above replayed it")
        }
    } else if sequential {
        let s = repeat(runs, || (), |()| P::replay_local(trace));
        eprintln!("    {}: local replay {:.1?}", P::NAME, s.time);
        if ok(&s.value) {
            row.local = Cell::Value(s.time);
            row.local_memory = Cell::Value(s.bytes);
        } else {
            row.local = Cell::Failed("wrong text");
            row.local_memory = Cell::Failed("wrong text");
        }
        s.value
    } else {
        let start = Instant::now();
        let Some(doc) = P::replay_concurrent(trace) else {
            eprintln!("    {}: no concurrent replay", P::NAME);
            return row;
        };
        eprintln!("    {}: concurrent replay (setup, not timed) {:.1?}", P::NAME, start.elapsed());
        if !ok(&doc) {
            return Row::failed(P::NAME.to_owned(), "wrong text");
        }
        doc
    };

    if !P::SECOND_ROW {
        row.encoded = P::encoded_size(&mut source).map_or(Cell::NotApplicable, Cell::Value);
    }
    let Some(history) = P::history(&mut source, trace) else {
        return row;
    };
    drop(source);

    let s = repeat(runs, || history.clone(), P::merge);
    eprintln!("    {}: remote merge {:.1?}", P::NAME, s.time);
    if ok(&s.value) {
        row.merge = Cell::Value(s.time);
        row.merged_memory = Cell::Value(s.bytes);
    } else {
        row.merge = Cell::Failed("wrong text");
        row.merged_memory = Cell::Failed("wrong text");
    }
    row
}
