//! The item list: every character ever inserted, in document order, deleted
//! ones included (as tombstones), stored as runs.
//!
//! A run is a stretch of characters that one replica typed in one go: ids
//! `seq..seq + len`, where character `i > 0` has the previous character as
//! its left origin and all share the run's right origin. Sequential typing
//! therefore costs one run, not one item per keystroke.
//!
//! Runs live in leaves of at most [`LEAF_CAP`] runs. Three indexes keep the
//! operations fast:
//! - a Fenwick tree over the leaves' visible lengths finds "the n-th visible
//!   character" in O(log leaves);
//! - per replica, a `BTreeMap` from seq to leaf finds a character by id:
//!   the greatest entry at or before a character's seq names its leaf, or
//!   a leaf that the character's leaf split off from (directly or not). One
//!   entry serves a whole stretch of a replica's ids, so splits and merges
//!   of runs leave the index alone, and so do leaf splits: a lookup that
//!   lands on an older leaf searches the leaves split off from it, then
//!   points the index at the leaf it found;
//! - `order` / `position_of` translate between a leaf's stable id and its
//!   place in the document, so that ids in the map survive leaf splits.

use crate::replicas::LocalReplica;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Maximum runs per leaf before it splits in two.
const LEAF_CAP: usize = 48;

/// A unit's id with the replica as a local index (see `ReplicaTable`),
/// packed in 8 bytes: the local replica plus one in the top 16 bits, the
/// sequence number in the low 48. (`Option<Id>` is 8 bytes too, which
/// halves the size of a run.)
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Id(std::num::NonZeroU64);

/// Sequence numbers held in an [`Id`] stay below this.
pub(crate) const MAX_LOCAL_SEQ: u64 = 1 << 48;
/// Local replica indexes stay below this.
pub(crate) const MAX_LOCAL_REPLICAS: u32 = (1 << 16) - 1;

impl Id {
    pub fn new(replica: LocalReplica, seq: u64) -> Self {
        debug_assert!(replica < MAX_LOCAL_REPLICAS && seq < MAX_LOCAL_SEQ);
        let packed = ((replica as u64 + 1) << 48) | seq;
        Self(std::num::NonZeroU64::new(packed).expect("the replica part is never zero"))
    }

    pub fn replica(self) -> LocalReplica {
        ((self.0.get() >> 48) - 1) as LocalReplica
    }

    pub fn seq(self) -> u64 {
        self.0.get() & (MAX_LOCAL_SEQ - 1)
    }

    pub fn plus(self, n: u64) -> Self {
        debug_assert!(self.seq() + n < MAX_LOCAL_SEQ);
        // The sequence number is the low bits: a plain add (hot in runs).
        Self(self.0.saturating_add(n))
    }

    /// The id before this one in its replica's sequence (`seq > 0`).
    pub fn prev(self) -> Self {
        Self::new(self.replica(), self.seq() - 1)
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.replica(), self.seq())
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    pub id: Id,
    pub len: u32,
    /// Left origin of the first character; `None` is the document start.
    pub left: Option<Id>,
    /// Right origin of every character; `None` is the document end.
    pub right: Option<Id>,
    /// Byte offset of the first character in [`ItemList::content`].
    pub content: u32,
    /// How many deletes that are not undone cover these characters.
    pub deletes: u32,
    /// Whether the insert that made these characters is undone.
    pub undone: bool,
}

impl Run {
    pub fn visible(&self) -> bool {
        self.deletes == 0 && !self.undone
    }

    fn visible_len(&self) -> usize {
        if self.visible() {
            self.len as usize
        } else {
            0
        }
    }

    fn contains(&self, id: Id) -> bool {
        // A run's packed ids are consecutive integers (see `Id::plus`).
        id.0.get().wrapping_sub(self.id.0.get()) < self.len as u64
    }

    fn same_state(&self, other: &Run) -> bool {
        self.deletes == other.deletes && self.undone == other.undone
    }
}

/// A place in the list: leaf position, run index in the leaf, character
/// offset in the run, and the leaf's id (which the position determines: it
/// spares hot paths a step of pointer chasing). Keys compare in document
/// order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct Key {
    pos: u32,
    run: u32,
    pub off: u32,
    leaf: u32,
}

impl Key {
    /// The key of the first character of this key's run.
    pub fn run_start(self) -> Key {
        Key { off: 0, ..self }
    }

    /// The key of the previous character in the same run (`off > 0`).
    pub fn prev(self) -> Key {
        Key { off: self.off - 1, ..self }
    }
}

/// Where the last visible lookup landed.
#[derive(Clone, Copy, Debug, Default)]
struct LeafHint {
    pos: u32,
    /// The leaf's id (at `pos` whenever `pos` is in range).
    leaf: u32,
    /// Visible characters before the leaf.
    start: usize,
    /// A run of the leaf and the visible characters of the leaf before it,
    /// kept true through edits (see `runs_changed`): the next lookup scans
    /// the leaf from there. Run 0 always qualifies.
    run: u32,
    run_start: usize,
}

#[derive(Clone, Debug, Default)]
struct Leaf {
    runs: Vec<Run>,
    visible: usize,
    /// The leaves that took runs from this one when it split, oldest
    /// first: index entries naming this leaf may stand for their ids. (Most
    /// leaves split once or twice: inline, no allocation.)
    split_to: SmallVec<[u32; 2]>,
}

/// A change of visible text, in visible character positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Visibility {
    Shown { pos: usize, content: (u32, u32) },
    Hidden { pos: usize, len: usize },
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ItemList {
    leaves: Vec<Leaf>,
    order: Vec<u32>,
    position_of: Vec<u32>,
    fenwick: Fenwick,
    /// Lookups repair it (see `key_of`), hence the `RefCell`.
    by_id: RefCell<Vec<BTreeMap<u64, u32>>>,
    /// Where the last lookup that the index sent to another leaf found its
    /// character (the next one often lands there too).
    moved_to: Cell<u32>,
    /// Per replica, one past its highest character id here: ids from there
    /// on name no character yet. Typing updates it on every keystroke:
    /// inline for the first replicas, no pointer to chase (0.8 ms of the
    /// automerge-paper replay as a `Vec`).
    char_end: SmallVec<[u64; 4]>,
    /// Every inserted character's text, appended in arrival order.
    content: String,
    /// Whether `content` is all ASCII, so that char offsets are byte offsets.
    ascii: bool,
    visible_len: usize,
    /// The leaf and run of the last visible lookup, and how many visible
    /// characters stand before them. Edits cluster, so the next lookup
    /// usually lands in the same leaf, near the same run: it needs no walk
    /// of the Fenwick tree, and a short scan of the leaf.
    hint: Cell<LeafHint>,
}

impl ItemList {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of visible characters.
    #[inline]
    pub fn len(&self) -> usize {
        self.visible_len
    }

    fn leaf_at(&self, pos: u32) -> &Leaf {
        &self.leaves[self.order[pos as usize] as usize]
    }

    #[inline]
    pub fn run_at(&self, key: Key) -> &Run {
        debug_assert_eq!(self.order[key.pos as usize], key.leaf, "a stale key");
        &self.leaves[key.leaf as usize].runs[key.run as usize]
    }

    /// The key of `off` in run `run` of the leaf at `pos`.
    fn key(&self, pos: u32, run: u32, off: u32) -> Key {
        Key { pos, run, off, leaf: self.order[pos as usize] }
    }

    /// The id of the character at `key`.
    #[inline]
    pub fn id_at(&self, key: Key) -> Id {
        self.run_at(key).id.plus(key.off as u64)
    }

    /// Where the character `id` is, or `None` if no character has that id.
    pub fn key_of(&self, id: Id) -> Option<Key> {
        // Ids past every character need no search.
        if self.char_end.get(id.replica() as usize).is_none_or(|&end| id.seq() >= end) {
            return None;
        }
        let named = self.leaf_for(id)?;
        let (leaf, index) = self.search_from(named, id)?;
        let run = &self.leaves[leaf as usize].runs[index];
        if leaf != named {
            self.repoint(run, leaf);
            self.moved_to.set(leaf);
        }
        let pos = self.position_of[leaf as usize];
        Some(Key { pos, run: index as u32, off: (id.seq() - run.id.seq()) as u32, leaf })
    }

    /// The leaf that holds `id` if it is a character, or one it split off
    /// from: the one named by the index's greatest entry at or before it.
    fn leaf_for(&self, id: Id) -> Option<u32> {
        let by_id = self.by_id.borrow();
        let index = by_id.get(id.replica() as usize)?;
        index.range(..=id.seq()).next_back().map(|(_, &leaf)| leaf)
    }

    /// The leaf and run that hold `id`, searched for in `named`, then in
    /// `moved_to` (lookups cluster: deleting a range looks up its runs one
    /// after another), then in the leaves split off from `named`, newest
    /// first (depth first).
    fn search_from(&self, named: u32, id: Id) -> Option<(u32, usize)> {
        let in_leaf = |leaf: u32| self.leaves[leaf as usize].runs.iter().position(|r| r.contains(id));
        if let Some(run) = in_leaf(named) {
            return Some((named, run));
        }
        let guess = self.moved_to.get();
        if let Some(run) = (guess != named).then(|| in_leaf(guess)).flatten() {
            return Some((guess, run));
        }
        let mut todo: SmallVec<[u32; 8]> = SmallVec::from_slice(&self.leaves[named as usize].split_to);
        while let Some(leaf) = todo.pop() {
            if let Some(run) = in_leaf(leaf) {
                return Some((leaf, run));
            }
            todo.extend_from_slice(&self.leaves[leaf as usize].split_to);
        }
        None
    }

    /// Points the index at `leaf` for the ids of `run`, which a search found
    /// there rather than in the leaf the index named, so that the next
    /// lookup goes straight there. The ids after the run keep the leaf the
    /// index gives them now.
    fn repoint(&self, run: &Run, leaf: u32) {
        let replica = run.id.replica() as usize;
        let (start, end) = (run.id.seq(), run.id.seq() + run.len as u64);
        let chars_after = self.char_end.get(replica).is_some_and(|&e| end < e);
        let mut by_id = self.by_id.borrow_mut();
        let index = &mut by_id[replica];
        if chars_after && !index.contains_key(&end) {
            let after = *index.range(..end).next_back().expect("an entry names the run's leaf").1;
            index.insert(end, after);
        }
        index.insert(start, leaf);
    }

    /// The key just after `key`, or `None` at the end of the list.
    pub fn next_key(&self, key: Key) -> Option<Key> {
        let run = self.run_at(key);
        if key.off + 1 < run.len {
            return Some(Key { off: key.off + 1, ..key });
        }
        self.next_run(key)
    }

    /// The first character of the run after `key`'s run.
    pub fn next_run(&self, key: Key) -> Option<Key> {
        if (key.run as usize) + 1 < self.leaves[key.leaf as usize].runs.len() {
            return Some(Key { run: key.run + 1, off: 0, ..key });
        }
        self.first_key_from(key.pos + 1)
    }

    fn first_key_from(&self, mut pos: u32) -> Option<Key> {
        while (pos as usize) < self.order.len() {
            if !self.leaf_at(pos).runs.is_empty() {
                return Some(self.key(pos, 0, 0));
            }
            pos += 1;
        }
        None
    }

    /// The first character of the list, tombstones included.
    pub fn first_key(&self) -> Option<Key> {
        self.first_key_from(0)
    }

    /// The key of the `index`-th visible character (`index < len()`).
    pub fn visible_key(&self, index: usize) -> Key {
        debug_assert!(index < self.visible_len);
        let hint = self.hint.get();
        let in_hint = (hint.pos as usize) < self.order.len()
            && index >= hint.start
            && index < hint.start + self.leaves[hint.leaf as usize].visible;
        let (hint, rest) = match in_hint {
            true => (hint, index - hint.start),
            false => {
                let (pos, rest) = self.fenwick.find(index);
                let leaf = self.order[pos];
                (LeafHint { pos: pos as u32, leaf, start: index - rest, run: 0, run_start: 0 }, rest)
            }
        };
        debug_assert_eq!(self.order[hint.pos as usize], hint.leaf);
        let (key, run_start) = self.key_in_leaf(hint, rest);
        let unhinted = LeafHint { run: 0, run_start: 0, ..hint };
        debug_assert_eq!(key, self.key_in_leaf(unhinted, rest).0, "the hint is stale");
        self.hint.set(LeafHint { run: key.run, run_start, ..hint });
        key
    }

    /// The key of the `rest`-th visible character of the hint's leaf, and
    /// how many visible characters of the leaf stand before its run. The
    /// scan starts from the hint's run: edits cluster, and a long run of
    /// typing between two lookups is few runs but many characters. From run
    /// 0 (no better hint), it starts from the leaf's nearer end.
    fn key_in_leaf(&self, at: LeafHint, rest: usize) -> (Key, usize) {
        let leaf = &self.leaves[at.leaf as usize];
        let (mut run, mut before) = match (at.run as usize, at.run_start) {
            (0, _) if rest >= leaf.visible / 2 => (leaf.runs.len(), leaf.visible),
            from => from,
        };
        while before > rest {
            run -= 1;
            before -= leaf.runs[run].visible_len();
        }
        while before + leaf.runs[run].visible_len() <= rest {
            before += leaf.runs[run].visible_len();
            run += 1;
        }
        (Key { pos: at.pos, run: run as u32, off: (rest - before) as u32, leaf: at.leaf }, before)
    }

    /// Notes that runs `from..` of the leaf at `pos` changed in number or in
    /// visible length: the hint's run stays only if it comes before them.
    fn runs_changed(&mut self, pos: u32, from: u32) {
        let hint = self.hint.get_mut();
        if hint.pos == pos && hint.run >= from {
            (hint.run, hint.run_start) = (0, 0);
        }
    }

    /// How many visible characters stand before `key`.
    pub fn visible_before(&self, key: Key) -> usize {
        let leaf = &self.leaves[key.leaf as usize];
        let in_leaf: usize = leaf.runs[..key.run as usize].iter().map(Run::visible_len).sum();
        let run = &leaf.runs[key.run as usize];
        let in_run = if run.visible() { key.off as usize } else { 0 };
        self.fenwick.prefix(key.pos as usize) + in_leaf + in_run
    }

    /// Appends text to the content buffer; returns its byte range.
    #[inline]
    pub fn push_content(&mut self, text: &str) -> (u32, u32) {
        let start = self.content.len() as u32;
        match text.as_bytes() {
            // A keystroke: no call to copy one byte.
            &[byte] => self.content.push(byte as char),
            _ => self.content.push_str(text),
        }
        self.ascii = (self.ascii || start == 0) && text.is_ascii();
        (start, self.content.len() as u32)
    }

    /// The text at a byte range of the content buffer.
    pub fn content(&self, (start, end): (u32, u32)) -> &str {
        &self.content[start as usize..end as usize]
    }

    /// Byte range of `len` characters of `run` starting at char offset `off`.
    #[inline]
    fn byte_range(&self, run: &Run, off: u32, len: u32) -> (u32, u32) {
        match self.ascii {
            true => (run.content + off, run.content + off + len),
            false => self.utf8_byte_range(run, off, len),
        }
    }

    /// `byte_range` when characters may be more than a byte.
    fn utf8_byte_range(&self, run: &Run, off: u32, len: u32) -> (u32, u32) {
        let text = &self.content[run.content as usize..];
        let mut chars = text.char_indices().map(|(b, _)| b as u32).chain([text.len() as u32]);
        let start = chars.nth(off as usize).unwrap_or(0);
        let end = if len == 0 { start } else { chars.nth(len as usize - 1).unwrap_or(start) };
        (run.content + start, run.content + end)
    }

    /// The visible text.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.visible_len);
        for &leaf in &self.order {
            for run in &self.leaves[leaf as usize].runs {
                if run.visible() {
                    let (start, end) = self.byte_range(run, 0, run.len);
                    out.push_str(&self.content[start as usize..end as usize]);
                }
            }
        }
        out
    }

    /// Inserts `run` before `at` (`None`: at the end). Extends the previous
    /// run instead when `run` continues it, which keeps typing one run.
    /// Returns the key of the new run's first character.
    pub fn insert_before(&mut self, at: Option<Key>, run: Run) -> Key {
        let at = at.map(|key| if key.off > 0 { self.split(key).1 } else { key });
        let (pos, index) = match at {
            // At a leaf's start, append to the previous leaf instead, so that
            // typing at a leaf boundary still extends its run.
            Some(key) if key.run == 0 && key.pos > 0 => (key.pos - 1, self.leaf_at(key.pos - 1).runs.len() as u32),
            Some(key) => (key.pos, key.run),
            None => self.end_slot(),
        };
        if index > 0 && self.try_extend(pos, index - 1, &run) {
            let prev = &self.leaf_at(pos).runs[index as usize - 1];
            return self.key(pos, index - 1, prev.len - run.len);
        }
        self.insert_run(pos, index, run, true)
    }

    /// The (leaf position, run index) just past the last run.
    fn end_slot(&mut self) -> (u32, u32) {
        if self.order.is_empty() {
            self.leaves.push(Leaf::default());
            self.order.push(0);
            self.position_of.push(0);
            self.fenwick.rebuild([0]);
        }
        let pos = self.order.len() as u32 - 1;
        (pos, self.leaf_at(pos).runs.len() as u32)
    }

    /// Grows the run at `key` by `len` new characters whose content was
    /// just appended (a run of typing). (Inline, like the other per
    /// keystroke calls from `TextDoc`: they are in another codegen unit.)
    #[inline]
    pub fn grow_run(&mut self, key: Key, len: u32) {
        let run = &mut self.leaves[key.leaf as usize].runs[key.run as usize];
        let first_new = run.id.plus(run.len as u64);
        run.len += len;
        debug_assert!(run.visible(), "typing extends a visible run");
        self.runs_changed(key.pos, key.run + 1);
        self.add_visible(key.pos, key.leaf, len as isize);
        self.note_chars(first_new.plus(len as u64 - 1));
        // Typing uses fresh ids: no index entry can stand at them, so the
        // entry that finds the run finds them too.
        debug_assert_eq!(self.key_of(first_new).map(|k| (k.pos, k.run)), Some((key.pos, key.run)));
    }

    /// Records that characters up to `last`, fresh ids, exist.
    fn note_chars(&mut self, last: Id) {
        let replica = last.replica() as usize;
        if self.char_end.len() <= replica {
            self.char_end.resize(replica + 1, 0);
        }
        // A store, no read: typing does this on every keystroke.
        debug_assert!(self.char_end[replica] <= last.seq());
        self.char_end[replica] = last.seq() + 1;
    }

    /// Makes sure the index sends the new characters `first..first + len`
    /// to `leaf`. New characters have fresh ids, above every key of their
    /// replica's index, so the entry that decides them is the last one.
    fn index_new_chars(&mut self, first: Id, len: u32, leaf: u32) {
        debug_assert!(self.char_end.get(first.replica() as usize).is_none_or(|&end| first.seq() >= end));
        self.note_chars(first.plus(len as u64 - 1));
        let index = self.index_of(first.replica());
        if index.last_key_value().map(|(_, &last)| last) != Some(leaf) {
            index.insert(first.seq(), leaf);
        }
    }

    /// Whether `next` continues `prev` exactly as if one run had been
    /// split in two: then they may be one run.
    fn continues(&self, prev: &Run, next: &Run) -> bool {
        prev.id.plus(prev.len as u64) == next.id
            && next.left == Some(prev.id.plus(prev.len as u64 - 1))
            && prev.right == next.right
            && prev.same_state(next)
            && self.byte_range(prev, 0, prev.len).1 == next.content
    }

    fn try_extend(&mut self, pos: u32, index: u32, run: &Run) -> bool {
        let leaf = self.order[pos as usize] as usize;
        if !self.continues(&self.leaves[leaf].runs[index as usize], run) {
            return false;
        }
        self.leaves[leaf].runs[index as usize].len += run.len;
        self.runs_changed(pos, index + 1);
        self.add_visible(pos, leaf as u32, run.visible_len() as isize);
        self.index_new_chars(run.id, run.len, leaf as u32);
        true
    }

    /// Inserts `run` at `index` of the leaf at `pos`; `counted` says whether
    /// its characters are new (false when a split moves existing ones).
    fn insert_run(&mut self, pos: u32, index: u32, run: Run, counted: bool) -> Key {
        let leaf = self.order[pos as usize];
        // A split's tail stays in its leaf: only new characters may need
        // an index entry.
        if counted {
            self.index_new_chars(run.id, run.len, leaf);
        }
        self.leaves[leaf as usize].runs.insert(index as usize, run);
        self.runs_changed(pos, index);
        if counted {
            self.add_visible(pos, leaf, run.visible_len() as isize);
        }
        if self.leaves[leaf as usize].runs.len() > LEAF_CAP {
            let half = self.split_leaf(pos, index as usize) as u32;
            if index >= half {
                return self.key(pos + 1, index - half, 0);
            }
        }
        Key { pos, run: index, off: 0, leaf }
    }

    fn index_of(&mut self, replica: LocalReplica) -> &mut BTreeMap<u64, u32> {
        let by_id = self.by_id.get_mut();
        if by_id.len() <= replica as usize {
            by_id.resize_with(replica as usize + 1, BTreeMap::new);
        }
        &mut by_id[replica as usize]
    }

    /// Adds `delta` visible characters to the leaf `leaf`, at `pos`.
    fn add_visible(&mut self, pos: u32, leaf: u32, delta: isize) {
        if delta != 0 {
            let leaf = &mut self.leaves[leaf as usize];
            leaf.visible = (leaf.visible as isize + delta) as usize;
            self.visible_len = (self.visible_len as isize + delta) as usize;
            self.fenwick.add(pos as usize, delta);
            let hint = self.hint.get_mut();
            if pos < hint.pos {
                hint.start = (hint.start as isize + delta) as usize;
            }
        }
    }

    /// Splits the run at `key` (`key.off > 0`) so that a run starts at
    /// `key.off`; returns the keys of the two halves.
    fn split(&mut self, key: Key) -> (Key, Key) {
        let run = *self.run_at(key);
        let (tail_content, _) = self.byte_range(&run, key.off, 0);
        let tail = Run {
            id: run.id.plus(key.off as u64),
            len: run.len - key.off,
            left: Some(run.id.plus(key.off as u64 - 1)),
            content: tail_content,
            ..run
        };
        self.leaves[key.leaf as usize].runs[key.run as usize].len = key.off;
        let tail_key = self.insert_run(key.pos, key.run + 1, tail, false);
        // A leaf split may have moved the tail, or both halves, to the next
        // leaf.
        let head_key = match tail_key.run {
            0 => key.run_start(),
            run => Key { run: run - 1, ..tail_key },
        };
        (head_key, tail_key)
    }

    /// Splits the leaf at `pos`, which just received a run at `inserted`,
    /// and returns how many runs stay. Editing moves forwards through a
    /// text, so when that run is in the leaf's second half the leaf splits
    /// just before it: the runs ahead of the edit move, the ones behind it
    /// stay. The index keeps naming the old leaf for the moved runs (see
    /// `key_of`).
    fn split_leaf(&mut self, pos: u32, inserted: usize) -> usize {
        let leaf = self.order[pos as usize] as usize;
        let len = self.leaves[leaf].runs.len();
        let half = if inserted >= len / 2 { inserted } else { len / 2 };
        let new_leaf = self.leaves.len() as u32;
        let runs: Vec<Run> = self.leaves[leaf].runs.split_off(half);
        let visible: usize = runs.iter().map(Run::visible_len).sum();
        self.leaves[leaf].visible -= visible;
        self.leaves[leaf].split_to.push(new_leaf);
        self.leaves.push(Leaf { runs, visible, split_to: SmallVec::new() });
        self.order.insert(pos as usize + 1, new_leaf);
        self.runs_changed(pos, half as u32);
        let hint = self.hint.get_mut();
        if pos < hint.pos {
            hint.pos += 1;
        }
        self.position_of.push(0);
        for (p, &l) in self.order.iter().enumerate().skip(pos as usize) {
            self.position_of[l as usize] = p as u32;
        }
        let leaves = &self.leaves;
        self.fenwick.rebuild(self.order.iter().map(|&l| leaves[l as usize].visible));
        half
    }

    /// Applies `change` to the characters `id..id + len` (which must exist),
    /// splitting runs at the range's ends, and reports what became visible
    /// or hidden, in order.
    pub fn update(&mut self, id: Id, len: u64, change: impl Fn(&mut Run), out: &mut Vec<Visibility>) {
        let mut next = id;
        let end = id.seq() + len;
        while next.seq() < end {
            let key = self.key_of(next).expect("update of an unknown character");
            let take = (self.run_at(key).len - key.off).min((end - next.seq()) as u32);
            self.update_piece(key, take, &change, Some(out));
            next = next.plus(take as u64);
        }
    }

    /// Applies `change` to the `len` characters from `key` on, which lie in
    /// one run; reports visibility changes to `out` if given.
    pub fn update_piece(&mut self, key: Key, len: u32, change: impl Fn(&mut Run), out: Option<&mut Vec<Visibility>>) {
        let mut out = out;
        if self.shift_into_neighbour(key, len, &change, out.as_deref_mut()) {
            return;
        }
        let mut key = key;
        if key.off > 0 {
            key = self.split(key).1;
        }
        if len < self.run_at(key).len {
            key = self.split(Key { off: len, ..key }).0;
        }
        let run = &mut self.leaves[key.leaf as usize].runs[key.run as usize];
        let was_visible = run.visible();
        change(run);
        let after = *run;
        let delta = match (was_visible, after.visible()) {
            (true, false) => -(len as isize),
            (false, true) => len as isize,
            _ => 0,
        };
        if let (Some(out), true) = (out, delta != 0) {
            let pos = self.visible_before(key);
            out.push(match delta < 0 {
                true => Visibility::Hidden { pos, len: len as usize },
                false => Visibility::Shown { pos, content: self.byte_range(&after, 0, after.len) },
            });
        }
        self.runs_changed(key.pos, key.run + 1);
        self.add_visible(key.pos, key.leaf, delta);
        // Deleting splits runs; pieces that agree again become one run
        // (a run of backspaces leaves one tombstone, not one per key).
        self.merge_with_next(key.pos, key.run);
        if key.run > 0 {
            self.merge_with_next(key.pos, key.run - 1);
        }
    }

    /// Updates a piece at one end of its run by moving it into the
    /// neighbouring run when, changed, it continues that run: what a split
    /// and a merge would do, without shifting the leaf's runs twice
    /// (backspacing, deleting forwards). Returns whether it did.
    fn shift_into_neighbour(
        &mut self,
        key: Key,
        len: u32,
        change: &impl Fn(&mut Run),
        out: Option<&mut Vec<Visibility>>,
    ) -> bool {
        let leaf = key.leaf as usize;
        let runs = &self.leaves[leaf].runs;
        let i = key.run as usize;
        let run = runs[i];
        let at_end = key.off > 0 && key.off + len == run.len && i + 1 < runs.len();
        let at_start = key.off == 0 && len < run.len && i > 0;
        if !at_end && !at_start {
            return false;
        }
        let mut piece = run;
        change(&mut piece);
        piece.id = run.id.plus(key.off as u64);
        piece.len = len;
        piece.left = if key.off == 0 { run.left } else { Some(run.id.plus(key.off as u64 - 1)) };
        piece.content = self.byte_range(&run, key.off, 0).0;
        let fits = match at_end {
            true => self.continues(&piece, &runs[i + 1]),
            false => self.continues(&runs[i - 1], &piece),
        };
        if !fits {
            return false;
        }
        let delta = piece.visible_len() as isize - run.visible_len().min(len as usize) as isize;
        if let (Some(out), true) = (out, delta != 0) {
            let pos = self.visible_before(key);
            out.push(match delta < 0 {
                true => Visibility::Hidden { pos, len: len as usize },
                false => Visibility::Shown { pos, content: self.byte_range(&piece, 0, len) },
            });
        }
        let rest_content = self.byte_range(&run, len, 0).0;
        // The runs after the piece's new run see their visible prefixes
        // change; moved off the start of its run, the piece now precedes it.
        self.runs_changed(key.pos, key.run + 1);
        let hint = self.hint.get_mut();
        if !at_end && (hint.pos, hint.run) == (key.pos, key.run) {
            hint.run_start += piece.visible_len();
        }
        let runs = &mut self.leaves[leaf].runs;
        if at_end {
            runs[i].len -= len;
            let next = &mut runs[i + 1];
            next.len += len;
            (next.id, next.left, next.content) = (piece.id, piece.left, piece.content);
        } else {
            runs[i - 1].len += len;
            let rest = &mut runs[i];
            rest.len -= len;
            (rest.id, rest.left, rest.content) =
                (run.id.plus(len as u64), Some(run.id.plus(len as u64 - 1)), rest_content);
        }
        self.add_visible(key.pos, key.leaf, delta);
        true
    }

    /// Merges run `index` of the leaf at `pos` with the run after it in the
    /// same leaf, when that one continues it.
    fn merge_with_next(&mut self, pos: u32, index: u32) {
        let leaf = self.order[pos as usize] as usize;
        let runs = &self.leaves[leaf].runs;
        let i = index as usize;
        if i + 1 >= runs.len() || !self.continues(&runs[i], &runs[i + 1]) {
            return;
        }
        self.runs_changed(pos, index + 1);
        let runs = &mut self.leaves[leaf].runs;
        let next = runs.remove(i + 1);
        runs[i].len += next.len;
        // An index entry at `next`'s start names this leaf: still right.
    }

    /// The ids of the visible characters in `start..end`, as runs.
    pub fn visible_ids(&self, start: usize, end: usize, out: &mut Vec<(Id, u64)>) {
        out.clear();
        if start >= end {
            return;
        }
        let mut key = Some(self.visible_key(start));
        let mut remaining = end - start;
        while let (Some(k), true) = (key, remaining > 0) {
            let run = self.run_at(k);
            if run.visible() {
                let take = ((run.len - k.off) as usize).min(remaining);
                out.push((run.id.plus(k.off as u64), take as u64));
                remaining -= take;
            }
            key = self.next_run(k);
        }
    }

    /// Compares two places where `None` means "before everything".
    pub fn cmp_left(a: Option<Key>, b: Option<Key>) -> Ordering {
        a.cmp(&b)
    }

    /// Compares two places where `None` means "after everything".
    pub fn cmp_right(a: Option<Key>, b: Option<Key>) -> Ordering {
        match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(&b),
        }
    }

    /// If `target` lies in the same run as `key`, at or after it.
    pub fn same_run_ahead(key: Key, target: Option<Key>) -> Option<Key> {
        target.filter(|t| t.pos == key.pos && t.run == key.run && t.off >= key.off)
    }

    /// (runs, leaves), for diagnostics.
    pub fn shape(&self) -> (usize, usize) {
        (self.leaves.iter().map(|l| l.runs.len()).sum(), self.leaves.len())
    }

    /// Checks the indexes against the leaves (for tests).
    #[cfg(test)]
    pub fn check(&self) {
        let mut total = 0;
        for (pos, &leaf) in self.order.iter().enumerate() {
            assert_eq!(self.position_of[leaf as usize] as usize, pos);
            let visible: usize = self.leaves[leaf as usize].runs.iter().map(Run::visible_len).sum();
            assert_eq!(visible, self.leaves[leaf as usize].visible);
            assert_eq!(self.fenwick.prefix(pos), total);
            total += visible;
            for (i, run) in self.leaves[leaf as usize].runs.iter().enumerate() {
                for id in [run.id, run.id.plus(run.len as u64 - 1)] {
                    let key = self.key_of(id).expect("every character is in the index");
                    assert_eq!((key.pos as usize, key.run as usize), (pos, i));
                }
            }
        }
        assert_eq!(total, self.visible_len);
    }
}

/// Prefix sums of the leaves' visible lengths (a Fenwick / binary indexed
/// tree), so that finding a visible position is O(log leaves).
///
/// The latest changes to one leaf wait in `pending` instead of walking the
/// tree, and reads account for them: typing changes one leaf keystroke
/// after keystroke.
#[derive(Clone, Debug, Default)]
struct Fenwick {
    tree: Vec<usize>,
    /// A change of one index's value not yet in `tree`.
    pending: Option<(usize, isize)>,
}

impl Fenwick {
    /// Builds the tree over `values` in O(n).
    fn rebuild(&mut self, values: impl IntoIterator<Item = usize>) {
        self.pending = None;
        self.tree.clear();
        self.tree.push(0);
        self.tree.extend(values);
        for i in 1..self.tree.len() {
            let parent = i + (i & i.wrapping_neg());
            if parent < self.tree.len() {
                self.tree[parent] += self.tree[i];
            }
        }
    }

    fn add(&mut self, index: usize, delta: isize) {
        match &mut self.pending {
            Some((pending, sum)) if *pending == index => *sum += delta,
            _ => {
                if let Some((pending, sum)) = self.pending.replace((index, delta)) {
                    self.add_to_tree(pending, sum);
                }
            }
        }
    }

    fn add_to_tree(&mut self, index: usize, delta: isize) {
        let mut i = index + 1;
        while i < self.tree.len() {
            self.tree[i] = (self.tree[i] as isize + delta) as usize;
            i += i & i.wrapping_neg();
        }
    }

    /// Sum of the values before `index`.
    fn prefix(&self, index: usize) -> usize {
        let sum = self.tree_prefix(index);
        match self.pending {
            Some((pending, delta)) if pending < index => (sum as isize + delta) as usize,
            _ => sum,
        }
    }

    fn tree_prefix(&self, index: usize) -> usize {
        let mut i = index;
        let mut sum = 0;
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    /// The index whose range holds the `target`-th unit, and the offset in it.
    fn find(&self, target: usize) -> (usize, usize) {
        let Some((pending, delta)) = self.pending else { return self.tree_find(target) };
        // Sums up to `pending` are right in the tree; past it they lack `delta`.
        let through_pending = (self.tree_prefix(pending + 1) as isize + delta) as usize;
        if target >= through_pending {
            return self.tree_find((target as isize - delta) as usize);
        }
        match self.tree_find(target) {
            (index, _) if index > pending => (pending, target - self.tree_prefix(pending)),
            found => found,
        }
    }

    fn tree_find(&self, mut target: usize) -> (usize, usize) {
        let mut pos = 0;
        let mut step = (self.tree.len()).next_power_of_two() / 2;
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && self.tree[next] <= target {
                pos = next;
                target -= self.tree[next];
            }
            step /= 2;
        }
        (pos, target)
    }
}

#[cfg(test)]
mod index_tests {
    use crate::{ReplicaId, TextDoc, VersionVector};
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    /// Edits that split many leaves (at the front, or anywhere), then a
    /// lookup of every run (`check`), and a replica that merges the history
    /// by looking up every origin.
    #[test]
    fn lookups_find_characters_that_leaf_splits_moved() {
        for seed in 0..4 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut doc = TextDoc::new(ReplicaId::from_u128(1));
            for _ in 0..3000 {
                let len = doc.len();
                let pos = if seed == 0 { 0 } else { rng.gen_range(0..=len) };
                if len > 0 && rng.gen_bool(0.3) {
                    doc.delete(pos.min(len - 1), (pos + 2).min(len)).unwrap();
                } else {
                    doc.insert(pos, ["a", "bc"][rng.gen_range(0..2)]).unwrap();
                }
            }
            doc.check();
            let mut merged = TextDoc::new(ReplicaId::from_u128(2));
            for op in doc.ops_since(&VersionVector::new()) {
                merged.apply(op).unwrap();
            }
            merged.check();
            assert_eq!(merged.text(), doc.text());
        }
    }
}

#[cfg(test)]
mod fenwick_tests {
    use super::Fenwick;
    use proptest::prelude::*;

    proptest! {
        /// With changes pending or not, the tree agrees with plain sums.
        #[test]
        fn fenwick_matches_plain_sums(
            start in prop::collection::vec(0usize..5, 1..40),
            changes in prop::collection::vec((any::<usize>(), 0usize..5), 0..40),
        ) {
            let mut values = start.clone();
            let mut tree = Fenwick::default();
            tree.rebuild(values.iter().copied());
            for (index, value) in changes {
                let index = index % values.len();
                tree.add(index, value as isize - values[index] as isize);
                values[index] = value;
                let total: usize = values.iter().sum();
                for i in 0..=values.len() {
                    prop_assert_eq!(tree.prefix(i), values[..i].iter().sum::<usize>());
                }
                for target in 0..total {
                    let (index, rest) = tree.find(target);
                    let before: usize = values[..index].iter().sum();
                    prop_assert!(before <= target && target < before + values[index], "find({}) gave {}", target, index);
                    prop_assert_eq!(rest, target - before);
                }
            }
        }
    }
}
