//! Line rules of two heuristic quality filters over whole Arrow string arrays, one pass per text:
//!
//! * **C4** (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
//!   Transformer", §2.2): which lines a page keeps, how many sentences they hold, and the first line that
//!   condemns the whole page; optionally the page rewritten to its kept lines.
//! * **FineWeb** (Penedo et al. 2024, "The FineWeb Datasets"): punctuated, short and duplicated lines,
//!   line breaks and word tokens.
//!
//! The thresholds are applied in Python (`curate/filters/rules/c4.py`, `fineweb.py`), which documents the
//! rules; the tests hold a plain-Python reference of every count made here. Definitions:
//!
//! * whitespace is Python's `str.isspace()`; a *word* is a maximal run of non-whitespace (`str.split()`).
//! * a *line* is the text between line breaks (`\n`, `\r\n` or a lone `\r`); a line of whitespace only is
//!   *blank* and is not a line. C4 looks at lines stripped of whitespace; FineWeb at lines as written.
//! * *punctuation or symbol*: general category P* or S* (Unicode 14.0, as Python 3.11's `unicodedata`).
//!   A *word character* is any other character that is neither whitespace nor a control (Cc).
//! * *sentence terminal*: the Unicode `Sentence_Terminal` property (`. ! ? 。 ！ ？ ؟ । ۔ …`).
//! * a *URL-like* word contains `://` or `@`, or starts with `www.`: it is never split inside.
//!
//! Sentences (C4) and word tokens (FineWeb's list ratio) approximate the spaCy English tokenizer and
//! sentencizer that datatrove uses, without a model: see [`sentence_count`] and [`word_tokens`].

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{KernelError, KernelResult};
use crate::exact::is_python_space;

#[inline]
fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let code = c as u32;
    table
        .binary_search_by(|&(low, high)| {
            if high < code {
                std::cmp::Ordering::Less
            } else if low > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Unicode `Sentence_Terminal`.
#[inline]
pub fn is_sentence_terminal(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, '!' | '.' | '?')
    } else {
        in_ranges(&SENTENCE_TERMINAL, c)
    }
}

/// General category P* or S*.
#[inline]
pub fn is_punct_or_symbol(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_punctuation()
    } else {
        in_ranges(&PUNCT_OR_SYMBOL, c)
    }
}

/// Neither whitespace, nor a control, nor punctuation or a symbol: letters, marks, numbers, format characters.
#[inline]
fn is_word_char(c: char) -> bool {
    !is_punct_or_symbol(c) && !is_python_space(c) && !c.is_control()
}

/// A word character that is not a number (N*).
#[inline]
fn is_letter_like(c: char) -> bool {
    is_word_char(c) && !c.is_numeric()
}

fn is_url_like(word: &str) -> bool {
    word.contains("://") || word.contains('@') || word.starts_with("www.")
}

/// The words of `text` (Python's `str.split()`).
#[inline]
fn words(text: &str) -> Words<'_> {
    Words { text, pos: 0 }
}

/// Python's whitespace among ASCII bytes.
#[inline]
fn is_ascii_space(byte: u8) -> bool {
    matches!(
        byte,
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f | b' '
    )
}

/// Iterator of [`words`]: walks bytes, decoding a character only at a non-ASCII byte.
struct Words<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Words<'a> {
    /// Whether the text at byte `pos` (a character boundary) starts with whitespace, and that character's length.
    #[inline]
    fn space_at(&self, pos: usize) -> (bool, usize) {
        match self.text.as_bytes().get(pos) {
            Some(&byte) if byte < 0x80 => (is_ascii_space(byte), 1),
            Some(_) => self
                .text
                .get(pos..)
                .and_then(|rest| rest.chars().next())
                .map_or((false, 1), |c| (is_python_space(c), c.len_utf8())),
            None => (false, 0),
        }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let len = self.text.len();
        while self.pos < len {
            let (space, width) = self.space_at(self.pos);
            if !space {
                break;
            }
            self.pos += width;
        }
        if self.pos >= len {
            return None;
        }
        let start = self.pos;
        while self.pos < len {
            let (space, width) = self.space_at(self.pos);
            if space {
                break;
            }
            self.pos += width;
        }
        self.text.get(start..self.pos)
    }
}

/// Python's `str.strip()`.
#[inline]
fn strip(text: &str) -> &str {
    text.trim_matches(is_python_space)
}

/// Every line of `text` as written (break excluded), blank ones included: split at `\n`, `\r\n`, lone `\r`.
fn raw_lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let rest = bytes.get(start..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(offset) => {
                let end = start + offset;
                let line = text.get(start..end).unwrap_or_default();
                let crlf = bytes.get(end) == Some(&b'\r') && bytes.get(end + 1) == Some(&b'\n');
                start = end + if crlf { 2 } else { 1 };
                Some(line)
            }
            None => {
                done = true;
                Some(text.get(start..).unwrap_or_default())
            }
        }
    })
}

#[inline]
fn char_count(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// Byte offset where the trailing run of punctuation or symbols of `word` starts (`word.len()` if none).
fn trailing_punct_start(word: &str) -> usize {
    let mut start = word.len();
    for (i, c) in word.char_indices().rev() {
        if !is_punct_or_symbol(c) {
            break;
        }
        start = i;
    }
    start
}

/// Byte offset where the leading run of punctuation or symbols of `word` ends (`word.len()` if all are).
fn leading_punct_end(word: &str) -> usize {
    word.char_indices()
        .find(|&(_, c)| !is_punct_or_symbol(c))
        .map_or(word.len(), |(i, _)| i)
}

// -- C4 --------------------------------------------------------------------------------------------------------

/// Words before a full stop that does not end a sentence (the common English abbreviations of spaCy's
/// tokenizer exceptions; case-sensitive, without the final `.`).
const ABBREVIATIONS: [&str; 36] = [
    "Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Prof", "Gen", "Gov", "Rep", "Sen", "Rev", "Messrs",
    "Mt", "Inc", "Ltd", "Co", "Corp", "vs", "e.g", "i.e", "a.m", "p.m", "Jan", "Feb", "Mar", "Apr",
    "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
];

/// Whether a sentence ends with `word` (the next word holding a word character starts a new one).
///
/// The word's trailing run of punctuation or symbols must hold a sentence terminal. A terminal other than
/// `.` always ends a sentence. A run starting with `..` is an ellipsis, which does not. A `.` that follows
/// other punctuation (`")."`) does; a `.` straight after the word's text does unless that text is an
/// abbreviation (`Mr`, `e.g`), a single lower-case letter (`r.`) or ends in an upper-case letter that does
/// not follow another (`J.`, `U.S.`, but `LOL.` ends a sentence).
pub fn ends_sentence(word: &str) -> bool {
    if word
        .as_bytes()
        .last()
        .is_some_and(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let start = trailing_punct_start(word);
    let run = word.get(start..).unwrap_or_default();
    if run.chars().any(|c| c != '.' && is_sentence_terminal(c)) {
        return true;
    }
    if !run.contains('.') || run.starts_with("..") {
        return false;
    }
    if !run.starts_with('.') {
        return true;
    }
    let core = word.get(..start).unwrap_or_default();
    let core = core.get(leading_punct_end(core)..).unwrap_or_default();
    let mut reversed = core.chars().rev();
    let Some(last) = reversed.next() else {
        return true;
    };
    if ABBREVIATIONS.contains(&core) {
        return false;
    }
    let before = reversed.next();
    if before.is_none() && last.is_lowercase() {
        return false;
    }
    // An upper-case letter alone (an initial) keeps its full stop; after another one (`LOL.`) it ends.
    !last.is_uppercase() || before.is_some_and(char::is_uppercase)
}

/// Sentence breaks inside one word: a `.` between a lower-case and an upper-case letter (`end.Next`), or a
/// non-ASCII sentence terminal followed by a word character (`好。我`). None inside URL-like words.
fn inner_breaks(word: &str) -> u64 {
    if !word.bytes().any(|b| b == b'.' || b >= 0x80) || is_url_like(word) {
        return 0;
    }
    let mut breaks = 0;
    let mut chars = word.chars();
    let (Some(mut previous), Some(mut current)) = (chars.next(), chars.next()) else {
        return 0;
    };
    for next in chars {
        if (current == '.' && previous.is_lowercase() && next.is_uppercase())
            || (!current.is_ascii() && is_sentence_terminal(current) && is_word_char(next))
        {
            breaks += 1;
        }
        previous = current;
        current = next;
    }
    breaks
}

/// Sentences of a line: 0 without words, else 1 + the sentence breaks ([`ends_sentence`] followed by a word
/// holding a word character, and [`inner_breaks`]).
pub fn sentence_count(line: &str) -> u64 {
    let mut count = 0u64;
    let mut pending = false;
    for word in words(line) {
        if count == 0 {
            count = 1;
        } else if pending && word.chars().any(is_word_char) {
            count += 1;
            pending = false;
        }
        count += inner_breaks(word);
        if ends_sentence(word) {
            pending = true;
        }
    }
    count
}

/// Length in bytes of a citation after its `[`: decimal numbers (N*) then `]`, `edit]` or `citation needed]`.
fn citation_len(rest: &str) -> Option<usize> {
    for (i, c) in rest.char_indices() {
        if c == ']' {
            return Some(i + 1);
        }
        if !c.is_numeric() {
            break;
        }
    }
    ["edit]", "citation needed]"]
        .into_iter()
        .find(|tail| rest.starts_with(tail))
        .map(str::len)
}

/// `line` without its Wikipedia-style citations (`[12]`, `[edit]`, `[citation needed]`), into `out`.
fn remove_citations(line: &str, out: &mut String) {
    out.clear();
    let mut copied = 0;
    let mut search = 0;
    while let Some(offset) = line.get(search..).and_then(|rest| rest.find('[')) {
        let open = search + offset;
        match line.get(open + 1..).and_then(citation_len) {
            Some(len) => {
                out.push_str(line.get(copied..open).unwrap_or_default());
                copied = open + 1 + len;
                search = copied;
            }
            None => search = open + 1,
        }
    }
    out.push_str(line.get(copied..).unwrap_or_default());
}

/// `line` lower-cased for the phrase rules: ASCII letters, and the Kelvin sign (the one non-ASCII character
/// whose `str.lower()` is an ASCII letter). Other characters never lower-case into the phrases looked for.
fn lower_for_phrases(line: &str, out: &mut String) {
    out.clear();
    out.push_str(line);
    out.make_ascii_lowercase();
    if !line.is_ascii() && line.contains('\u{212A}') {
        *out = out.replace('\u{212A}', "k");
    }
}

const POLICY_PHRASES: [&str; 6] = [
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
];

/// The C4 rules to apply (each a field of the Python filter).
pub struct C4Config {
    pub terminal: Vec<char>,
    pub filter_no_terminal_punct: bool,
    pub remove_citations: bool,
    pub max_word_length: Option<usize>,
    pub min_words_per_line: usize,
    pub filter_lorem_ipsum: bool,
    pub filter_javascript: bool,
    pub filter_curly_bracket: bool,
    pub filter_policy: bool,
}

/// Column order of [`c4_row`]'s output. `document_rule`: 0 none, 1 `lorem ipsum`, 2 `{` (the first in line
/// order among lines not removed before that check, as in C4).
pub const C4_COLUMNS: [&str; 9] = [
    "lines",
    "lines_kept",
    "sentences",
    "too_long_word",
    "no_terminal_punctuation",
    "too_few_words",
    "javascript",
    "policy",
    "document_rule",
];

/// Reusable buffers of [`c4_row`].
#[derive(Default)]
pub struct C4Scratch {
    cleaned: String,
    lowered: String,
    kept: String,
}

/// The C4 counts of one text (see [`C4_COLUMNS`]); with `out`, the kept lines joined by `\n` and stripped
/// of whitespace at both ends are appended to it.
///
/// Each non-blank line, stripped, goes through the rules in C4's order: a word longer than
/// `max_word_length` characters removes it; citations are deleted; it must end with a terminal character
/// but not `...`; it needs `min_words_per_line` words (counted before citations are deleted); `lorem ipsum`
/// (any case) condemns the page; `javascript` removes the line; `{` condemns the page; a policy phrase
/// removes the line. Kept lines are the line after citation removal. Page-level rules are recorded, not
/// acted on: the counts of later lines are still made.
pub fn c4_row(
    text: &str,
    config: &C4Config,
    scratch: &mut C4Scratch,
    out: Option<&mut Vec<u8>>,
) -> [u64; 9] {
    let mut counts = [0u64; 9];
    let rewrite = out.is_some();
    scratch.kept.clear();
    for raw in raw_lines(text) {
        let line = strip(raw);
        if line.is_empty() {
            continue;
        }
        counts[0] += 1;
        // A word has at most as many characters as the line has bytes: short lines need no look.
        let too_long = config.max_word_length.is_some_and(|max| {
            line.len() > max && words(line).any(|w| w.len() > max && char_count(w) > max)
        });
        if too_long {
            counts[3] += 1;
            continue;
        }
        // Words are counted before citations are deleted (as C4 does), when the line gets that far.
        let original = line;
        let line: &str = if config.remove_citations && line.contains('[') {
            remove_citations(line, &mut scratch.cleaned);
            &scratch.cleaned
        } else {
            line
        };
        if config.filter_no_terminal_punct {
            let terminal = line
                .chars()
                .next_back()
                .is_some_and(|c| config.terminal.contains(&c));
            if !terminal || line.ends_with("...") {
                counts[4] += 1;
                continue;
            }
        }
        let min_words = config.min_words_per_line;
        if min_words > 0 && words(original).take(min_words).count() < min_words {
            counts[5] += 1;
            continue;
        }
        lower_for_phrases(line, &mut scratch.lowered);
        let lowered = scratch.lowered.as_str();
        if config.filter_lorem_ipsum && counts[8] == 0 && lowered.contains("lorem ipsum") {
            counts[8] = 1;
        }
        if config.filter_javascript && lowered.contains("javascript") {
            counts[6] += 1;
            continue;
        }
        if config.filter_curly_bracket && counts[8] == 0 && line.contains('{') {
            counts[8] = 2;
        }
        if config.filter_policy && POLICY_PHRASES.iter().any(|p| lowered.contains(p)) {
            counts[7] += 1;
            continue;
        }
        counts[1] += 1;
        counts[2] += sentence_count(line);
        if rewrite {
            if counts[1] > 1 {
                scratch.kept.push('\n');
            }
            scratch.kept.push_str(line);
        }
    }
    if let Some(out) = out {
        out.extend_from_slice(strip(&scratch.kept).as_bytes());
    }
    counts
}

// -- FineWeb ---------------------------------------------------------------------------------------------------

/// Characters that end a punctuated line.
pub enum StopChars {
    /// Every sentence terminal.
    Unicode,
    Set(Vec<char>),
}

impl StopChars {
    fn contains(&self, c: char) -> bool {
        match self {
            Self::Unicode => is_sentence_terminal(c),
            Self::Set(chars) => chars.contains(&c),
        }
    }
}

/// Column order of [`fineweb_row`]'s output.
pub const FINEWEB_COLUMNS: [&str; 7] = [
    "lines",
    "punctuated_lines",
    "short_lines",
    "duplicate_line_chars",
    "chars",
    "line_breaks",
    "words",
];

#[derive(Default)]
struct Xxh3Hasher(u64);

impl Hasher for Xxh3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type LineSet<'a> = HashSet<&'a str, BuildHasherDefault<Xxh3Hasher>>;

/// Tokens of a run of punctuation: one per character, a `.` right after a `.` adding none (`...` is one).
fn affix_tokens(run: &str) -> u64 {
    let mut tokens = 0;
    let mut previous = '\0';
    for c in run.chars() {
        if !(c == '.' && previous == '.') {
            tokens += 1;
        }
        previous = c;
    }
    tokens
}

const CONTRACTIONS: [&str; 16] = [
    "'s", "'S", "n't", "N'T", "'re", "'ll", "'ve", "'d", "'m", "’s", "n’t", "’re", "’ll", "’ve",
    "’d", "’m",
];

/// Word tokens of one whitespace-separated word, approximating spaCy's English tokenizer: its leading and
/// trailing punctuation or symbols are split off ([`affix_tokens`]); inside the rest, `: / = < >` between a
/// word character and a letter-like one and `- – — ,` between two letter-like ones split it (not in URL-like
/// words); an English contraction suffix (`'s`, `n't`, ...) is a token of its own.
pub fn word_tokens(word: &str) -> u64 {
    if word.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return 1;
    }
    let lead = leading_punct_end(word);
    if lead == word.len() {
        return affix_tokens(word);
    }
    let trail = trailing_punct_start(word).max(lead);
    let core = word.get(lead..trail).unwrap_or_default();
    let mut tokens = affix_tokens(word.get(..lead).unwrap_or_default())
        + affix_tokens(word.get(trail..).unwrap_or_default())
        + 1;
    let candidates = core
        .bytes()
        .any(|b| matches!(b, b'-' | b',' | b':' | b'/' | b'=' | b'<' | b'>'))
        || (!core.is_ascii() && core.contains(['\u{2013}', '\u{2014}']));
    if candidates && !is_url_like(core) {
        let mut chars = core.chars();
        if let (Some(mut previous), Some(mut current)) = (chars.next(), chars.next()) {
            for next in chars {
                let split = match current {
                    ':' | '/' | '=' | '<' | '>' => is_word_char(previous) && is_letter_like(next),
                    '-' | '\u{2013}' | '\u{2014}' | ',' => {
                        is_letter_like(previous) && is_letter_like(next)
                    }
                    _ => false,
                };
                if split {
                    tokens += 2;
                }
                previous = current;
                current = next;
            }
        }
    }
    if let Some(suffix) = CONTRACTIONS.iter().find(|s| core.ends_with(*s)) {
        if char_count(core) > char_count(suffix) {
            tokens += 1;
        }
    }
    tokens
}

/// The FineWeb counts of one text (see [`FINEWEB_COLUMNS`]). Lines are taken as written (not stripped);
/// blank lines are skipped. `punctuated_lines` end with a stop character; `short_lines` have at most
/// `short_line_length` characters; `duplicate_line_chars` are the characters of lines identical to an
/// earlier line; `chars` are all characters but line breaks; `words` are word tokens ([`word_tokens`]).
pub fn fineweb_row(text: &str, stops: &StopChars, short_line_length: usize) -> [u64; 7] {
    let mut counts = [0u64; 7];
    let mut seen = LineSet::default();
    let mut raw_line_count = 0u64;
    for line in raw_lines(text) {
        raw_line_count += 1;
        let chars = char_count(line) as u64;
        counts[4] += chars;
        if line.chars().all(is_python_space) {
            continue;
        }
        counts[0] += 1;
        if line.chars().next_back().is_some_and(|c| stops.contains(c)) {
            counts[1] += 1;
        }
        if chars <= short_line_length as u64 {
            counts[2] += 1;
        }
        if !seen.insert(line) {
            counts[3] += chars;
        }
    }
    counts[5] = raw_line_count.saturating_sub(1); // every line but the last ends with a break
    counts[6] = words(text).map(word_tokens).sum();
    counts
}

// -- Python -----------------------------------------------------------------------------------------------------

pub(crate) fn char_set(what: &str, chars: &str) -> KernelResult<Vec<char>> {
    if chars.is_empty() {
        return Err(KernelError::value(format!("{what} must not be empty")));
    }
    Ok(chars.chars().collect())
}

/// Unicode `Sentence_Terminal` characters (assigned in Unicode 14.0), as inclusive code point ranges.
pub(crate) static SENTENCE_TERMINAL: [(u32, u32); 84] = [
    (0x21, 0x21),
    (0x2E, 0x2E),
    (0x3F, 0x3F),
    (0x589, 0x589),
    (0x61D, 0x61F),
    (0x6D4, 0x6D4),
    (0x700, 0x702),
    (0x7F9, 0x7F9),
    (0x837, 0x837),
    (0x839, 0x839),
    (0x83D, 0x83E),
    (0x964, 0x965),
    (0x104A, 0x104B),
    (0x1362, 0x1362),
    (0x1367, 0x1368),
    (0x166E, 0x166E),
    (0x1735, 0x1736),
    (0x17D4, 0x17D5),
    (0x1803, 0x1803),
    (0x1809, 0x1809),
    (0x1944, 0x1945),
    (0x1AA8, 0x1AAB),
    (0x1B5A, 0x1B5B),
    (0x1B5E, 0x1B5F),
    (0x1B7D, 0x1B7E),
    (0x1C3B, 0x1C3C),
    (0x1C7E, 0x1C7F),
    (0x2024, 0x2024),
    (0x203C, 0x203D),
    (0x2047, 0x2049),
    (0x2CF9, 0x2CFB),
    (0x2E2E, 0x2E2E),
    (0x2E3C, 0x2E3C),
    (0x2E53, 0x2E54),
    (0x3002, 0x3002),
    (0xA4FF, 0xA4FF),
    (0xA60E, 0xA60F),
    (0xA6F3, 0xA6F3),
    (0xA6F7, 0xA6F7),
    (0xA876, 0xA877),
    (0xA8CE, 0xA8CF),
    (0xA92F, 0xA92F),
    (0xA9C8, 0xA9C9),
    (0xAA5D, 0xAA5F),
    (0xAAF0, 0xAAF1),
    (0xABEB, 0xABEB),
    (0xFE12, 0xFE12),
    (0xFE15, 0xFE16),
    (0xFE52, 0xFE52),
    (0xFE56, 0xFE57),
    (0xFF01, 0xFF01),
    (0xFF0E, 0xFF0E),
    (0xFF1F, 0xFF1F),
    (0xFF61, 0xFF61),
    (0x10A56, 0x10A57),
    (0x10F55, 0x10F59),
    (0x10F86, 0x10F89),
    (0x11047, 0x11048),
    (0x110BE, 0x110C1),
    (0x11141, 0x11143),
    (0x111C5, 0x111C6),
    (0x111CD, 0x111CD),
    (0x111DE, 0x111DF),
    (0x11238, 0x11239),
    (0x1123B, 0x1123C),
    (0x112A9, 0x112A9),
    (0x1144B, 0x1144C),
    (0x115C2, 0x115C3),
    (0x115C9, 0x115D7),
    (0x11641, 0x11642),
    (0x1173C, 0x1173E),
    (0x11944, 0x11944),
    (0x11946, 0x11946),
    (0x11A42, 0x11A43),
    (0x11A9B, 0x11A9C),
    (0x11C41, 0x11C42),
    (0x11EF7, 0x11EF8),
    (0x16A6E, 0x16A6F),
    (0x16AF5, 0x16AF5),
    (0x16B37, 0x16B38),
    (0x16B44, 0x16B44),
    (0x16E98, 0x16E98),
    (0x1BC9F, 0x1BC9F),
    (0x1DA88, 0x1DA88),
];

/// General categories P* and S* of Unicode 14.0 (Python 3.11's `unicodedata`), as inclusive code point ranges.
pub(crate) static PUNCT_OR_SYMBOL: [(u32, u32); 338] = [
    (0x21, 0x2F),
    (0x3A, 0x40),
    (0x5B, 0x60),
    (0x7B, 0x7E),
    (0xA1, 0xA9),
    (0xAB, 0xAC),
    (0xAE, 0xB1),
    (0xB4, 0xB4),
    (0xB6, 0xB8),
    (0xBB, 0xBB),
    (0xBF, 0xBF),
    (0xD7, 0xD7),
    (0xF7, 0xF7),
    (0x2C2, 0x2C5),
    (0x2D2, 0x2DF),
    (0x2E5, 0x2EB),
    (0x2ED, 0x2ED),
    (0x2EF, 0x2FF),
    (0x375, 0x375),
    (0x37E, 0x37E),
    (0x384, 0x385),
    (0x387, 0x387),
    (0x3F6, 0x3F6),
    (0x482, 0x482),
    (0x55A, 0x55F),
    (0x589, 0x58A),
    (0x58D, 0x58F),
    (0x5BE, 0x5BE),
    (0x5C0, 0x5C0),
    (0x5C3, 0x5C3),
    (0x5C6, 0x5C6),
    (0x5F3, 0x5F4),
    (0x606, 0x60F),
    (0x61B, 0x61B),
    (0x61D, 0x61F),
    (0x66A, 0x66D),
    (0x6D4, 0x6D4),
    (0x6DE, 0x6DE),
    (0x6E9, 0x6E9),
    (0x6FD, 0x6FE),
    (0x700, 0x70D),
    (0x7F6, 0x7F9),
    (0x7FE, 0x7FF),
    (0x830, 0x83E),
    (0x85E, 0x85E),
    (0x888, 0x888),
    (0x964, 0x965),
    (0x970, 0x970),
    (0x9F2, 0x9F3),
    (0x9FA, 0x9FB),
    (0x9FD, 0x9FD),
    (0xA76, 0xA76),
    (0xAF0, 0xAF1),
    (0xB70, 0xB70),
    (0xBF3, 0xBFA),
    (0xC77, 0xC77),
    (0xC7F, 0xC7F),
    (0xC84, 0xC84),
    (0xD4F, 0xD4F),
    (0xD79, 0xD79),
    (0xDF4, 0xDF4),
    (0xE3F, 0xE3F),
    (0xE4F, 0xE4F),
    (0xE5A, 0xE5B),
    (0xF01, 0xF17),
    (0xF1A, 0xF1F),
    (0xF34, 0xF34),
    (0xF36, 0xF36),
    (0xF38, 0xF38),
    (0xF3A, 0xF3D),
    (0xF85, 0xF85),
    (0xFBE, 0xFC5),
    (0xFC7, 0xFCC),
    (0xFCE, 0xFDA),
    (0x104A, 0x104F),
    (0x109E, 0x109F),
    (0x10FB, 0x10FB),
    (0x1360, 0x1368),
    (0x1390, 0x1399),
    (0x1400, 0x1400),
    (0x166D, 0x166E),
    (0x169B, 0x169C),
    (0x16EB, 0x16ED),
    (0x1735, 0x1736),
    (0x17D4, 0x17D6),
    (0x17D8, 0x17DB),
    (0x1800, 0x180A),
    (0x1940, 0x1940),
    (0x1944, 0x1945),
    (0x19DE, 0x19FF),
    (0x1A1E, 0x1A1F),
    (0x1AA0, 0x1AA6),
    (0x1AA8, 0x1AAD),
    (0x1B5A, 0x1B6A),
    (0x1B74, 0x1B7E),
    (0x1BFC, 0x1BFF),
    (0x1C3B, 0x1C3F),
    (0x1C7E, 0x1C7F),
    (0x1CC0, 0x1CC7),
    (0x1CD3, 0x1CD3),
    (0x1FBD, 0x1FBD),
    (0x1FBF, 0x1FC1),
    (0x1FCD, 0x1FCF),
    (0x1FDD, 0x1FDF),
    (0x1FED, 0x1FEF),
    (0x1FFD, 0x1FFE),
    (0x2010, 0x2027),
    (0x2030, 0x205E),
    (0x207A, 0x207E),
    (0x208A, 0x208E),
    (0x20A0, 0x20C0),
    (0x2100, 0x2101),
    (0x2103, 0x2106),
    (0x2108, 0x2109),
    (0x2114, 0x2114),
    (0x2116, 0x2118),
    (0x211E, 0x2123),
    (0x2125, 0x2125),
    (0x2127, 0x2127),
    (0x2129, 0x2129),
    (0x212E, 0x212E),
    (0x213A, 0x213B),
    (0x2140, 0x2144),
    (0x214A, 0x214D),
    (0x214F, 0x214F),
    (0x218A, 0x218B),
    (0x2190, 0x2426),
    (0x2440, 0x244A),
    (0x249C, 0x24E9),
    (0x2500, 0x2775),
    (0x2794, 0x2B73),
    (0x2B76, 0x2B95),
    (0x2B97, 0x2BFF),
    (0x2CE5, 0x2CEA),
    (0x2CF9, 0x2CFC),
    (0x2CFE, 0x2CFF),
    (0x2D70, 0x2D70),
    (0x2E00, 0x2E2E),
    (0x2E30, 0x2E5D),
    (0x2E80, 0x2E99),
    (0x2E9B, 0x2EF3),
    (0x2F00, 0x2FD5),
    (0x2FF0, 0x2FFB),
    (0x3001, 0x3004),
    (0x3008, 0x3020),
    (0x3030, 0x3030),
    (0x3036, 0x3037),
    (0x303D, 0x303F),
    (0x309B, 0x309C),
    (0x30A0, 0x30A0),
    (0x30FB, 0x30FB),
    (0x3190, 0x3191),
    (0x3196, 0x319F),
    (0x31C0, 0x31E3),
    (0x3200, 0x321E),
    (0x322A, 0x3247),
    (0x3250, 0x3250),
    (0x3260, 0x327F),
    (0x328A, 0x32B0),
    (0x32C0, 0x33FF),
    (0x4DC0, 0x4DFF),
    (0xA490, 0xA4C6),
    (0xA4FE, 0xA4FF),
    (0xA60D, 0xA60F),
    (0xA673, 0xA673),
    (0xA67E, 0xA67E),
    (0xA6F2, 0xA6F7),
    (0xA700, 0xA716),
    (0xA720, 0xA721),
    (0xA789, 0xA78A),
    (0xA828, 0xA82B),
    (0xA836, 0xA839),
    (0xA874, 0xA877),
    (0xA8CE, 0xA8CF),
    (0xA8F8, 0xA8FA),
    (0xA8FC, 0xA8FC),
    (0xA92E, 0xA92F),
    (0xA95F, 0xA95F),
    (0xA9C1, 0xA9CD),
    (0xA9DE, 0xA9DF),
    (0xAA5C, 0xAA5F),
    (0xAA77, 0xAA79),
    (0xAADE, 0xAADF),
    (0xAAF0, 0xAAF1),
    (0xAB5B, 0xAB5B),
    (0xAB6A, 0xAB6B),
    (0xABEB, 0xABEB),
    (0xFB29, 0xFB29),
    (0xFBB2, 0xFBC2),
    (0xFD3E, 0xFD4F),
    (0xFDCF, 0xFDCF),
    (0xFDFC, 0xFDFF),
    (0xFE10, 0xFE19),
    (0xFE30, 0xFE52),
    (0xFE54, 0xFE66),
    (0xFE68, 0xFE6B),
    (0xFF01, 0xFF0F),
    (0xFF1A, 0xFF20),
    (0xFF3B, 0xFF40),
    (0xFF5B, 0xFF65),
    (0xFFE0, 0xFFE6),
    (0xFFE8, 0xFFEE),
    (0xFFFC, 0xFFFD),
    (0x10100, 0x10102),
    (0x10137, 0x1013F),
    (0x10179, 0x10189),
    (0x1018C, 0x1018E),
    (0x10190, 0x1019C),
    (0x101A0, 0x101A0),
    (0x101D0, 0x101FC),
    (0x1039F, 0x1039F),
    (0x103D0, 0x103D0),
    (0x1056F, 0x1056F),
    (0x10857, 0x10857),
    (0x10877, 0x10878),
    (0x1091F, 0x1091F),
    (0x1093F, 0x1093F),
    (0x10A50, 0x10A58),
    (0x10A7F, 0x10A7F),
    (0x10AC8, 0x10AC8),
    (0x10AF0, 0x10AF6),
    (0x10B39, 0x10B3F),
    (0x10B99, 0x10B9C),
    (0x10EAD, 0x10EAD),
    (0x10F55, 0x10F59),
    (0x10F86, 0x10F89),
    (0x11047, 0x1104D),
    (0x110BB, 0x110BC),
    (0x110BE, 0x110C1),
    (0x11140, 0x11143),
    (0x11174, 0x11175),
    (0x111C5, 0x111C8),
    (0x111CD, 0x111CD),
    (0x111DB, 0x111DB),
    (0x111DD, 0x111DF),
    (0x11238, 0x1123D),
    (0x112A9, 0x112A9),
    (0x1144B, 0x1144F),
    (0x1145A, 0x1145B),
    (0x1145D, 0x1145D),
    (0x114C6, 0x114C6),
    (0x115C1, 0x115D7),
    (0x11641, 0x11643),
    (0x11660, 0x1166C),
    (0x116B9, 0x116B9),
    (0x1173C, 0x1173F),
    (0x1183B, 0x1183B),
    (0x11944, 0x11946),
    (0x119E2, 0x119E2),
    (0x11A3F, 0x11A46),
    (0x11A9A, 0x11A9C),
    (0x11A9E, 0x11AA2),
    (0x11C41, 0x11C45),
    (0x11C70, 0x11C71),
    (0x11EF7, 0x11EF8),
    (0x11FD5, 0x11FF1),
    (0x11FFF, 0x11FFF),
    (0x12470, 0x12474),
    (0x12FF1, 0x12FF2),
    (0x16A6E, 0x16A6F),
    (0x16AF5, 0x16AF5),
    (0x16B37, 0x16B3F),
    (0x16B44, 0x16B45),
    (0x16E97, 0x16E9A),
    (0x16FE2, 0x16FE2),
    (0x1BC9C, 0x1BC9C),
    (0x1BC9F, 0x1BC9F),
    (0x1CF50, 0x1CFC3),
    (0x1D000, 0x1D0F5),
    (0x1D100, 0x1D126),
    (0x1D129, 0x1D164),
    (0x1D16A, 0x1D16C),
    (0x1D183, 0x1D184),
    (0x1D18C, 0x1D1A9),
    (0x1D1AE, 0x1D1EA),
    (0x1D200, 0x1D241),
    (0x1D245, 0x1D245),
    (0x1D300, 0x1D356),
    (0x1D6C1, 0x1D6C1),
    (0x1D6DB, 0x1D6DB),
    (0x1D6FB, 0x1D6FB),
    (0x1D715, 0x1D715),
    (0x1D735, 0x1D735),
    (0x1D74F, 0x1D74F),
    (0x1D76F, 0x1D76F),
    (0x1D789, 0x1D789),
    (0x1D7A9, 0x1D7A9),
    (0x1D7C3, 0x1D7C3),
    (0x1D800, 0x1D9FF),
    (0x1DA37, 0x1DA3A),
    (0x1DA6D, 0x1DA74),
    (0x1DA76, 0x1DA83),
    (0x1DA85, 0x1DA8B),
    (0x1E14F, 0x1E14F),
    (0x1E2FF, 0x1E2FF),
    (0x1E95E, 0x1E95F),
    (0x1ECAC, 0x1ECAC),
    (0x1ECB0, 0x1ECB0),
    (0x1ED2E, 0x1ED2E),
    (0x1EEF0, 0x1EEF1),
    (0x1F000, 0x1F02B),
    (0x1F030, 0x1F093),
    (0x1F0A0, 0x1F0AE),
    (0x1F0B1, 0x1F0BF),
    (0x1F0C1, 0x1F0CF),
    (0x1F0D1, 0x1F0F5),
    (0x1F10D, 0x1F1AD),
    (0x1F1E6, 0x1F202),
    (0x1F210, 0x1F23B),
    (0x1F240, 0x1F248),
    (0x1F250, 0x1F251),
    (0x1F260, 0x1F265),
    (0x1F300, 0x1F6D7),
    (0x1F6DD, 0x1F6EC),
    (0x1F6F0, 0x1F6FC),
    (0x1F700, 0x1F773),
    (0x1F780, 0x1F7D8),
    (0x1F7E0, 0x1F7EB),
    (0x1F7F0, 0x1F7F0),
    (0x1F800, 0x1F80B),
    (0x1F810, 0x1F847),
    (0x1F850, 0x1F859),
    (0x1F860, 0x1F887),
    (0x1F890, 0x1F8AD),
    (0x1F8B0, 0x1F8B1),
    (0x1F900, 0x1FA53),
    (0x1FA60, 0x1FA6D),
    (0x1FA70, 0x1FA74),
    (0x1FA78, 0x1FA7C),
    (0x1FA80, 0x1FA86),
    (0x1FA90, 0x1FAAC),
    (0x1FAB0, 0x1FABA),
    (0x1FAC0, 0x1FAC5),
    (0x1FAD0, 0x1FAD9),
    (0x1FAE0, 0x1FAE7),
    (0x1FAF0, 0x1FAF6),
    (0x1FB00, 0x1FB92),
    (0x1FB94, 0x1FBCA),
];
