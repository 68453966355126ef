//! Text files saved on disk, as edits of the text CRDT.
//!
//! [`diff`] compares two texts line by line (imara-diff's Histogram, as
//! Git's) and then, inside each small changed hunk, character by
//! character, so that a one-character change is a one-character edit (a
//! concurrent edit of the same line by a peer then survives). Positions are
//! in `char`s, the CRDT's unit. Cost: linear in the text for the common
//! prefix and suffix, plus the diff of what changed.
//!
//! [`rebase`] is the three-way case: the disk was edited from `base` while
//! the CRDT moved on to `theirs` (a peer's edits arrived before the node
//! wrote them out). The disk's edits are moved onto `theirs`: a character
//! the user deleted is deleted only if it is still there, an insertion goes
//! where its neighbourhood went, as if the user had typed concurrently.

use imara_diff::{Algorithm, Diff, InternedInput};

/// Hunks at most this long (in chars, each side) are refined character by
/// character.
const REFINE_CHARS: usize = 4096;

/// Replace chars `start..end` with `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The edits that turn `before` into `after`, in increasing order, not
/// overlapping, positions in `before`'s chars.
pub fn diff(before: &str, after: &str) -> Vec<Edit> {
    if before == after {
        return Vec::new();
    }
    let input = InternedInput::new(before, after);
    let mut lines = Diff::compute(Algorithm::Histogram, &input);
    lines.postprocess_lines(&input);
    let before_lines = LineIndex::new(before);
    let after_lines = LineIndex::new(after);
    let mut edits = Vec::new();
    for hunk in lines.hunks() {
        let (b0, b1) = (before_lines.char_at(hunk.before.start), before_lines.char_at(hunk.before.end));
        let old = &before[before_lines.byte_at(hunk.before.start)..before_lines.byte_at(hunk.before.end)];
        let new = &after[after_lines.byte_at(hunk.after.start)..after_lines.byte_at(hunk.after.end)];
        if b1 - b0 <= REFINE_CHARS && new.len() <= REFINE_CHARS * 4 {
            edits.extend(diff_chars(old, new).into_iter().map(|e| Edit { start: e.start + b0, end: e.end + b0, ..e }));
        } else {
            edits.push(Edit { start: b0, end: b1, text: new.to_string() });
        }
    }
    edits
}

/// Character-level diff of two short texts.
fn diff_chars(before: &str, after: &str) -> Vec<Edit> {
    let mut input = InternedInput::default();
    input.update_before(before.chars());
    input.update_after(after.chars());
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_no_heuristic(&input);
    let after_chars: Vec<char> = after.chars().collect();
    diff.hunks()
        .map(|h| Edit {
            start: h.before.start as usize,
            end: h.before.end as usize,
            text: after_chars[h.after.start as usize..h.after.end as usize].iter().collect(),
        })
        .collect()
}

/// Where each line starts, in bytes and in chars.
struct LineIndex {
    bytes: Vec<usize>,
    chars: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let (mut bytes, mut chars) = (vec![0], vec![0]);
        let mut count = 0;
        for (at, c) in text.char_indices() {
            count += 1;
            if c == '\n' {
                bytes.push(at + 1);
                chars.push(count);
            }
        }
        if *bytes.last().expect("one line at least") < text.len() {
            bytes.push(text.len());
            chars.push(count);
        }
        LineIndex { bytes, chars }
    }

    fn byte_at(&self, line: u32) -> usize {
        self.bytes[line as usize]
    }

    fn char_at(&self, line: u32) -> usize {
        self.chars[line as usize]
    }
}

/// The edits to make on `theirs` so that it also holds the changes that
/// turned `base` into `ours` (see the module documentation). In decreasing
/// order of position, to be applied one after the other as given.
pub fn rebase(base: &str, ours: &str, theirs: &str) -> Vec<Edit> {
    let map = PositionMap { edits: diff(base, theirs) };
    let mut out = Vec::new();
    for edit in diff(base, ours).into_iter().rev() {
        let at = map.position(edit.start);
        let mut kept = map.surviving(edit.start, edit.end);
        kept.reverse();
        out.extend(kept.into_iter().map(|(start, end)| Edit { start, end, text: String::new() }));
        if !edit.text.is_empty() {
            out.push(Edit { start: at, end: at, text: edit.text });
        }
    }
    out
}

/// Maps positions of `base` to positions of `theirs` through the edits
/// that made `theirs`.
struct PositionMap {
    edits: Vec<Edit>,
}

impl PositionMap {
    /// Where an insertion at `pos` of `base` goes in `theirs`: after their
    /// text when `pos` is inside a range they replaced, or at a point where
    /// they inserted.
    fn position(&self, pos: usize) -> usize {
        let mut shift = 0isize;
        for edit in &self.edits {
            let inserted = edit.text.chars().count() as isize;
            if edit.end <= pos {
                shift += inserted - (edit.end - edit.start) as isize;
            } else if edit.start < pos {
                return (edit.start as isize + shift + inserted) as usize;
            } else {
                break;
            }
        }
        (pos as isize + shift) as usize
    }

    /// The ranges of `theirs` holding the chars of `start..end` of `base`
    /// that they did not delete.
    fn surviving(&self, start: usize, end: usize) -> Vec<(usize, usize)> {
        let mut ranges = Vec::new();
        let (mut at, mut shift) = (start, 0isize);
        for edit in &self.edits {
            if at >= end {
                break;
            }
            let inserted = edit.text.chars().count() as isize;
            if edit.end <= at {
                shift += inserted - (edit.end - edit.start) as isize;
                continue;
            }
            if edit.start >= end {
                break;
            }
            if edit.start > at {
                ranges.push(((at as isize + shift) as usize, (edit.start as isize + shift) as usize));
            }
            shift += inserted - (edit.end - edit.start) as isize;
            at = at.max(edit.end);
        }
        if at < end {
            ranges.push(((at as isize + shift) as usize, (end as isize + shift) as usize));
        }
        ranges.retain(|(s, e)| s < e);
        ranges
    }
}

/// Applies edits given in decreasing order (as [`rebase`] returns them, or
/// [`diff`]'s reversed) to a string: the reference the tests check the
/// CRDT against.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        chars.splice(edit.start..edit.end, edit.text.chars());
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_diff(before: &str, after: &str) {
        let mut edits = diff(before, after);
        edits.reverse();
        assert_eq!(apply(before, &edits), after, "{before:?} -> {after:?}");
    }

    #[test]
    fn diff_turns_before_into_after() {
        check_diff("", "");
        check_diff("", "a\nb\n");
        check_diff("a\nb\n", "");
        check_diff("one\ntwo\nthree\n", "one\n2\nthree\nfour");
        check_diff("héllo wörld\n", "hello world!\n");
        check_diff("no newline", "no newline at end");
        check_diff("a\r\nb\r\n", "a\r\nc\r\n");
    }

    #[test]
    fn a_one_character_change_is_a_one_character_edit() {
        let edits = diff("fn main() {}\nlet x = 1;\n", "fn main() {}\nlet x = 2;\n");
        assert_eq!(edits, vec![Edit { start: 21, end: 22, text: "2".into() }]);
    }

    #[test]
    fn rebase_keeps_both_sides() {
        let base = "alpha\nbeta\ngamma\n";
        let ours = "alpha\nBETA\ngamma\n";
        let theirs = "alpha\nbeta\ngamma\ndelta\n";
        assert_eq!(apply(theirs, &rebase(base, ours, theirs)), "alpha\nBETA\ngamma\ndelta\n");
        // Both edit one line, different characters.
        let (base, ours, theirs) = ("let x = 1;\n", "let y = 1;\n", "let x = 2;\n");
        assert_eq!(apply(theirs, &rebase(base, ours, theirs)), "let y = 2;\n");
        // They deleted what we changed: our insertion stays.
        let (base, ours, theirs) = ("a\nb\nc\n", "a\nbX\nc\n", "a\nc\n");
        assert_eq!(apply(theirs, &rebase(base, ours, theirs)), "a\nXc\n");
    }
}
