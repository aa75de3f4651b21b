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

use crate::ascii::{classify, BLOCK_BYTES, MASK_WORDS};
use crate::error::{KernelError, KernelResult};
use crate::normalize::{normalize_into, Sink};
use crate::short_hash::{xxh3_short, xxh3_words, MAX_SHORT, PAD};

/// Largest accepted `ngram`: shingling keeps `O(ngram)` state, and larger values make no sense.
pub const MAX_NGRAM: usize = 1 << 16;

/// Tokens longer than this are hashed incrementally instead of being buffered whole.
pub const TOKEN_SPILL: usize = 1 << 16;

/// Receives shingle hashes in order of occurrence.
pub trait Consumer {
    fn shingle(&mut self, hash: u64);

    /// Several shingles at once.
    fn shingles(&mut self, hashes: &[u64]) {
        for &hash in hashes {
            self.shingle(hash);
        }
    }
}

impl Consumer for Vec<u64> {
    #[inline]
    fn shingle(&mut self, hash: u64) {
        self.push(hash);
    }

    fn shingles(&mut self, hashes: &[u64]) {
        self.extend_from_slice(hashes);
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

/// The pending token and the recent token hashes (reusable across documents).
struct TokenState {
    ngram: usize,
    /// Folded bytes of a token that is not complete yet (it continues past an ASCII block or run).
    token: Vec<u8>,
    long_token: Option<Box<Xxh3Default>>,
    spilled: bool,
    /// Token hashes, stored little-endian (`u64::to_le`): the last `ngram - 1` already shingled, then new
    /// ones, so that every window of `ngram` consecutive tokens is one contiguous run of bytes.
    hashes: Vec<u64>,
    /// Hashes at the front of `hashes` that are not new (`min(ngram - 1, tokens before them)`).
    shingled: usize,
    tokens: u64,
    shingles: Vec<u64>,
}

impl TokenState {
    fn new(ngram: usize) -> Self {
        Self {
            ngram,
            token: Vec::with_capacity(256),
            long_token: None,
            spilled: false,
            hashes: Vec::with_capacity(ngram + BLOCK_BYTES / 2 + 2),
            shingled: 0,
            tokens: 0,
            shingles: Vec::with_capacity(BLOCK_BYTES / 2 + 2),
        }
    }

    fn reset(&mut self) {
        self.token.clear();
        self.spilled = false;
        self.hashes.clear();
        self.shingled = 0;
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
    fn has_carry(&self) -> bool {
        !self.token.is_empty() || self.spilled
    }

    /// Append already-folded bytes to the pending token (spilling to the streaming hasher when long).
    #[inline]
    fn push_folded(&mut self, folded: &[u8]) {
        for piece in folded.chunks(TOKEN_SPILL) {
            if self.token.len() + piece.len() > TOKEN_SPILL {
                self.spill();
            }
            self.token.extend_from_slice(piece);
        }
    }

    /// The hash of the pending token, which is then cleared.
    fn take_token_hash(&mut self) -> u64 {
        let hash = match (self.spilled, self.long_token.as_mut()) {
            (true, Some(hasher)) => {
                hasher.update(&self.token);
                hasher.digest()
            }
            _ => xxh3_64(&self.token),
        };
        self.spilled = false;
        self.token.clear();
        hash
    }

    #[inline(always)]
    fn push_hash(&mut self, hash: u64) {
        self.hashes.push(hash.to_le());
        self.tokens += 1;
    }

    /// Emit the shingles of every complete window that ends at a new hash, then keep the last `ngram - 1`.
    fn emit<C: Consumer>(&mut self, out: &mut C) {
        let n = self.ngram;
        let total = self.hashes.len();
        let first_end = (self.shingled + 1).max(n);
        self.shingles.clear();
        self.shingles.extend((first_end..=total).map(|end| {
            let words = self.hashes.get(end - n..end).unwrap_or(&[]);
            xxh3_words(words).unwrap_or_else(|| xxh3_64(le_bytes(words)))
        }));
        out.shingles(&self.shingles);
        let keep = total.min(n - 1);
        self.hashes.drain(..total - keep);
        self.shingled = keep;
    }

    #[inline]
    fn end_token<C: Consumer>(&mut self, out: &mut C) {
        if self.has_carry() {
            let hash = self.take_token_hash();
            self.push_hash(hash);
            self.emit(out);
        }
    }

    fn finish<C: Consumer>(&mut self, out: &mut C) {
        self.end_token(out);
        let t = self.tokens;
        if t >= 1 && t < self.ngram as u64 {
            // Fewer tokens than the n-gram size: one shingle over all of them (all still in `hashes`).
            out.shingle(xxh3_64(le_bytes(&self.hashes)));
        }
    }
}

/// Most tokens a block can contain.
const MAX_SPANS: usize = BLOCK_BYTES / 2 + 1;

/// Folded bytes of one ASCII block (at `PAD..PAD + BLOCK_BYTES`, padded for `xxh3_short`), its separator
/// bitmask, and the spans of the tokens that lie entirely inside it.
struct AsciiScratch {
    folded: [u8; PAD + BLOCK_BYTES + MAX_SHORT],
    mask: [u64; MASK_WORDS],
    spans: [(u32, u32); MAX_SPANS],
}

/// The bytes of `values`, whose elements are stored little-endian.
fn le_bytes(values: &[u64]) -> &[u8] {
    // SAFETY: u8 has no alignment or validity requirements, and the byte length covers exactly `values`.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// Tokeniser state of the word shingler.
struct WordState {
    tokens: TokenState,
    scratch: Box<AsciiScratch>,
}

impl WordState {
    fn new(ngram: usize) -> Self {
        Self {
            tokens: TokenState::new(ngram),
            scratch: Box::new(AsciiScratch {
                folded: [0; PAD + BLOCK_BYTES + MAX_SHORT],
                mask: [0; MASK_WORDS],
                spans: [(0, 0); MAX_SPANS],
            }),
        }
    }

    /// Tokenise one block of raw ASCII (at most `BLOCK_BYTES`), in phases that each run a tight loop:
    /// classify the bytes; walk the edges of the token-byte mask to find token spans; hash every token;
    /// hash every window of `ngram` token hashes.
    fn ascii_block<C: Consumer>(&mut self, block: &[u8], simd: bool, out: &mut C) {
        let n = block.len().min(BLOCK_BYTES);
        let scratch = &mut *self.scratch;
        let target = scratch
            .folded
            .get_mut(PAD..PAD + BLOCK_BYTES)
            .unwrap_or(&mut []);
        classify(block, target, &mut scratch.mask, simd);
        let tokens = &mut self.tokens;

        // Phase 1: token spans. A token pending from before the block ends at the first edge.
        let mut count = 0usize;
        let mut in_token = tokens.has_carry();
        let mut carried = in_token;
        let mut start = 0usize;
        let mut previous = u64::from(in_token);
        for (w, &separators) in scratch.mask.iter().enumerate().take(n.div_ceil(64)) {
            let valid = if n - 64 * w >= 64 {
                u64::MAX
            } else {
                (1u64 << (n - 64 * w)) - 1
            };
            let token_bits = !separators & valid;
            let mut edges = (token_bits ^ ((token_bits << 1) | previous)) & valid;
            previous = token_bits >> 63;
            while edges != 0 {
                let at = 64 * w + edges.trailing_zeros() as usize;
                edges &= edges - 1;
                if !in_token {
                    start = at;
                } else if carried {
                    tokens.push_folded(scratch.folded.get(PAD..PAD + at).unwrap_or(&[]));
                    let hash = tokens.take_token_hash();
                    tokens.push_hash(hash);
                    carried = false;
                } else {
                    if let Some(span) = scratch.spans.get_mut(count) {
                        *span = (start as u32, at as u32);
                    }
                    count += 1;
                }
                in_token = !in_token;
            }
        }

        // Phase 2: token hashes, read in place from the padded block.
        let folded = &scratch.folded;
        let spans = scratch.spans.get(..count).unwrap_or(&[]);
        tokens.hashes.extend(spans.iter().map(|&(start, end)| {
            let (start, end) = (PAD + start as usize, PAD + end as usize);
            let len = end - start;
            let hash = if len <= MAX_SHORT {
                xxh3_short(folded, start, len)
            } else {
                xxh3_64(folded.get(start..end).unwrap_or(&[]))
            };
            hash.to_le()
        }));
        tokens.tokens += count as u64;

        // Phase 3: shingles of the new windows.
        tokens.emit(out);

        // A token still open at the end of the block continues in the next block or run.
        if in_token {
            let from = if carried { 0 } else { start };
            tokens.push_folded(scratch.folded.get(PAD + from..PAD + n).unwrap_or(&[]));
        }
    }
}

struct WordSink<'s, C> {
    state: &'s mut WordState,
    out: &'s mut C,
}

impl<C: Consumer> Sink for WordSink<'_, C> {
    #[inline]
    fn ascii(&mut self, byte: u8) {
        self.state.tokens.push_folded(&[byte]);
    }

    #[inline]
    fn char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.state
            .tokens
            .push_folded(c.encode_utf8(&mut buf).as_bytes());
    }

    #[inline]
    fn separator(&mut self) {
        self.state.tokens.end_token(self.out);
    }

    fn ascii_run(&mut self, run: &[u8]) {
        let simd = crate::cpu::avx2();
        for block in run.chunks(BLOCK_BYTES) {
            self.state.ascii_block(block, simd, self.out);
        }
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
                self.word.tokens.reset();
                let mut sink = WordSink {
                    state: &mut self.word,
                    out,
                };
                normalize_into(text, &mut sink);
                self.word.tokens.finish(out);
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
