//! Exact deduplication: content hashes under three normalisation levels, and the line / paragraph
//! segmentation behind repeated-line removal. PyO3-free; `lib.rs` wraps it.
//!
//! * `none`: the UTF-8 bytes as they are.
//! * `basic`: NFC; `\r\n` and lone `\r` become `\n`; whitespace (Python's `str.isspace`) at the end of
//!   every line and at both ends of the text removed. CRLF vs LF, trailing blanks and NFC vs NFD of the
//!   same text hash the same.
//! * `aggressive`: the MinHash normalisation (NFKC, case folding, punctuation to space, whitespace runs
//!   to one space).
//!
//! Segments: a *line* is the text between `\n`s (`\r\n` counts as one break); its key is the line with
//! surrounding whitespace removed and NFC applied; blank lines have no key and are never removed. A
//! *paragraph* is a maximal run of non-blank lines; its key is its lines' keys joined by `\n`. Removing a
//! segment removes its text and the line break(s) that end it.

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::error::{KernelError, KernelResult};
use crate::normalize;

/// Python's `str.isspace()`: bidirectional class WS, B or S, or general category Zs (stable since 4.1).
#[inline]
pub fn is_python_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0b}'
            | '\u{0c}'
            | '\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    None,
    Basic,
    Aggressive,
}

impl Level {
    pub fn parse(name: &str) -> KernelResult<Self> {
        match name {
            "none" => Ok(Self::None),
            "basic" => Ok(Self::Basic),
            "aggressive" => Ok(Self::Aggressive),
            other => Err(KernelError::value(format!(
                "normalisation must be none, basic or aggressive, got {other:?}"
            ))),
        }
    }
}

fn push_nfc(text: &str, out: &mut String) {
    if text.is_ascii() || is_nfc_quick(text.chars()) == IsNormalized::Yes {
        out.push_str(text);
    } else {
        out.extend(text.nfc());
    }
}

/// The `basic` form of `text` into `out` (cleared first).
pub fn basic_normalize_to(text: &str, out: &mut String) {
    out.clear();
    let mut scratch = String::new();
    let mut first = true;
    for line in split_lines(text) {
        if !first {
            out.push('\n');
        }
        first = false;
        scratch.clear();
        push_nfc(line.trim_end_matches(is_python_space), &mut scratch);
        out.push_str(&scratch);
    }
    let trimmed_end = out.trim_end_matches(is_python_space).len();
    out.truncate(trimmed_end);
    let leading = out.len() - out.trim_start_matches(is_python_space).len();
    out.drain(..leading);
}

/// Lines of `text` without their terminators (`\n`, `\r\n` or a lone `\r`).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    LineSpans::new(text).map(move |span| &text[span.start..span.content_end])
}

/// The hash (xxh3-128) of `text` under `level`, reusing `scratch`.
pub fn content_hash(text: &str, level: Level, scratch: &mut Vec<u8>, line: &mut String) -> u128 {
    match level {
        Level::None => xxh3_128(text.as_bytes()),
        Level::Basic => {
            basic_normalize_to(text, line);
            xxh3_128(line.as_bytes())
        }
        Level::Aggressive => {
            scratch.clear();
            normalize::normalize_to(text, scratch);
            xxh3_128(scratch)
        }
    }
}

/// A line's byte span: `start..content_end` is its text, `content_end..end` its terminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineSpan {
    pub start: usize,
    pub content_end: usize,
    pub end: usize,
}

struct LineSpans<'a> {
    bytes: &'a [u8],
    position: usize,
    done: bool,
}

impl<'a> LineSpans<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            position: 0,
            done: false,
        }
    }
}

impl Iterator for LineSpans<'_> {
    type Item = LineSpan;

    fn next(&mut self) -> Option<LineSpan> {
        if self.done {
            return None;
        }
        let start = self.position;
        let rest = self.bytes.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => {
                self.done = true;
                if start == self.bytes.len() && start != 0 {
                    // A text ending with a line break has no further (empty) line.
                    return None;
                }
                self.position = self.bytes.len();
                Some(LineSpan {
                    start,
                    content_end: self.bytes.len(),
                    end: self.bytes.len(),
                })
            }
            Some(offset) => {
                let content_end = start + offset;
                let crlf = self.bytes.get(content_end) == Some(&b'\r')
                    && self.bytes.get(content_end + 1) == Some(&b'\n');
                let end = content_end + if crlf { 2 } else { 1 };
                self.position = end;
                Some(LineSpan {
                    start,
                    content_end,
                    end,
                })
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Line,
    Paragraph,
    /// Windows of three consecutive sentences (C4's span dedup); removal is by sentence.
    Sentences3,
}

impl Unit {
    pub fn parse(name: &str) -> KernelResult<Self> {
        match name {
            "line" => Ok(Self::Line),
            "paragraph" => Ok(Self::Paragraph),
            "sentences3" => Ok(Self::Sentences3),
            other => Err(KernelError::value(format!(
                "unit must be line, paragraph or sentences3, got {other:?}"
            ))),
        }
    }
}

/// Sentence-final punctuation: a sentence ends after one of these when whitespace (or the end
/// of the text) follows, and at every line break.
fn ends_sentence(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '\u{3002}' | '\u{ff01}' | '\u{ff1f}')
}

/// The sentences of `text`: each span includes the whitespace after it; its hash is that of the
/// sentence with surrounding whitespace removed, NFC. Whitespace-only pieces are not sentences.
pub fn sentences(text: &str, key: &mut String, out: &mut Vec<Segment>) {
    out.clear();
    let mut start = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let boundary = c == '\n' || (ends_sentence(c) && next.is_none_or(is_python_space));
        if !boundary && next.is_some() {
            continue;
        }
        // Take the whitespace that follows into this sentence.
        let mut end = i + c.len_utf8();
        while let Some(&(j, n)) = chars.peek() {
            if !is_python_space(n) {
                break;
            }
            end = j + n.len_utf8();
            chars.next();
        }
        let content = text
            .get(start..end)
            .unwrap_or_default()
            .trim_matches(is_python_space);
        if !content.is_empty() {
            key.clear();
            push_nfc(content, key);
            out.push(Segment {
                start,
                end,
                hash: xxh3_64(key.as_bytes()),
            });
        }
        start = end;
    }
}

/// Windows of three consecutive sentences, hashed over the three sentence hashes.
fn sentence_windows(sentences: &[Segment], out: &mut Vec<Segment>) {
    out.clear();
    for window in sentences.windows(3) {
        let mut bytes = [0u8; 24];
        for (chunk, sentence) in bytes.chunks_exact_mut(8).zip(window) {
            chunk.copy_from_slice(&sentence.hash.to_le_bytes());
        }
        out.push(Segment {
            start: window[0].start,
            end: window[2].end,
            hash: xxh3_64(&bytes),
        });
    }
}

/// For `Sentences3`: which sentences to drop, given drop flags per window (a sentence goes if
/// any window covering it goes). Other units: the flags as they are, per segment.
pub fn removal_units(
    text: &str,
    unit: Unit,
    window_drops: &[bool],
    key: &mut String,
    units: &mut Vec<Segment>,
    drops: &mut Vec<bool>,
) {
    drops.clear();
    if unit != Unit::Sentences3 {
        segments(text, unit, key, units);
        drops.extend_from_slice(window_drops);
        return;
    }
    sentences(text, key, units);
    drops.resize(units.len(), false);
    for (w, &gone) in window_drops.iter().enumerate() {
        if gone {
            for flag in drops.iter_mut().skip(w).take(3) {
                *flag = true;
            }
        }
    }
}

/// One removable segment of a text: bytes `start..end` (terminators included) and its key's hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
    pub hash: u64,
}

/// The segments of `text` in order. Blank lines are not segments (they are never counted or removed).
pub fn segments(text: &str, unit: Unit, key: &mut String, out: &mut Vec<Segment>) {
    out.clear();
    if unit == Unit::Sentences3 {
        let mut found = Vec::new();
        sentences(text, key, &mut found);
        sentence_windows(&found, out);
        return;
    }
    let mut paragraph: Option<(usize, usize)> = None;
    key.clear();
    for span in LineSpans::new(text) {
        let content = text
            .get(span.start..span.content_end)
            .unwrap_or_default()
            .trim_matches(is_python_space);
        let blank = content.is_empty();
        match unit {
            Unit::Line => {
                if !blank {
                    key.clear();
                    push_nfc(content, key);
                    out.push(Segment {
                        start: span.start,
                        end: span.end,
                        hash: xxh3_64(key.as_bytes()),
                    });
                }
            }
            Unit::Paragraph | Unit::Sentences3 => {
                if blank {
                    if let Some((start, _)) = paragraph.take() {
                        // The blank line that closes a paragraph goes with it.
                        out.push(Segment {
                            start,
                            end: span.end,
                            hash: xxh3_64(key.as_bytes()),
                        });
                        key.clear();
                    }
                } else {
                    match paragraph.as_mut() {
                        Some((_, end)) => {
                            key.push('\n');
                            *end = span.end;
                        }
                        None => paragraph = Some((span.start, span.end)),
                    }
                    push_nfc(content, key);
                }
            }
        }
    }
    if let Some((start, end)) = paragraph {
        out.push(Segment {
            start,
            end,
            hash: xxh3_64(key.as_bytes()),
        });
    }
}

/// Per-row outcome of removing segments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    pub segments_removed: u32,
    pub chars_removed: u64,
    pub words_left: u64,
}

/// Append `text` without the segments whose `drop` flag is set to `out`.
pub fn remove_segments(
    text: &str,
    segments: &[Segment],
    drop: &[bool],
    out: &mut Vec<u8>,
) -> Removal {
    let mut removal = Removal::default();
    let before = out.len();
    let mut cursor = 0usize;
    for (segment, &gone) in segments.iter().zip(drop) {
        if !gone {
            continue;
        }
        if let Some(kept) = text.get(cursor..segment.start) {
            out.extend_from_slice(kept.as_bytes());
        }
        if let Some(removed) = text.get(segment.start..segment.end) {
            removal.chars_removed += removed.chars().count() as u64;
        }
        removal.segments_removed += 1;
        cursor = segment.end;
    }
    if let Some(rest) = text.get(cursor..) {
        out.extend_from_slice(rest.as_bytes());
    }
    let kept = std::str::from_utf8(out.get(before..).unwrap_or_default()).unwrap_or_default();
    removal.words_left = kept
        .split(is_python_space)
        .filter(|w| !w.is_empty())
        .count() as u64;
    removal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(text: &str) -> String {
        let mut out = String::new();
        basic_normalize_to(text, &mut out);
        out
    }

    #[test]
    fn basic_folds_line_endings_trailing_space_and_nfd() {
        assert_eq!(basic("a \r\nb\t\rc  \n\n"), "a\nb\nc");
        assert_eq!(basic("cafe\u{301}"), "caf\u{e9}");
        assert_eq!(basic("  x  "), "x");
    }

    #[test]
    fn line_segments_skip_blank_lines_and_keep_terminators() {
        let text = "one\n\n  two  \r\nthree";
        let mut key = String::new();
        let mut out = Vec::new();
        segments(text, Unit::Line, &mut key, &mut out);
        let spans: Vec<&str> = out.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(spans, vec!["one\n", "  two  \r\n", "three"]);
        assert_eq!(out[1].hash, xxh3_64(b"two"));
    }

    #[test]
    fn paragraphs_take_their_closing_blank_line() {
        let text = "a\nb\n\nc\n";
        let mut key = String::new();
        let mut out = Vec::new();
        segments(text, Unit::Paragraph, &mut key, &mut out);
        let spans: Vec<&str> = out.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(spans, vec!["a\nb\n\n", "c\n"]);
        assert_eq!(out[0].hash, xxh3_64(b"a\nb"));
    }

    #[test]
    fn sentence_windows_and_their_removal() {
        let text = "One here. Two there! Three now? Four.\nFive";
        let mut key = String::new();
        let mut found = Vec::new();
        sentences(text, &mut key, &mut found);
        let spans: Vec<&str> = found.iter().map(|s| &text[s.start..s.end]).collect();
        assert_eq!(
            spans,
            vec![
                "One here. ",
                "Two there! ",
                "Three now? ",
                "Four.\n",
                "Five"
            ]
        );
        let mut windows = Vec::new();
        segments(text, Unit::Sentences3, &mut key, &mut windows);
        assert_eq!(windows.len(), 3);
        let (mut units, mut drops) = (Vec::new(), Vec::new());
        removal_units(
            text,
            Unit::Sentences3,
            &[false, true, false],
            &mut key,
            &mut units,
            &mut drops,
        );
        assert_eq!(drops, vec![false, true, true, true, false]);
        let mut out = Vec::new();
        remove_segments(text, &units, &drops, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap_or_default(),
            "One here. Five"
        );
    }

    #[test]
    fn removing_segments_counts_what_went() {
        let text = "keep me\nnav bar\nkeep too";
        let mut key = String::new();
        let mut segs = Vec::new();
        segments(text, Unit::Line, &mut key, &mut segs);
        let mut out = Vec::new();
        let removal = remove_segments(text, &segs, &[false, true, false], &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap_or_default(),
            "keep me\nkeep too"
        );
        assert_eq!(removal.segments_removed, 1);
        assert_eq!(removal.chars_removed, 8);
        assert_eq!(removal.words_left, 4);
    }
}
