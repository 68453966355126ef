//! Conversions between the API's unit, Unicode scalar values (`char`s),
//! and the units editors count in: UTF-8 bytes (Vim, Emacs, most Rust
//! code) and UTF-16 code units (LSP's default, VS Code, JavaScript).
//!
//! Each function is given the text and an offset in one unit, and returns
//! the offset in the other, or `None` when the offset is past the end or
//! falls inside a character.

/// The char offset of UTF-8 byte offset `byte`.
pub fn utf8_to_char(text: &str, byte: usize) -> Option<usize> {
    if !text.is_char_boundary(byte) {
        return None;
    }
    Some(text[..byte].chars().count())
}

/// The UTF-8 byte offset of char offset `char`.
pub fn char_to_utf8(text: &str, char: usize) -> Option<usize> {
    text.char_indices().map(|(b, _)| b).chain([text.len()]).nth(char)
}

/// The char offset of UTF-16 offset `unit`.
pub fn utf16_to_char(text: &str, unit: usize) -> Option<usize> {
    let mut units = 0;
    for (i, c) in text.chars().enumerate() {
        if units == unit {
            return Some(i);
        }
        units += c.len_utf16();
        if units > unit {
            return None;
        }
    }
    (units == unit).then(|| text.chars().count())
}

/// The UTF-16 offset of char offset `char`.
pub fn char_to_utf16(text: &str, char: usize) -> Option<usize> {
    let mut units = 0;
    let mut chars = text.chars();
    for _ in 0..char {
        units += chars.next()?.len_utf16();
    }
    Some(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_on_mixed_text() {
        let text = "aé𝄞z"; // 1, 2, 4 and 1 UTF-8 bytes; 1, 1, 2 and 1 UTF-16 units
        assert_eq!(char_to_utf8(text, 3), Some(7));
        assert_eq!(utf8_to_char(text, 7), Some(3));
        assert_eq!(utf8_to_char(text, 2), None);
        assert_eq!(char_to_utf16(text, 3), Some(4));
        assert_eq!(utf16_to_char(text, 4), Some(3));
        assert_eq!(utf16_to_char(text, 3), None, "inside the surrogate pair");
        assert_eq!(utf16_to_char(text, 5), Some(4));
        assert_eq!(utf16_to_char(text, 6), None);
        assert_eq!(char_to_utf8(text, 5), None);
    }
}
