//! Word and character shingles of the normalised text, hashed with xxh3-64 (seed 0), streamed in bounded
//! memory.
//!
//! - Word shingles: the token hash is xxh3_64 of the token's UTF-8 bytes; the shingle hash of tokens
//!   `i..i+n` is xxh3_64 of their token hashes as consecutive little-endian u64. A text with `1 <= T < n`
//!   tokens has exactly one shingle over all of them. Only the last `n` token hashes are kept, and a token
//!   longer than [`TOKEN_SPILL`] bytes is hashed with the streaming hasher, so a single 200 MB token needs no
//!   200 MB buffer.
//! - Character shingles: xxh3_64 of the UTF-8 bytes of each window of `n` code points of the normalised text
//!   (single spaces between tokens included); a text of `0 < len < n` code points has one shingle, itself.

use std::collections::VecDeque;

use xxhash_rust::xxh3::{xxh3_64, Xxh3Default};

use crate::error::{KernelError, KernelResult};
use crate::normalize::{normalize_into, Sink};

/// Largest accepted `ngram`: shingling keeps `O(ngram)` state, and larger values make no sense.
pub const MAX_NGRAM: usize = 1 << 16;

/// Tokens longer than this are hashed incrementally instead of being buffered whole.
pub const TOKEN_SPILL: usize = 1 << 16;

/// Receives shingle hashes in order of occurrence.
pub trait Consumer {
    fn shingle(&mut self, hash: u64);
}

impl Consumer for Vec<u64> {
    #[inline]
    fn shingle(&mut self, hash: u64) {
        self.push(hash);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Word,
    Char,
}

impl Kind {
    pub fn parse(kind: &str) -> KernelResult<Self> {
        match kind {
            "word" => Ok(Self::Word),
            "char" => Ok(Self::Char),
            _ => Err(KernelError::value(format!(
                "kind must be 'word' or 'char', got {kind:?}"
            ))),
        }
    }
}

pub fn check_ngram(ngram: usize) -> KernelResult<()> {
    if ngram == 0 || ngram > MAX_NGRAM {
        return Err(KernelError::value(format!(
            "ngram must be between 1 and {MAX_NGRAM}, got {ngram}"
        )));
    }
    Ok(())
}

/// Tokeniser and word n-gram window (reusable across documents).
struct WordState {
    ngram: usize,
    token: Vec<u8>,
    long_token: Option<Box<Xxh3Default>>,
    spilled: bool,
    /// The last `ngram` token hashes as little-endian bytes, each written twice (slots `s` and `s + ngram`)
    /// so that the current window is always one contiguous slice.
    window: Vec<u8>,
    slot: usize,
    tokens: u64,
}

impl WordState {
    fn new(ngram: usize) -> Self {
        Self {
            ngram,
            token: Vec::with_capacity(256),
            long_token: None,
            spilled: false,
            window: vec![0; 16 * ngram],
            slot: 0,
            tokens: 0,
        }
    }

    fn reset(&mut self) {
        self.token.clear();
        self.spilled = false;
        self.slot = 0;
        self.tokens = 0;
    }

    #[inline(never)]
    fn spill(&mut self) {
        let hasher = self
            .long_token
            .get_or_insert_with(|| Box::new(Xxh3Default::new()));
        if !self.spilled {
            hasher.reset();
            self.spilled = true;
        }
        hasher.update(&self.token);
        self.token.clear();
    }

    #[inline(always)]
    fn push_bytes(&mut self, bytes: &[u8]) {
        if self.token.len() + bytes.len() > TOKEN_SPILL {
            self.spill();
        }
        self.token.extend_from_slice(bytes);
    }

    #[inline]
    fn end_token<C: Consumer>(&mut self, out: &mut C) {
        if self.token.is_empty() && !self.spilled {
            return;
        }
        let hash = match (self.spilled, self.long_token.as_mut()) {
            (true, Some(hasher)) => {
                hasher.update(&self.token);
                self.spilled = false;
                hasher.digest()
            }
            _ => xxh3_64(&self.token),
        };
        self.token.clear();
        let bytes = hash.to_le_bytes();
        let n = self.ngram;
        let slot = self.slot;
        if let Some(first) = self.window.get_mut(8 * slot..8 * slot + 8) {
            first.copy_from_slice(&bytes);
        }
        if let Some(second) = self.window.get_mut(8 * (slot + n)..8 * (slot + n) + 8) {
            second.copy_from_slice(&bytes);
        }
        self.slot = if slot + 1 == n { 0 } else { slot + 1 };
        self.tokens += 1;
        if self.tokens >= n as u64 {
            // The window of the last n tokens starts at the slot after the newest one.
            let start = 8 * self.slot;
            if let Some(window) = self.window.get(start..start + 8 * n) {
                out.shingle(xxh3_64(window));
            }
        }
    }

    fn finish<C: Consumer>(&mut self, out: &mut C) {
        self.end_token(out);
        let t = self.tokens;
        if t >= 1 && t < self.ngram as u64 {
            // Fewer tokens than the n-gram size: one shingle over all of them (slots 0..t).
            if let Some(all) = self.window.get(..8 * t as usize) {
                out.shingle(xxh3_64(all));
            }
        }
    }
}

struct WordSink<'s, C> {
    state: &'s mut WordState,
    out: &'s mut C,
}

impl<C: Consumer> Sink for WordSink<'_, C> {
    #[inline(always)]
    fn ascii(&mut self, byte: u8) {
        let state = &mut *self.state;
        if state.token.len() < TOKEN_SPILL {
            state.token.push(byte);
        } else {
            state.push_bytes(&[byte]);
        }
    }

    #[inline]
    fn char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.state.push_bytes(c.encode_utf8(&mut buf).as_bytes());
    }

    #[inline(always)]
    fn separator(&mut self) {
        self.state.end_token(self.out);
    }
}

/// Character n-gram window (reusable across documents).
struct CharState {
    ngram: usize,
    /// UTF-8 bytes of the recent characters; the current window is `bytes[start..]`.
    bytes: Vec<u8>,
    start: usize,
    /// Byte length of each character of the current window.
    lens: VecDeque<u8>,
    pending_space: bool,
    any: bool,
}

impl CharState {
    fn new(ngram: usize) -> Self {
        Self {
            ngram,
            bytes: Vec::with_capacity(4 * ngram + 4096),
            start: 0,
            lens: VecDeque::with_capacity(ngram + 1),
            pending_space: false,
            any: false,
        }
    }

    fn reset(&mut self) {
        self.bytes.clear();
        self.start = 0;
        self.lens.clear();
        self.pending_space = false;
        self.any = false;
    }

    #[inline]
    fn push_one<C: Consumer>(&mut self, encoded: &[u8], out: &mut C) {
        self.bytes.extend_from_slice(encoded);
        self.lens.push_back(encoded.len() as u8);
        if self.lens.len() > self.ngram {
            if let Some(oldest) = self.lens.pop_front() {
                self.start += oldest as usize;
            }
        }
        if self.lens.len() == self.ngram {
            if let Some(window) = self.bytes.get(self.start..) {
                out.shingle(xxh3_64(window));
            }
        }
        // Drop the bytes before the window once they outweigh it (amortised O(1) per character).
        if self.start >= 4096 && self.start >= self.bytes.len() - self.start {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }

    #[inline]
    fn push<C: Consumer>(&mut self, encoded: &[u8], out: &mut C) {
        if self.pending_space {
            self.pending_space = false;
            self.push_one(b" ", out);
        }
        self.any = true;
        self.push_one(encoded, out);
    }

    fn finish<C: Consumer>(&mut self, out: &mut C) {
        if !self.lens.is_empty() && self.lens.len() < self.ngram {
            // Shorter than one window: the whole text is the only shingle (nothing was dropped yet).
            if let Some(all) = self.bytes.get(self.start..) {
                out.shingle(xxh3_64(all));
            }
        }
    }
}

struct CharSink<'s, C> {
    state: &'s mut CharState,
    out: &'s mut C,
}

impl<C: Consumer> Sink for CharSink<'_, C> {
    #[inline]
    fn ascii(&mut self, byte: u8) {
        self.state.push(&[byte], self.out);
    }

    #[inline]
    fn char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.state
            .push(c.encode_utf8(&mut buf).as_bytes(), self.out);
    }

    #[inline]
    fn separator(&mut self) {
        self.state.pending_space = self.state.any;
    }
}

/// Normalises and shingles documents; holds the reusable scratch state.
pub struct Shingler {
    kind: Kind,
    word: WordState,
    char: CharState,
}

impl Shingler {
    pub fn new(kind: Kind, ngram: usize) -> KernelResult<Self> {
        check_ngram(ngram)?;
        let (word_n, char_n) = match kind {
            Kind::Word => (ngram, 1),
            Kind::Char => (1, ngram),
        };
        Ok(Self {
            kind,
            word: WordState::new(word_n),
            char: CharState::new(char_n),
        })
    }

    /// Stream the shingle hashes of `text` into `out`, in order of occurrence.
    pub fn shingle<C: Consumer>(&mut self, text: &str, out: &mut C) {
        match self.kind {
            Kind::Word => {
                self.word.reset();
                let mut sink = WordSink {
                    state: &mut self.word,
                    out,
                };
                normalize_into(text, &mut sink);
                self.word.finish(out);
            }
            Kind::Char => {
                self.char.reset();
                let mut sink = CharSink {
                    state: &mut self.char,
                    out,
                };
                normalize_into(text, &mut sink);
                self.char.finish(out);
            }
        }
    }

    /// The distinct shingle hashes of `text`, sorted, in `set` (cleared first).
    pub fn shingle_set(&mut self, text: &str, set: &mut Vec<u64>) {
        set.clear();
        self.shingle(text, set);
        set.sort_unstable();
        set.dedup();
    }
}
