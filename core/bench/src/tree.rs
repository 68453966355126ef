//! The working-tree section (`--tree`): memo-core's [`WorkTree`] against
//! loro's movable tree ([`LoroTree`]) on random moves, applied locally and
//! merged by a fresh replica; then memo-core alone loading a large base
//! snapshot (no peer has one).

use crate::bench::{repeat, Cell};
use crate::report::{cell, fmt_bytes, fmt_time, thousands};
use loro::{ExportMode, LoroDoc, LoroTree, TreeID, TreeParentId};
use memo_core::tree::{BaseEntry, BaseKind, BaseSnapshot, BlobId, EmptyBase, EntryId, WorkTree};
use memo_core::{ReplicaId, TreeOp, VersionVector};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::fmt::Write;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the section measures, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct TreeSettings {
    /// Runs per timed measure; the median is reported.
    pub runs: usize,
    /// Nodes (directories) of the tree the moves shuffle.
    pub nodes: usize,
    /// Moves tried.
    pub moves: usize,
    /// Files of the base snapshot, 1,000 to a directory.
    pub base_files: usize,
}

/// The seed of the tree and the moves: every run tries the same ones.
const SEED: u64 = 2021;
/// Files per directory of the base snapshot.
const FILES_PER_DIR: usize = 1000;
/// The peer id of the replica that makes the edits; the merging replica
/// is another.
const LOCAL: u64 = 1;
const MERGING: u64 = 2;

/// Runs the section and prints its tables (markdown, on stdout).
pub fn run(settings: &TreeSettings) {
    println!("{}", legend(settings));
    let plan = Plan::new(settings.nodes, settings.moves);
    println!("{}", moves_table(&plan, settings));
    println!("{}", base_table(settings));
}

fn legend(settings: &TreeSettings) -> String {
    format!(
        "Times are the median of {runs} runs. Each value is followed by its ratio to memo-core's \
         (peer ÷ memo-core: above 1× means memo-core is faster or smaller).\n\n\
         - **local moves**: a replica holding the tree tries every move of the list, as local \
         edits, by identity: memo-core calls `move_entry(node, new parent, \"n{{node}}\")` \
         (which checks the node and the parent show, the name is free and no cycle is made, as \
         `rename` does after resolving two paths), loro calls `LoroTree::mov`; a move is skipped \
         when either returns an error. Building the tree first (a `create_dir` / `create` per node) is not timed.\n\
         - **moves applied**: how many of the moves tried were applied (the rest would have made \
         a cycle, or, for memo-core, put a node where it already is, which loro applies as a move \
         in place).\n\
         - **remote merge**: a fresh replica merges the whole history (creates and moves), then \
         answers one query about where a node is (memo-core: `apply` of every operation of \
         `ops_since`, then `path_of`; loro: `import` of `export(all_updates)`, then `parent`).\n\
         - **memory (local)** / **(merged)**: bytes allocated and still held by the replica after \
         the local moves / by the fresh replica after the merge.\n\
         - Every replica's final tree (each node's parent) is checked equal to memo-core's \
         after its local moves; a different one fails its measure.\n",
        runs = settings.runs,
    )
}

/// The same random tree and moves for every library.
#[derive(Debug)]
struct Plan {
    /// Each node's first parent (`None`: the top), a node made before it.
    parents: Vec<Option<usize>>,
    /// The moves to try: (node, new parent), `None` the top.
    moves: Vec<(usize, Option<usize>)>,
}

impl Plan {
    fn new(nodes: usize, moves: usize) -> Plan {
        let mut rng = StdRng::seed_from_u64(SEED);
        let parents = (0..nodes)
            .map(|i| {
                let p = rng.gen_range(0..=i);
                (p < i).then_some(p)
            })
            .collect();
        let moves = (0..moves)
            .map(|_| {
                let node = rng.gen_range(0..nodes);
                let p = rng.gen_range(0..=nodes);
                (node, (p < nodes).then_some(p))
            })
            .collect();
        Plan { parents, moves }
    }
}

/// Every node's name: unique, so that names never conflict.
fn name(node: usize) -> String {
    format!("n{node}")
}

/// A final tree: each node's parent (`None`: the top).
type Shape = Vec<Option<usize>>;

/// A movable tree as the benchmark drives it.
trait MovableTree {
    /// Name and version, as printed in the table.
    const NAME: &'static str;
    /// A replica and the handles of the plan's nodes.
    type Doc;
    /// The whole history, as a fresh replica receives it.
    type History: Clone;

    /// A replica holding the plan's nodes, each made under its first parent.
    fn build(plan: &Plan) -> Self::Doc;
    /// Tries every move of the plan as a local edit; returns how many were
    /// applied.
    fn apply_moves(doc: &mut Self::Doc, plan: &Plan) -> usize;
    fn history(doc: &Self::Doc) -> Self::History;
    /// A fresh replica that merged `history` and answered one query.
    fn merge(history: Self::History) -> Self::Doc;
    fn shape(doc: &Self::Doc) -> Shape;
}

#[derive(Debug)]
struct Memo;

#[derive(Debug)]
struct MemoTree {
    tree: WorkTree,
    ids: Vec<EntryId>,
}

impl MemoTree {
    fn path(&self, node: usize) -> String {
        self.tree.path_of(self.ids[node]).expect("every node shows")
    }
}

impl MovableTree for Memo {
    const NAME: &'static str = "memo-core";
    type Doc = MemoTree;
    type History = (Vec<TreeOp>, Vec<EntryId>);

    fn build(plan: &Plan) -> MemoTree {
        let mut tree = WorkTree::new(ReplicaId::from_u128(LOCAL.into()), Arc::new(EmptyBase));
        let mut paths: Vec<String> = Vec::with_capacity(plan.parents.len());
        let mut ids = Vec::with_capacity(plan.parents.len());
        for (i, parent) in plan.parents.iter().enumerate() {
            let path = match parent {
                None => name(i),
                Some(p) => format!("{}/{}", paths[*p], name(i)),
            };
            tree.create_dir(&path).expect("a new name in a directory");
            ids.push(tree.entry_at(&path).expect("just made"));
            paths.push(path);
        }
        MemoTree { tree, ids }
    }

    fn apply_moves(doc: &mut MemoTree, plan: &Plan) -> usize {
        let mut applied = 0;
        for &(node, parent) in &plan.moves {
            let parent = parent.map_or(EntryId::Root, |p| doc.ids[p]);
            if doc.tree.move_entry(doc.ids[node], parent, &name(node)).is_ok() {
                applied += 1;
            }
        }
        applied
    }

    fn history(doc: &MemoTree) -> Self::History {
        (doc.tree.ops_since(&VersionVector::new()), doc.ids.clone())
    }

    fn merge((ops, ids): Self::History) -> MemoTree {
        let mut tree = WorkTree::new(ReplicaId::from_u128(MERGING.into()), Arc::new(EmptyBase));
        for op in ops {
            tree.apply(op).expect("a replica's own history applies");
        }
        black_box(tree.path_of(ids[0]));
        MemoTree { tree, ids }
    }

    fn shape(doc: &MemoTree) -> Shape {
        (0..doc.ids.len())
            .map(|node| {
                let path = doc.path(node);
                let (dir, _) = path.rsplit_once('/')?;
                let parent = dir.rsplit('/').next().expect("a last component");
                Some(parent[1..].parse().expect("every node is named n{index}"))
            })
            .collect()
    }
}

/// loro's movable tree, in one document. `COMMIT_EACH`: one commit per
/// move instead of one for all; `FRACTIONAL`: siblings ordered by
/// fractional index (loro's default; memo-core orders by name).
#[derive(Debug)]
struct Loro<const COMMIT_EACH: bool, const FRACTIONAL: bool>;

#[derive(Debug)]
struct LoroTreeDoc {
    doc: LoroDoc,
    tree: LoroTree,
    ids: Vec<TreeID>,
}

const TREE: &str = "tree";

fn loro_parent(ids: &[TreeID], parent: Option<usize>) -> TreeParentId {
    match parent {
        None => TreeParentId::Root,
        Some(p) => TreeParentId::Node(ids[p]),
    }
}

impl<const COMMIT_EACH: bool, const FRACTIONAL: bool> MovableTree for Loro<COMMIT_EACH, FRACTIONAL> {
    const NAME: &'static str = match (COMMIT_EACH, FRACTIONAL) {
        (false, true) => "loro 1.17.1",
        (true, true) => "loro 1.17.1 (commit per move)",
        (false, false) => "loro 1.17.1 (no fractional index)",
        (true, false) => "loro 1.17.1 (commit per move, no fractional index)",
    };
    type Doc = LoroTreeDoc;
    type History = (Vec<u8>, Vec<TreeID>);

    fn build(plan: &Plan) -> LoroTreeDoc {
        let doc = LoroDoc::new();
        doc.set_peer_id(LOCAL).expect("a fresh document takes any peer id");
        let tree = doc.get_tree(TREE);
        if !FRACTIONAL {
            tree.disable_fractional_index();
        }
        let mut ids = Vec::with_capacity(plan.parents.len());
        for (i, parent) in plan.parents.iter().enumerate() {
            let id = tree.create(loro_parent(&ids, *parent)).expect("a node under a node");
            // The name, as memo-core's entries have one.
            tree.get_meta(id).expect("a node has metadata").insert("name", name(i)).expect("a string");
            ids.push(id);
        }
        doc.commit();
        LoroTreeDoc { doc, tree, ids }
    }

    fn apply_moves(doc: &mut LoroTreeDoc, plan: &Plan) -> usize {
        let mut applied = 0;
        for &(node, parent) in &plan.moves {
            if doc.tree.mov(doc.ids[node], loro_parent(&doc.ids, parent)).is_ok() {
                applied += 1;
            }
            if COMMIT_EACH {
                doc.doc.commit();
            }
        }
        doc.doc.commit();
        applied
    }

    fn history(doc: &LoroTreeDoc) -> Self::History {
        (doc.doc.export(ExportMode::all_updates()).expect("export"), doc.ids.clone())
    }

    fn merge((updates, ids): Self::History) -> LoroTreeDoc {
        let doc = LoroDoc::new();
        doc.set_peer_id(MERGING).expect("a fresh document takes any peer id");
        doc.import(&updates).expect("loro imports its own updates");
        let tree = doc.get_tree(TREE);
        black_box(tree.parent(ids[0]));
        LoroTreeDoc { doc, tree, ids }
    }

    fn shape(doc: &LoroTreeDoc) -> Shape {
        let index: HashMap<TreeID, usize> = doc.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        doc.ids
            .iter()
            .map(|id| match doc.tree.parent(*id) {
                Some(TreeParentId::Root) => None,
                Some(TreeParentId::Node(parent)) => Some(index[&parent]),
                other => panic!("node {id:?} has no parent: {other:?}"),
            })
            .collect()
    }
}

/// The measures of one library on the moves.
#[derive(Debug)]
struct MovesRow {
    name: &'static str,
    local: Cell<Duration>,
    applied: Cell<usize>,
    merge: Cell<Duration>,
    local_memory: Cell<usize>,
    merged_memory: Cell<usize>,
}

/// Measures `P` on the plan; the first library measured sets the
/// `reference` tree that the others must reach.
fn measure<P: MovableTree>(plan: &Plan, runs: usize, reference: &mut Option<Shape>) -> MovesRow {
    eprintln!("  {}", P::NAME);
    let s = repeat(
        runs,
        || P::build(plan),
        |mut doc| {
            let applied = P::apply_moves(&mut doc, plan);
            (doc, applied)
        },
    );
    eprintln!("    local moves {:.1?}", s.time);
    let (doc, applied) = s.value;
    let shape = P::shape(&doc);
    let ok = *reference.get_or_insert_with(|| shape.clone()) == shape;
    let mut row = MovesRow {
        name: P::NAME,
        local: checked(ok, s.time),
        applied: Cell::Value(applied),
        merge: Cell::NotApplicable,
        local_memory: checked(ok, s.bytes),
        merged_memory: Cell::NotApplicable,
    };
    let history = P::history(&doc);
    drop(doc);
    let s = repeat(runs, || history.clone(), P::merge);
    eprintln!("    remote merge {:.1?}", s.time);
    let ok = P::shape(&s.value) == shape && ok;
    row.merge = checked(ok, s.time);
    row.merged_memory = checked(ok, s.bytes);
    row
}

/// The average and the largest depth of a tree's nodes (1: at the top).
fn depths(shape: &[Option<usize>]) -> (f64, usize) {
    let mut depth: Vec<Option<usize>> = vec![None; shape.len()];
    for node in 0..shape.len() {
        // Up to the first node of known depth, then down again.
        let mut chain = vec![node];
        let mut above = 0;
        while let Some(&last) = chain.last() {
            match (depth[last], shape[last]) {
                (Some(d), _) => {
                    above = d;
                    chain.pop();
                    break;
                }
                (None, Some(parent)) => chain.push(parent),
                (None, None) => break,
            }
        }
        for &n in chain.iter().rev() {
            above += 1;
            depth[n] = Some(above);
        }
    }
    let depths: Vec<usize> = depth.into_iter().map(|d| d.expect("every node's depth is known")).collect();
    let total: usize = depths.iter().sum();
    (total as f64 / depths.len().max(1) as f64, depths.iter().copied().max().unwrap_or(0))
}

/// `value`, unless the tree it was measured on was wrong.
fn checked<T>(ok: bool, value: T) -> Cell<T> {
    match ok {
        true => Cell::Value(value),
        false => Cell::Failed("another tree than memo-core's"),
    }
}

fn moves_table(plan: &Plan, settings: &TreeSettings) -> String {
    let runs = settings.runs;
    eprintln!("working tree: {} nodes, {} moves", plan.parents.len(), plan.moves.len());
    let mut reference = None;
    let rows = [
        measure::<Memo>(plan, runs, &mut reference),
        measure::<Loro<false, true>>(plan, runs, &mut reference),
        measure::<Loro<true, true>>(plan, runs, &mut reference),
        measure::<Loro<false, false>>(plan, runs, &mut reference),
    ];
    let (initial_depth, initial_deepest) = depths(&plan.parents);
    let (depth, deepest) = reference.as_deref().map_or((0.0, 0), depths);

    let memo = &rows[0];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} random moves over {} nodes\n\n\
         A random tree of {} directories (node i under a random earlier node or the top), then \
         {} moves tried, each of a random node under a random node or the top (seed {SEED}; \
         memo-core and loro try the same list). A node's depth (1: at the top) is \
         {initial_depth:.1} on average before the moves (deepest {initial_deepest}) and \
         {depth:.1} after them (deepest {deepest}): random moves make deep trees, so long paths.\n",
        thousands(plan.moves.len()),
        thousands(plan.parents.len()),
        thousands(plan.parents.len()),
        thousands(plan.moves.len()),
    );
    let _ =
        writeln!(out, "| library | local moves | moves applied | remote merge | memory (local) | memory (merged) |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    let time = |c: &Cell<Duration>| match c {
        Cell::Value(d) => Some(d.as_secs_f64()),
        _ => None,
    };
    let bytes = |c: &Cell<usize>| match c {
        Cell::Value(b) => Some(*b as f64),
        _ => None,
    };
    for row in &rows {
        let is_memo = row.name == Memo::NAME;
        let base = |v: Option<f64>| if is_memo { None } else { v };
        let applied = match row.applied {
            Cell::Value(n) => thousands(n),
            _ => "n/a".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.name,
            cell(&row.local, base(time(&memo.local)), fmt_time),
            applied,
            cell(&row.merge, base(time(&memo.merge)), fmt_time),
            cell(&row.local_memory, base(bytes(&memo.local_memory)), fmt_bytes),
            cell(&row.merged_memory, base(bytes(&memo.merged_memory)), fmt_bytes),
        );
    }
    out
}

/// A base snapshot of `files` files, 1,000 to a directory, that counts
/// the contents read (a listing should read none).
#[derive(Debug)]
struct SyntheticBase {
    entries: Vec<BaseEntry>,
    reads: AtomicUsize,
}

impl SyntheticBase {
    fn new(files: usize) -> Self {
        let dirs = files.div_ceil(FILES_PER_DIR);
        let mut entries = Vec::with_capacity(dirs + files);
        entries.extend((0..dirs).map(|d| BaseEntry { path: format!("d{d:03}"), kind: BaseKind::Dir }));
        entries.extend((0..files).map(|f| {
            let mut blob = vec![0; 20];
            blob[..8].copy_from_slice(&(f as u64).to_le_bytes());
            BaseEntry { path: base_file(f), kind: BaseKind::File { blob: BlobId(blob), executable: false } }
        }));
        Self { entries, reads: AtomicUsize::new(0) }
    }
}

fn base_file(f: usize) -> String {
    format!("d{:03}/f{:04}.rs", f / FILES_PER_DIR, f % FILES_PER_DIR)
}

impl BaseSnapshot for SyntheticBase {
    fn entries(&self) -> Vec<BaseEntry> {
        self.entries.clone()
    }

    fn read(&self, _: &BlobId) -> Option<Vec<u8>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Some(b"fn main() {}\n".to_vec())
    }
}

fn base_table(settings: &TreeSettings) -> String {
    let runs = settings.runs;
    let files = settings.base_files.max(1);
    let synthetic = Arc::new(SyntheticBase::new(files));
    let entries = synthetic.entries.len();
    let base: Arc<dyn BaseSnapshot> = synthetic.clone();
    let replica = ReplicaId::from_u128(LOCAL.into());
    let probe = base_file(files / 2);
    eprintln!("base snapshot: {entries} entries");

    let load = repeat(runs, || base.clone(), |base| WorkTree::new(replica, base));
    eprintln!("  load {:.1?}", load.time);
    drop(load.value);
    let first = repeat(
        runs,
        || base.clone(),
        |base| {
            let tree = WorkTree::new(replica, base);
            black_box(tree.entry_at(&probe).expect("a base file shows"));
            tree
        },
    );
    eprintln!("  load + first query {:.1?}", first.time);
    let tree = first.value;
    let start = Instant::now();
    let listed = black_box(tree.paths().len());
    let listing = start.elapsed();
    assert_eq!(listed, entries, "the listing shows every base entry");
    drop(tree);
    let loaded = || {
        let tree = WorkTree::new(replica, base.clone());
        tree.entry_at(&probe).expect("a base file shows");
        tree
    };
    let change = repeat(runs, loaded, |mut tree| {
        tree.rename(&base_file(0), "d000/renamed.rs").expect("a free name");
        black_box(tree.entry_at(&probe).expect("a base file shows"));
        tree
    });
    eprintln!("  rename + next query {:.1?}", change.time);
    let edit = repeat(runs, loaded, |mut tree| {
        tree.edit_text(&base_file(0), 0, 0, "// hi\n").expect("a text file");
        black_box(tree.entry_at(&probe).expect("a base file shows"));
        tree
    });
    drop((change.value, edit.value));
    let reads = synthetic.reads.load(Ordering::Relaxed);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Loading a base snapshot of {} entries\n\n\
         memo-core only (no peer loads a Git commit): {} directories of up to {} files \
         (`d042/f0123.rs`), given by a `BaseSnapshot` whose `entries()` clones a prepared list \
         (as a Git-backed one would build it). Memory: bytes held by the `WorkTree` (the base \
         snapshot's own list not counted).\n",
        thousands(entries),
        thousands(entries - files),
        thousands(FILES_PER_DIR),
    );
    let _ = writeln!(out, "| memo-core | time | memory held |");
    let _ = writeln!(out, "|---|---:|---:|");
    let _ = writeln!(out, "| `WorkTree::new` | {} | {} |", fmt_time(load.time), fmt_bytes(load.bytes));
    let _ = writeln!(
        out,
        "| `WorkTree::new`, then a first query (`entry_at` of one path: builds the view) | {} | {} |",
        fmt_time(first.time),
        fmt_bytes(first.bytes)
    );
    let _ = writeln!(
        out,
        "| then `paths()` (view built; {} paths, one run) | {} | n/a |",
        thousands(listed),
        fmt_time(listing)
    );
    let _ = writeln!(
        out,
        "| on the loaded tree: `rename` of one file, then `entry_at` | {} | n/a |",
        fmt_time(change.time)
    );
    let _ = writeln!(
        out,
        "| on the loaded tree: `edit_text` of one base file (reads it), then `entry_at` | {} | n/a |",
        fmt_time(edit.time)
    );
    let edits = runs.max(1);
    let _ = writeln!(
        out,
        "\nBase contents read: {} (only the {} edits of the last row, one file each: loading and \
         listing read none).",
        thousands(reads),
        thousands(edits),
    );
    out
}
