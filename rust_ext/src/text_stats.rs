//! Per-document statistics of the Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language
//! Models: Methods, Analysis & Insights from Training Gopher", appendix A.1.1), over whole Arrow string
//! arrays. The thresholds are applied in Python (`curate/filters/rules/gopher_*.py`); this computes the
//! counts they need in one or two passes over each text.
//!
//! Definitions (the same as `curate/filters/text_stats.py`):
//!
//! * whitespace is Python's `str.isspace()`; a *word* is a maximal run of non-whitespace characters.
//! * a word is *counted* (word count, mean word length) if it holds an alphanumeric character (Unicode
//!   Alphabetic or Numeric, Rust's `char::is_alphanumeric`); a word of punctuation or symbols only is not.
//!   Its length is all its characters, attached punctuation included.
//! * an *alphabetic word* holds a character with the Unicode Alphabetic property (`char::is_alphabetic`).
//! * a *line* is the text between line breaks (`\n`, `\r\n`, lone `\r`) stripped of whitespace; blank lines
//!   are not lines. A *paragraph* is a maximal run of lines; its text is its lines joined by `\n`.
//! * characters are code points. Ellipses are the non-overlapping `...` (as Python's `str.count`) plus `…`.
//! * letters in scripts written without spaces between words (Han, Hiragana, Katakana, Bopomofo, Thai, Lao,
//!   Khmer, Myanmar, Tibetan, Yi) are counted apart, so the filter can tell such documents from others.
//!
//! * stop words are matched as written (case-sensitive) against words stripped of non-alphanumeric
//!   characters at both ends; each stop word present counts once.
//!
//! Repetition: a line (paragraph) is a duplicate if an identical line (paragraph) occurred earlier in the
//! document. N-grams are n consecutive words, compared exactly as written. The *top n-gram characters* are
//! those of the most frequent n-gram written with single spaces (`" ".join`), over all its occurrences
//! (earliest first occurrence among ties; none if no n-gram occurs twice). The *duplicate n-gram
//! characters* are the characters of the words (spaces not included, `"".join`) of every occurrence of an
//! n-gram that already occurred earlier. Either way, overlapping occurrences count each word (and each
//! space) once. These are datatrove's measures (what FineWeb's thresholds were applied to) with overlaps
//! counted once, as the paper asks. N-grams are identified by a 64-bit hash (a polynomial of the words'
//! xxh3-64 hashes): two distinct n-grams collide with probability about 2^-64.

use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64;

use crate::error::{KernelError, KernelResult};
use crate::exact::is_python_space;

/// Largest n of an n-gram statistic, and most stop words.
pub const MAX_STAT_NGRAM: usize = 64;
pub const MAX_STOP_WORDS: usize = 64;

/// Column order of [`quality_stats`]' per-row output.
pub const QUALITY_COLUMNS: [&str; 13] = [
    "chars",
    "words",
    "counted_words",
    "counted_word_chars",
    "alpha_words",
    "hashes",
    "ellipses",
    "lines",
    "bullet_lines",
    "ellipsis_lines",
    "stop_words",
    "letters",
    "unspaced_letters",
];

/// Fixed leading columns of [`repetition_stats`]' output, followed by one column per top n and per dup n.
pub const REPETITION_COLUMNS: [&str; 10] = [
    "chars",
    "words",
    "letters",
    "unspaced_letters",
    "lines",
    "dup_lines",
    "dup_line_chars",
    "paragraphs",
    "dup_paragraphs",
    "dup_paragraph_chars",
];

#[inline]
const fn is_space_ascii(byte: u8) -> bool {
    matches!(
        byte,
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' '
    )
}

/// Letters of scripts that do not separate words with spaces.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0E7F // Thai
        | 0x0E80..=0x0EFF // Lao
        | 0x0F00..=0x0FFF // Tibetan
        | 0x1000..=0x109F | 0xA9E0..=0xA9FF | 0xAA60..=0xAA7F // Myanmar
        | 0x1780..=0x17FF | 0x19E0..=0x19FF // Khmer
        | 0x2E80..=0x2FDF // CJK radicals, Kangxi radicals
        | 0x3005..=0x3007 | 0x3021..=0x3029 | 0x3031..=0x3035 | 0x3038..=0x303C // CJK symbols that are letters
        | 0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F // Hiragana, Katakana
        | 0x3100..=0x312F | 0x31A0..=0x31BF // Bopomofo
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // Han
        | 0xA000..=0xA4CF // Yi
        | 0x20000..=0x3134F // Han, supplementary planes
    )
}

/// One word: its byte span, code point span, and whether it holds an alphanumeric / alphabetic character.
#[derive(Clone, Copy, Debug)]
struct Word {
    start: usize,
    end: usize,
    char_start: u64,
    char_end: u64,
    alnum: bool,
    alpha: bool,
}

/// Whole-text counts gathered while walking the words.
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    chars: u64,
    letters: u64,
    unspaced_letters: u64,
    hashes: u64,
    ellipses: u64,
}

/// Classes of ASCII bytes for the word walk.
const SPACE: u8 = 1;
const ALPHA: u8 = 2;
const DIGIT: u8 = 4;
const HASH: u8 = 8;
const DOT: u8 = 16;
const UNSPACED: u8 = 32;
const ELLIPSIS: u8 = 64;

/// The class bits of any character (ASCII included).
fn classify_char(c: char) -> u8 {
    if c.is_ascii() {
        return ASCII_CLASS[c as usize];
    }
    if c.is_alphabetic() {
        ALPHA | if is_unspaced_script(c) { UNSPACED } else { 0 }
    } else if is_python_space(c) {
        SPACE
    } else if c.is_numeric() {
        DIGIT
    } else if c == '\u{2026}' {
        ELLIPSIS
    } else {
        0
    }
}

/// The class of `c`: from a table for the Basic Multilingual Plane (Rust's Unicode lookups are slow in the
/// inner loop), computed for the rest.
#[inline]
fn char_class(c: char) -> u8 {
    static BMP: OnceLock<Box<[u8]>> = OnceLock::new();
    let table = BMP.get_or_init(|| {
        (0u32..0x1_0000)
            .map(|code| char::from_u32(code).map_or(0, classify_char))
            .collect()
    });
    table
        .get(c as usize)
        .copied()
        .unwrap_or_else(|| classify_char(c))
}

static ASCII_CLASS: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut byte = 0usize;
    while byte < 128 {
        let b = byte as u8;
        table[byte] = if is_space_ascii(b) {
            SPACE
        } else if b.is_ascii_alphabetic() {
            ALPHA
        } else if b.is_ascii_digit() {
            DIGIT
        } else if b == b'#' {
            HASH
        } else if b == b'.' {
            DOT
        } else {
            0
        };
        byte += 1;
    }
    table
};

/// Walk the words of `text` in order, calling `on_word` for each; return the whole-text counts.
fn scan_words(text: &str, mut on_word: impl FnMut(&Word)) -> Scan {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    let mut word = Word {
        start: 0,
        end: 0,
        char_start: 0,
        char_end: 0,
        alnum: false,
        alpha: false,
    };
    let mut in_word = false;
    let (mut dots, mut chars, mut letters) = (0u64, 0u64, 0u64);
    let mut index = 0usize;
    while let Some(&byte) = bytes.get(index) {
        let (class, width) = if byte < 0x80 {
            (ASCII_CLASS[byte as usize], 1)
        } else {
            // `index` is at a char boundary: it only ever advances by whole characters.
            let c = text
                .get(index..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or(' ');
            let class = char_class(c);
            scan.unspaced_letters += u64::from(class & UNSPACED != 0);
            scan.ellipses += u64::from(class & ELLIPSIS != 0);
            (class, c.len_utf8())
        };
        if class & DOT != 0 {
            dots += 1;
        } else if dots != 0 {
            scan.ellipses += dots / 3;
            dots = 0;
        }
        scan.hashes += u64::from(class & HASH != 0);
        letters += u64::from(class & ALPHA != 0);
        if class & SPACE != 0 {
            if in_word {
                word.end = index;
                word.char_end = chars;
                on_word(&word);
                in_word = false;
            }
        } else {
            if !in_word {
                in_word = true;
                word.start = index;
                word.char_start = chars;
                word.alnum = false;
                word.alpha = false;
            }
            word.alnum |= class & (ALPHA | DIGIT) != 0;
            word.alpha |= class & ALPHA != 0;
        }
        chars += 1;
        index += width;
    }
    scan.ellipses += dots / 3;
    if in_word {
        word.end = bytes.len();
        word.char_end = chars;
        on_word(&word);
    }
    scan.chars = chars;
    scan.letters = letters;
    scan
}

/// The lines of `text` (stripped, blank ones included as empty strings, so that paragraphs can be found).
fn raw_lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut position = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let start = position;
        let rest = bytes.get(start..).unwrap_or_default();
        let line_end = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => {
                done = true;
                bytes.len()
            }
            Some(offset) => {
                let end = start + offset;
                let crlf = bytes.get(end) == Some(&b'\r') && bytes.get(end + 1) == Some(&b'\n');
                position = end + if crlf { 2 } else { 1 };
                end
            }
        };
        // Both ends are at ASCII bytes (or the ends of the text), hence char boundaries.
        Some(
            text.get(start..line_end)
                .unwrap_or_default()
                .trim_matches(is_python_space),
        )
    })
}

/// The stop words to look for (as written), and the bullet prefixes of lines.
pub struct QualityConfig {
    stop_words: Vec<String>,
    /// [`pack`] of each stop word (`u64::MAX`, which no word packs to, for a longer one).
    packed: Vec<u64>,
    longest_stop_word: usize,
    bullets: Vec<String>,
}

/// Up to 7 bytes with their length as one number (`None` for longer).
#[inline]
fn pack(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 7 {
        return None;
    }
    let mut key = [0u8; 8];
    key[..bytes.len()].copy_from_slice(bytes);
    key[7] = bytes.len() as u8;
    Some(u64::from_le_bytes(key))
}

impl QualityConfig {
    pub fn new(stop_words: Vec<String>, bullets: Vec<String>) -> KernelResult<Self> {
        if stop_words.len() > MAX_STOP_WORDS {
            return Err(KernelError::value(format!(
                "at most {MAX_STOP_WORDS} stop words, got {}",
                stop_words.len()
            )));
        }
        let mut distinct: Vec<String> = Vec::with_capacity(stop_words.len());
        for word in stop_words {
            if word.is_empty() || word.chars().any(is_python_space) {
                return Err(KernelError::value(format!(
                    "a stop word must be one non-empty word, got {word:?}"
                )));
            }
            if !distinct.contains(&word) {
                distinct.push(word);
            }
        }
        if bullets.iter().any(|b| b.is_empty()) {
            return Err(KernelError::value("a bullet must not be empty"));
        }
        Ok(Self {
            packed: distinct
                .iter()
                .map(|w| pack(w.as_bytes()).unwrap_or(u64::MAX))
                .collect(),
            longest_stop_word: distinct.iter().map(String::len).max().unwrap_or(0),
            stop_words: distinct,
            bullets,
        })
    }

    /// Bit `i` set if `word`, stripped of non-alphanumeric characters at both ends, is stop word `i`.
    #[inline]
    fn stop_word_bit(&self, word: &str) -> u64 {
        let alnum = |c: char| char_class(c) & (ALPHA | DIGIT) != 0;
        let core = word
            .trim_start_matches(|c| !alnum(c))
            .trim_end_matches(|c| !alnum(c));
        if core.is_empty() || core.len() > self.longest_stop_word {
            return 0;
        }
        let index = match pack(core.as_bytes()) {
            Some(key) => self.packed.iter().position(|&stop| stop == key),
            None => self.stop_words.iter().position(|stop| stop == core),
        };
        index.map_or(0, |i| 1u64 << i)
    }
}

/// The quality counts of one text, in the order of [`QUALITY_COLUMNS`].
pub fn quality_row(text: &str, config: &QualityConfig) -> [u64; 13] {
    let (mut words, mut counted, mut counted_chars, mut alpha) = (0u64, 0u64, 0u64, 0u64);
    let mut found = 0u64;
    let scan = scan_words(text, |word| {
        words += 1;
        if word.alnum {
            counted += 1;
            counted_chars += word.char_end - word.char_start;
        }
        if word.alpha {
            alpha += 1;
        }
        if !config.stop_words.is_empty() {
            if let Some(slice) = text.get(word.start..word.end) {
                found |= config.stop_word_bit(slice);
            }
        }
    });
    let (mut lines, mut bullets, mut ellipsis_lines) = (0u64, 0u64, 0u64);
    for line in raw_lines(text).filter(|line| !line.is_empty()) {
        lines += 1;
        if config.bullets.iter().any(|b| line.starts_with(b.as_str())) {
            bullets += 1;
        }
        if line.ends_with("...") || line.ends_with('\u{2026}') {
            ellipsis_lines += 1;
        }
    }
    [
        scan.chars,
        words,
        counted,
        counted_chars,
        alpha,
        scan.hashes,
        scan.ellipses,
        lines,
        bullets,
        ellipsis_lines,
        u64::from(found.count_ones()),
        scan.letters,
        scan.unspaced_letters,
    ]
}

/// splitmix64's finaliser: spreads a polynomial hash of line hashes over all 64 bits.
#[inline]
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const POLY: u64 = 0x9E37_79B9_7F4A_7C15;

/// An open-addressing table (linear probing, load at most 2/3) of u64 keys with a count each; cleared and
/// reused between uses. Keys are hashes: a slot is chosen by the key's high bits scaled to the capacity.
#[derive(Default)]
struct CountTable {
    keys: Vec<u64>,
    counts: Vec<u32>,
}

impl CountTable {
    fn reset(&mut self, items: usize) {
        let capacity = (items + items / 2).max(16);
        self.keys.clear();
        self.keys.resize(capacity, 0);
        self.counts.clear();
        self.counts.resize(capacity, 0);
    }

    /// Count one more `key`: returns its slot and its count before.
    #[inline]
    fn add(&mut self, key: u64) -> (usize, u32) {
        let capacity = self.keys.len();
        let mut slot = ((u128::from(key) * capacity as u128) >> 64) as usize;
        loop {
            let count = self.counts[slot];
            if count == 0 {
                self.keys[slot] = key;
                self.counts[slot] = 1;
                return (slot, 0);
            }
            if self.keys[slot] == key {
                self.counts[slot] = count.saturating_add(1);
                return (slot, count);
            }
            slot += 1;
            if slot == capacity {
                slot = 0;
            }
        }
    }
}

/// Reusable buffers of [`repetition_row`].
#[derive(Default)]
pub struct RepetitionScratch {
    word_hashes: Vec<u64>,
    /// Characters of the words before each word (and of all the words, last).
    word_prefix: Vec<u32>,
    partial: Vec<u64>,
    candidates: Vec<u32>,
    slots: Vec<u32>,
    table: CountTable,
    segments: CountTable,
    line_hashes: Vec<(u64, u64)>,
    paragraph_starts: Vec<bool>,
}

pub(crate) fn check_ngrams(what: &str, ns: &[usize]) -> KernelResult<()> {
    match ns.iter().find(|&&n| n == 0 || n > MAX_STAT_NGRAM) {
        Some(n) => Err(KernelError::value(format!(
            "{what} n-gram sizes must be between 1 and {MAX_STAT_NGRAM}, got {n}"
        ))),
        None => Ok(()),
    }
}

/// Characters of n-gram occurrences added in increasing order of start, each word (and, if asked, each
/// single space between two words of one occurrence) counted once however many occurrences hold it.
#[derive(Default)]
struct Coverage {
    total: u64,
    words_reach: usize,
    gaps_reach: usize,
}

impl Coverage {
    /// Add the occurrence of the `n` words from `start`; `prefix[i]` is the characters of the words before i.
    #[inline]
    fn add(&mut self, prefix: &[u32], start: usize, n: usize, spaces: bool) {
        let end = start + n;
        let from = start.max(self.words_reach);
        if end > from {
            self.total += u64::from(prefix[end] - prefix[from]);
            self.words_reach = end;
        }
        if spaces {
            // gap j lies between words j and j + 1
            let (gaps_from, gaps_end) = (start.max(self.gaps_reach), end - 1);
            if gaps_end > gaps_from {
                self.total += (gaps_end - gaps_from) as u64;
                self.gaps_reach = gaps_end;
            }
        }
    }
}

/// The repetition counts of one text: the [`REPETITION_COLUMNS`], then top n-gram characters for each of
/// `top`, then duplicate n-gram characters for each of `dup`, appended to `out`. Texts of 2^32 bytes or
/// more are refused (positions are 32-bit).
pub fn repetition_row(
    text: &str,
    top: &[usize],
    dup: &[usize],
    scratch: &mut RepetitionScratch,
    out: &mut Vec<u64>,
) -> KernelResult<()> {
    if u32::try_from(text.len()).is_err() {
        return Err(KernelError::value(
            "a text of 4 GiB or more is too long for the repetition statistics",
        ));
    }
    scratch.word_hashes.clear();
    scratch.word_prefix.clear();
    scratch.word_prefix.push(0);
    let (hashes, prefix) = (&mut scratch.word_hashes, &mut scratch.word_prefix);
    let mut word_chars = 0u32;
    let scan = scan_words(text, |word| {
        let bytes = text
            .as_bytes()
            .get(word.start..word.end)
            .unwrap_or_default();
        hashes.push(xxh3_64(bytes));
        // Character counts are below the byte length, checked to fit in 32 bits above.
        word_chars += (word.char_end - word.char_start) as u32;
        prefix.push(word_chars);
    });

    // Lines and paragraphs: (hash, characters) of each, then duplicates against earlier ones.
    scratch.line_hashes.clear();
    scratch.paragraph_starts.clear();
    let mut previous_blank = true;
    for line in raw_lines(text) {
        if line.is_empty() {
            previous_blank = true;
            continue;
        }
        scratch.paragraph_starts.push(previous_blank);
        previous_blank = false;
        scratch
            .line_hashes
            .push((xxh3_64(line.as_bytes()), line.chars().count() as u64));
    }
    let lines = &scratch.line_hashes;
    let segments = &mut scratch.segments;
    segments.reset(lines.len());
    let (mut dup_lines, mut dup_line_chars) = (0u64, 0u64);
    for &(hash, chars) in lines {
        if segments.add(hash).1 > 0 {
            dup_lines += 1;
            dup_line_chars += chars;
        }
    }
    segments.reset(lines.len());
    let (mut paragraphs, mut dup_paragraphs, mut dup_paragraph_chars) = (0u64, 0u64, 0u64);
    let mut index = 0;
    while index < lines.len() {
        let mut end = index + 1;
        while end < lines.len() && !scratch.paragraph_starts[end] {
            end += 1;
        }
        let run = &lines[index..end];
        let hash = run
            .iter()
            .fold(0u64, |acc, &(h, _)| acc.wrapping_mul(POLY).wrapping_add(h));
        let chars = run.iter().map(|&(_, c)| c).sum::<u64>() + (run.len() as u64 - 1);
        paragraphs += 1;
        if segments.add(mix(hash ^ run.len() as u64)).1 > 0 {
            dup_paragraphs += 1;
            dup_paragraph_chars += chars;
        }
        index = end;
    }
    out.extend_from_slice(&[
        scan.chars,
        scratch.word_hashes.len() as u64,
        scan.letters,
        scan.unspaced_letters,
        lines.len() as u64,
        dup_lines,
        dup_line_chars,
        paragraphs,
        dup_paragraphs,
        dup_paragraph_chars,
    ]);
    let start = out.len();
    out.resize(start + top.len() + dup.len(), 0);
    ngram_chars(scratch, top, dup, &mut out[start..]);
    Ok(())
}

/// Top and duplicate n-gram characters (in the order of `top` then `dup`) into `result`.
///
/// N-grams are visited for increasing n. An n-gram that occurs twice has an (n-1)-gram prefix that occurs
/// twice, so after each n only the positions whose n-gram occurs at least twice (the *candidates*) can
/// start a repeated (n+1)-gram: every occurrence of every repeated n-gram, first ones included, stays a
/// candidate, which keeps both the duplicate test ("seen earlier") and the most frequent n-gram exact,
/// while the work shrinks with n as fast as repetition thins out.
fn ngram_chars(scratch: &mut RepetitionScratch, top: &[usize], dup: &[usize], result: &mut [u64]) {
    let words = scratch.word_hashes.len();
    let (Some(smallest), Some(largest)) = (
        top.iter().chain(dup).copied().min(),
        top.iter().chain(dup).copied().max(),
    ) else {
        return;
    };
    if words < smallest {
        return;
    }
    // partial[i]: polynomial hash of the n words from i. The word hashes are random 64-bit values, so the
    // table's indexing (by the high bits) spreads them well, and two different n-grams share a hash with
    // probability ~2^-64.
    let hashes = &scratch.word_hashes;
    scratch.partial.clear();
    scratch.partial.extend((0..=words - smallest).map(|i| {
        hashes[i..i + smallest]
            .iter()
            .fold(0u64, |acc, &h| acc.wrapping_mul(POLY).wrapping_add(h))
    }));
    scratch.candidates.clear();
    scratch.candidates.extend(0..=(words - smallest) as u32);
    for n in smallest..=largest {
        let (candidates, partial) = (&mut scratch.candidates, &mut scratch.partial);
        if n > smallest {
            candidates.retain(|&i| i as usize + n <= words);
            for &i in candidates.iter() {
                let i = i as usize;
                partial[i] = partial[i]
                    .wrapping_mul(POLY)
                    .wrapping_add(hashes[i + n - 1]);
            }
        }
        if candidates.is_empty() {
            break;
        }
        let top_slot = top.iter().position(|&t| t == n);
        let dup_slot = dup.iter().position(|&d| d == n).map(|d| top.len() + d);
        let prefix = &scratch.word_prefix;
        let table = &mut scratch.table;
        table.reset(candidates.len());
        scratch.slots.clear();
        let mut repeats = Coverage::default();
        let mut most = 1u32;
        for &i in candidates.iter() {
            let (slot, before) = table.add(partial[i as usize]);
            scratch.slots.push(slot as u32);
            if before > 0 {
                repeats.add(prefix, i as usize, n, false);
                most = most.max(before + 1);
            }
        }
        if let Some(slot) = dup_slot {
            result[slot] = repeats.total;
        }
        if let (Some(slot), true) = (top_slot, most >= 2) {
            // The first position whose n-gram has the top count is where the earliest of the most frequent
            // n-grams first occurs.
            let counts = &table.counts;
            let first = scratch
                .slots
                .iter()
                .position(|&s| counts[s as usize] == most);
            if let Some(key) = first.map(|k| partial[candidates[k] as usize]) {
                let mut cover = Coverage::default();
                for &i in candidates.iter().filter(|&&i| partial[i as usize] == key) {
                    cover.add(prefix, i as usize, n, true);
                }
                result[slot] = cover.total;
            }
        }
        if n < largest {
            let counts = &table.counts;
            let mut kept = 0;
            for k in 0..candidates.len() {
                if counts[scratch.slots[k] as usize] >= 2 {
                    candidates[kept] = candidates[k];
                    kept += 1;
                }
            }
            candidates.truncate(kept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> QualityConfig {
        let stop = ["the", "be", "to", "of", "and", "that", "have", "with"];
        QualityConfig::new(
            stop.iter().map(|s| s.to_string()).collect(),
            vec!["-".into(), "\u{2022}".into()],
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn quality_counts() {
        let row = quality_row(
            "The cat, and #tag...\n\n - item\u{2026}\n \u{2014} 42",
            &config(),
        );
        // chars words counted counted_chars alpha hashes ellipses lines bullets ell_lines stop letters unspaced
        assert_eq!(row, [36, 8, 6, 24, 5, 1, 2, 3, 1, 2, 1, 16, 0]);
    }

    #[test]
    fn repetition_counts() {
        let mut out = Vec::new();
        let mut scratch = RepetitionScratch::default();
        repetition_row(
            "a b a b\r\n\r\nx\na b a b",
            &[2],
            &[3],
            &mut scratch,
            &mut out,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // chars words letters unspaced lines dup_lines dup_line_chars paras dup_paras dup_para_chars top2 dup3
        // top 2-gram: 'a b' four times, 3 characters each; duplicate 3-grams: words 5 to 8, 1 character each
        assert_eq!(out, [20, 9, 9, 0, 3, 1, 7, 2, 0, 0, 12, 4]);
    }

    #[test]
    fn union_of_occurrences() {
        // words of 1, 2, 3, 4, 5, 6 characters
        let prefix = [0, 1, 3, 6, 10, 15, 21];
        let mut words = Coverage::default();
        let mut joined = Coverage::default();
        for start in [0, 1, 3] {
            words.add(&prefix, start, 2, false);
            joined.add(&prefix, start, 2, true);
        }
        // words 0..3 and 3..5: 1 + 2 + 3 + 4 + 5; gaps 0-1, 1-2, 3-4
        assert_eq!((words.total, joined.total), (15, 18));
    }
}
