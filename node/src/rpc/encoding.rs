//! Offsets as editors count them: UTF-16 code units (LSP's default, the
//! default here), UTF-8 bytes, or Unicode scalar values (`chars`, the
//! core's unit); and edits on the wire, converted to and from chars.

use crate::control::{code, RpcError};
use memo_core::text::{offsets, Edit, TextChange};
use serde::{Deserialize, Serialize};

/// The unit a client counts offsets in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-16")]
    Utf16,
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "chars")]
    Chars,
}

impl Encoding {
    /// The char position of `offset` in `text`; `None` past the end or
    /// inside a character.
    pub fn to_char(self, text: &str, offset: usize) -> Option<usize> {
        match self {
            Encoding::Utf16 => offsets::utf16_to_char(text, offset),
            Encoding::Utf8 => offsets::utf8_to_char(text, offset),
            Encoding::Chars => (offset <= text.chars().count()).then_some(offset),
        }
    }

    /// The offset of char position `pos` (inside `text`).
    pub fn from_char(self, text: &str, pos: usize) -> usize {
        let offset = match self {
            Encoding::Utf16 => offsets::char_to_utf16(text, pos),
            Encoding::Utf8 => offsets::char_to_utf8(text, pos),
            Encoding::Chars => Some(pos),
        };
        offset.expect("a position inside the text")
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Utf16 => "UTF-16 units",
            Encoding::Utf8 => "UTF-8 bytes",
            Encoding::Chars => "characters",
        }
    }

    fn len(self, text: &str) -> usize {
        match self {
            Encoding::Utf16 => text.encode_utf16().count(),
            Encoding::Utf8 => text.len(),
            Encoding::Chars => text.chars().count(),
        }
    }
}

/// A range of offsets, `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: usize,
    pub end: usize,
}

/// An edit on the wire: replace `range` with `text`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEdit {
    pub range: Range,
    pub text: String,
}

/// A client's `edits`, applied in order to `text`, as char edits; an
/// offset past the end or inside a character is an error naming it.
pub fn to_chars(text: &str, edits: &[WireEdit], encoding: Encoding) -> Result<Vec<Edit>, RpcError> {
    let mut text = text.to_string();
    let mut out = Vec::with_capacity(edits.len());
    for (index, edit) in edits.iter().enumerate() {
        let Range { start, end } = edit.range;
        let (Some(from), Some(to)) = (encoding.to_char(&text, start), encoding.to_char(&text, end)) else {
            let (len, unit) = (encoding.len(&text), encoding.name());
            let message =
                format!("edit {index}: range {start}..{end} is outside the text ({len} {unit}) or splits a character");
            return Err(RpcError::new(code::INVALID_PARAMS, message));
        };
        if from > to {
            let message = format!("edit {index}: range {start}..{end} is reversed");
            return Err(RpcError::new(code::INVALID_PARAMS, message));
        }
        replace(&mut text, from, to, &edit.text);
        out.push(Edit { start: from, end: to, text: edit.text.clone() });
    }
    Ok(out)
}

/// Exact changes (char positions, in order, applying to `before`) as
/// edits in `encoding`.
pub fn from_chars(before: &str, changes: &[TextChange], encoding: Encoding) -> Vec<WireEdit> {
    let mut text = before.to_string();
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        let (from, to) = (change.pos, change.pos + change.delete);
        let range = Range { start: encoding.from_char(&text, from), end: encoding.from_char(&text, to) };
        out.push(WireEdit { range, text: change.insert.to_string() });
        replace(&mut text, from, to, &change.insert);
    }
    out
}

/// Replaces chars `from..to` of `text`.
fn replace(text: &mut String, from: usize, to: usize, with: &str) {
    let byte = |pos| offsets::char_to_utf8(text, pos).expect("a position inside the text");
    let range = byte(from)..byte(to);
    text.replace_range(range, with);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, end: usize, text: &str) -> WireEdit {
        WireEdit { range: Range { start, end }, text: text.into() }
    }

    #[test]
    fn edits_convert_in_order_in_each_unit() {
        let text = "a𝄞b"; // the clef: 4 UTF-8 bytes, 2 UTF-16 units
        let chars = |e: &[WireEdit], enc| to_chars(text, e, enc).unwrap();
        let expected = vec![Edit { start: 2, end: 3, text: "é".into() }, Edit { start: 3, end: 3, text: "!".into() }];
        assert_eq!(chars(&[edit(3, 4, "é"), edit(4, 4, "!")], Encoding::Utf16), expected);
        assert_eq!(chars(&[edit(5, 6, "é"), edit(7, 7, "!")], Encoding::Utf8), expected);
        let error = to_chars(text, &[edit(2, 2, "x")], Encoding::Utf16).unwrap_err();
        assert_eq!(error.code, code::INVALID_PARAMS);
        assert!(error.message.contains("edit 0: range 2..2"), "{}", error.message);
        assert!(to_chars(text, &[edit(0, 5, "")], Encoding::Utf16).is_err());
        assert!(to_chars(text, &[edit(1, 0, "")], Encoding::Chars).is_err());
    }

    #[test]
    fn changes_convert_against_the_text_each_applies_to() {
        let changes = [
            TextChange { pos: 1, delete: 1, insert: "".into() },
            TextChange { pos: 1, delete: 0, insert: "𝄞".into() },
            TextChange { pos: 2, delete: 1, insert: "x".into() },
        ];
        let ranges: Vec<_> = from_chars("aéb", &changes, Encoding::Utf8).into_iter().map(|e| e.range).collect();
        assert_eq!(ranges, vec![Range { start: 1, end: 3 }, Range { start: 1, end: 1 }, Range { start: 5, end: 6 }]);
    }
}
