//! Stored bytes as terminal text: the one escaping function, and the one
//! width limit for table cells.
//!
//! Keys, names, provider and key names come from a database that anyone
//! with write access shaped. Shown as they are, a newline forges a table
//! row or an `error:` line and `ESC[2J` clears the screen. Every text sink
//! of [`Shell`](super::Shell) (tables, warnings, errors, notes, watch
//! lines) goes through [`escape`]; JSON output stays exact (serde escapes
//! control characters itself) and keeps long values whole.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The widest a table cell is shown, in characters; longer cells keep their
/// head and tail around a `…` (JSON output keeps them whole). One long key
/// must not pad every row of a listing to its width.
pub const MAX_CELL_CHARS: usize = 200;

/// Characters that change what a terminal shows beyond their own glyph:
/// C0 and C1 controls, DEL, and the bidirectional overrides and isolates
/// that reorder a line ("trojan source").
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every control character written as a visible escape (`\n`,
/// `\t`, `\x1b`, `\u{202e}`), so stored bytes cannot move the cursor, forge
/// lines or recolour the terminal. Borrowed when there is nothing to do
/// (almost always).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], keeping the line breaks of text that is meant to span
/// lines (plans, instructions, table titles): each line is escaped.
pub fn escape_lines(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\n' && needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let lines: Vec<Cow<str>> = s.split('\n').map(escape).collect();
    Cow::Owned(lines.join("\n"))
}

/// A table cell: escaped, then elided in the middle past
/// [`MAX_CELL_CHARS`] (the tail of a key, its name, stays visible).
pub fn cell(s: &str) -> Cow<'_, str> {
    let escaped = escape(s);
    elide(escaped, MAX_CELL_CHARS)
}

/// `s` cut to at most `max` characters around a `…`.
pub fn elide(s: Cow<'_, str>, max: usize) -> Cow<'_, str> {
    // Cheap exit on bytes: fewer bytes than `max` means fewer characters.
    if s.len() <= max || s.chars().count() <= max {
        return s;
    }
    let keep = max.saturating_sub(1);
    let head = keep - keep / 3;
    let tail = keep / 3;
    let mut out = String::with_capacity(max * 4);
    out.extend(s.chars().take(head));
    out.push('…');
    let n = s.chars().count();
    out.extend(s.chars().skip(n - tail));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(escape("plain/key-1"), "plain/key-1");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nerror: forged"), "a\\nerror: forged");
        assert_eq!(escape("\x1b[2Jx"), "\\x1b[2Jx");
        assert_eq!(escape("tab\there\r"), "tab\\there\\r");
        assert_eq!(escape("\u{7f}\u{85}"), "\\x7f\\x85");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        // Printable non-ASCII stays.
        assert_eq!(escape("café ☃"), "café ☃");
    }

    #[test]
    fn multi_line_text_keeps_its_lines_but_not_escape_sequences() {
        assert_eq!(escape_lines("step\n  now"), "step\n  now");
        assert_eq!(escape_lines("a\x1b[2J\nb\r"), "a\\x1b[2J\nb\\r");
    }

    #[test]
    fn long_cells_are_elided_in_the_middle() {
        let long = format!("/registry/configmaps/ns/{}end", "x".repeat(10_000));
        let c = cell(&long);
        assert_eq!(c.chars().count(), MAX_CELL_CHARS);
        assert!(c.starts_with("/registry/configmaps/ns/x"), "{c}");
        assert!(c.ends_with("xend"), "{c}");
        assert!(c.contains('…'));
        let short = "/registry/pods/default/web-0";
        assert_eq!(cell(short), short);
        let exact = "y".repeat(MAX_CELL_CHARS);
        assert_eq!(cell(&exact), exact);
    }
}
