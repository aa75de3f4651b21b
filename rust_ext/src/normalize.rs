//! Text normalisation: NFKC, then full case folding (`str.casefold()`), then punctuation (P*) to space, then
//! runs of whitespace (`str.isspace()`) collapsed to one space and trimmed.
//!
//! The normaliser never builds the normalised string itself: it streams the characters of the result into a
//! [`Sink`], which tokenises, shingles or collects them. Separators (punctuation and whitespace) reach the
//! sink as `separator()` calls; collapsing runs of them and trimming the ends is the sink's job (it only has
//! to remember whether a separator is pending), which keeps the memory bounded for any document size.
//!
//! ASCII takes a table-driven fast path (NFKC is the identity on ASCII and case folding is `to_lowercase`).
//! Non-ASCII stretches go through the `unicode-normalization` crate. NFKC is context-dependent (`e` + U+0301
//! composes to `é`, `<` + U+0338 to `≮`), so an ASCII character followed by a non-ASCII one is normalised
//! together with it. Cutting before any ASCII character is safe: ASCII characters are starters
//! (combining class 0) that never compose with what precedes them, so NFKC of the whole equals the
//! concatenation of NFKC of the pieces.

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use crate::unicode_tables as tables;

/// Receives the characters of a normalised text, one at a time.
pub trait Sink {
    /// A non-separator ASCII byte, already case-folded.
    fn ascii(&mut self, byte: u8);
    /// A non-separator, non-ASCII character, already normalised and case-folded.
    fn char(&mut self, c: char);
    /// A punctuation or whitespace character (the sink collapses runs and trims the ends).
    fn separator(&mut self);
    /// A run of raw (not yet folded) ASCII bytes; sinks override this for speed.
    #[inline]
    fn ascii_run(&mut self, run: &[u8]) {
        for &byte in run {
            emit_ascii(byte, self);
        }
    }
}

/// Folded form of an ASCII byte, or `ASCII_SEPARATOR`.
#[inline(always)]
pub fn fold_ascii(byte: u8) -> u8 {
    tables::ASCII_MAP[(byte & 0x7f) as usize]
}

/// Length of the ASCII prefix of `bytes`, eight bytes at a time.
#[inline]
fn ascii_prefix(bytes: &[u8]) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut done = 0;
    for word in words.by_ref() {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        let high = u64::from_le_bytes(buf) & HIGH;
        if high != 0 {
            return done + (high.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + words
        .remainder()
        .iter()
        .take_while(|b| b.is_ascii())
        .count()
}

#[inline(always)]
fn props(c: char) -> u8 {
    let cp = c as u32;
    let block = tables::PROPS_INDEX
        .get((cp >> tables::BLOCK_SHIFT) as usize)
        .copied()
        .unwrap_or(0) as usize;
    tables::PROPS_BLOCKS
        .get(block)
        .and_then(|flags| flags.get((cp & tables::BLOCK_MASK) as usize))
        .copied()
        .unwrap_or(0)
}

/// `c.casefold()` when it differs from `c`.
fn casefold(c: char) -> Option<&'static str> {
    tables::CASEFOLD
        .binary_search_by_key(&c, |&(key, _)| key)
        .ok()
        .and_then(|index| tables::CASEFOLD.get(index))
        .map(|&(_, folded)| folded)
}

#[inline(always)]
fn emit_ascii<S: Sink + ?Sized>(byte: u8, sink: &mut S) {
    let mapped = fold_ascii(byte);
    if mapped == tables::ASCII_SEPARATOR {
        sink.separator();
    } else {
        sink.ascii(mapped);
    }
}

/// Classify a character that has already been case-folded.
#[inline]
fn emit_folded<S: Sink>(c: char, sink: &mut S) {
    if c.is_ascii() {
        emit_ascii(c as u8, sink);
    } else if props(c) & tables::SEPARATOR != 0 {
        sink.separator();
    } else {
        sink.char(c);
    }
}

/// Case-fold and classify one character of NFKC output.
#[inline]
fn emit_nfkc_char<S: Sink>(c: char, sink: &mut S) {
    if c.is_ascii() {
        emit_ascii(c as u8, sink);
        return;
    }
    let flags = props(c);
    if flags & tables::FOLDS != 0 {
        if let Some(folded) = casefold(c) {
            for f in folded.chars() {
                emit_folded(f, sink);
            }
            return;
        }
    }
    if flags & tables::SEPARATOR != 0 {
        sink.separator();
    } else {
        sink.char(c);
    }
}

fn emit_segment<S: Sink>(segment: &str, sink: &mut S) {
    // Most non-ASCII stretches (quotes, dashes, accented letters, CJK) are made of characters that NFKC
    // leaves alone in any such company: one table lookup each. Otherwise the quick check, which is still
    // much cheaper than the normalising iterator.
    let inert = segment
        .chars()
        .all(|c| c.is_ascii() || props(c) & tables::INERT != 0);
    if inert || is_nfkc_quick(segment.chars()) == IsNormalized::Yes {
        for c in segment.chars() {
            emit_nfkc_char(c, sink);
        }
    } else {
        for c in segment.nfkc() {
            emit_nfkc_char(c, sink);
        }
    }
}

/// Stream the normalised form of `text` into `sink`.
pub fn normalize_into<S: Sink>(text: &str, sink: &mut S) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        let rest = bytes.get(i..).unwrap_or(&[]);
        let run_end = i + ascii_prefix(rest);
        if run_end == n {
            sink.ascii_run(rest);
            return;
        }
        // A non-ASCII stretch starts at `run_end`; the ASCII character just before it may compose with it.
        let start = if run_end > i { run_end - 1 } else { run_end };
        sink.ascii_run(bytes.get(i..start).unwrap_or(&[]));
        let end = run_end + 1 + ascii_prefix_complement(bytes.get(run_end + 1..).unwrap_or(&[]));
        // `start` is an ASCII byte or the start of a character, `end` is an ASCII byte or the end: both are
        // char boundaries, so `get` always succeeds.
        if let Some(segment) = text.get(start..end) {
            emit_segment(segment, sink);
        }
        i = end;
    }
}

/// Length of the non-ASCII prefix of `bytes`.
#[inline]
fn ascii_prefix_complement(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| !b.is_ascii()).count()
}

/// A sink that collects the normalised text as UTF-8 bytes.
pub struct ByteSink<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    pending_space: bool,
}

impl<'a> ByteSink<'a> {
    /// Appends to `out` (whose existing content is left alone).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Self {
            out,
            start,
            pending_space: false,
        }
    }

    #[inline(always)]
    fn flush_space(&mut self) {
        if self.pending_space {
            self.out.push(b' ');
            self.pending_space = false;
        }
    }
}

impl Sink for ByteSink<'_> {
    #[inline(always)]
    fn ascii(&mut self, byte: u8) {
        self.flush_space();
        self.out.push(byte);
    }

    #[inline]
    fn char(&mut self, c: char) {
        self.flush_space();
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    #[inline(always)]
    fn separator(&mut self) {
        self.pending_space = self.out.len() > self.start;
    }

    fn ascii_run(&mut self, run: &[u8]) {
        let out = &mut *self.out;
        out.reserve(run.len() + 1);
        let mut pending = self.pending_space;
        let mut nonempty = out.len() > self.start;
        for &byte in run {
            let folded = fold_ascii(byte);
            if folded == tables::ASCII_SEPARATOR {
                pending = nonempty;
            } else {
                if pending {
                    out.push(b' ');
                    pending = false;
                }
                out.push(folded);
                nonempty = true;
            }
        }
        self.pending_space = pending;
    }
}

/// Append the normalised form of `text` to `out`.
pub fn normalize_to(text: &str, out: &mut Vec<u8>) {
    let mut sink = ByteSink::new(out);
    normalize_into(text, &mut sink);
}

/// The normalised form of `text`.
pub fn normalize(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    normalize_to(text, &mut out);
    // The sink only ever appends whole UTF-8 encoded characters.
    String::from_utf8(out)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}
