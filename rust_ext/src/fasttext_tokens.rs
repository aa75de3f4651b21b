//! A line of text to the input rows fastText averages for it (C++ `Dictionary::getLine` for a supervised
//! model): each word's row and character n-gram rows (the dictionary's, or hashed for an unknown word), then
//! the hashed word n-grams. The `fasttext` crate holds the dictionary; the word lookup and the n-gram hashing
//! are here because they are most of the cost of a prediction: one compact open-addressing table keyed by the
//! word's fastText hash (instead of C++'s 30-million-slot table, a cache miss per word), words in one byte
//! arena, n-gram hashes extended byte by byte (FNV-1a) without building the n-gram strings.

use fasttext::dictionary::Dictionary;

use crate::error::{KernelError, KernelResult};

pub const EOS: &str = "</s>";
/// The label prefix of models read from a file (fastText does not save `-label`).
const LABEL_PREFIX: &[u8] = b"__label__";
const FNV_OFFSET: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;

/// fastText's hash (FNV-1a over the bytes taken as signed chars) continued over `bytes`.
#[inline]
fn fnv(mut h: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

pub fn hash(bytes: &[u8]) -> u32 {
    fnv(FNV_OFFSET, bytes)
}

pub struct Tokenizer {
    /// `(hash, id + 1)` per slot, 0 for an empty slot; a power-of-two size at most half full.
    slots: Vec<(u32, u32)>,
    arena: Vec<u8>,
    ends: Vec<usize>,
    nwords: i32,
    minn: usize,
    maxn: usize,
    bucket: u32,
    word_ngrams: i32,
}

/// What a line leaves behind for the next one (no allocation per line).
#[derive(Default)]
pub struct LineScratch {
    pub ids: Vec<i32>,
    hashes: Vec<i32>,
}

impl Tokenizer {
    pub fn new(dict: &Dictionary) -> KernelResult<Self> {
        let size = usize::try_from(dict.size()).unwrap_or(0);
        let capacity = (size * 2).next_power_of_two().max(16);
        let mut slots = vec![(0u32, 0u32); capacity];
        let mut arena = Vec::new();
        let mut ends = Vec::with_capacity(size);
        for id in 0..size {
            let word = dict.get_word(id as i32).as_bytes();
            arena.extend_from_slice(word);
            ends.push(arena.len());
            let h = hash(word);
            let mut slot = h as usize & (capacity - 1);
            while slots[slot].1 != 0 {
                slot = (slot + 1) & (capacity - 1);
            }
            slots[slot] = (h, id as u32 + 1);
        }
        let args = dict.args();
        if args.bucket < 0 || args.minn < 0 || args.maxn < 0 {
            return Err(KernelError::value(
                "negative bucket or n-gram size in the model's arguments",
            ));
        }
        Ok(Self {
            slots,
            arena,
            ends,
            nwords: dict.nwords(),
            minn: usize::try_from(args.minn).unwrap_or(0),
            maxn: usize::try_from(args.maxn).unwrap_or(0),
            bucket: u32::try_from(args.bucket).unwrap_or(0),
            word_ngrams: args.word_ngrams,
        })
    }

    fn word(&self, id: usize) -> &[u8] {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    /// The dictionary id of `word` (whose hash is `h`).
    #[inline]
    fn find(&self, word: &[u8], h: u32) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = h as usize & mask;
        loop {
            let (slot_hash, entry) = self.slots[slot];
            if entry == 0 {
                return None;
            }
            if slot_hash == h && self.word(entry as usize - 1) == word {
                return Some(entry as usize - 1);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// C++ `pushHash`: the row of bucket `id`, through the pruned index of a quantized model.
    #[inline]
    fn push_bucket(&self, dict: &Dictionary, ids: &mut Vec<i32>, id: i32) {
        let pruned = dict.pruneidx_size();
        if self.bucket == 0 || pruned == 0 || id < 0 {
            return;
        }
        if pruned > 0 {
            if let Some(&mapped) = dict.pruneidx().get(&id) {
                ids.push(self.nwords + mapped);
            }
        } else {
            ids.push(self.nwords + id);
        }
    }

    /// C++ `computeSubwords` of `<word>`: every n-gram of minn..=maxn characters (UTF-8 aware), but not the
    /// single `<` or `>`.
    fn push_char_ngrams(&self, dict: &Dictionary, token: &[u8], ids: &mut Vec<i32>) {
        if self.maxn == 0 || self.bucket == 0 {
            return;
        }
        // `<` + token + `>` without building it: byte k of the marked word.
        let len = token.len() + 2;
        let byte = |k: usize| -> u8 {
            if k == 0 {
                b'<'
            } else if k == len - 1 {
                b'>'
            } else {
                token[k - 1]
            }
        };
        let continuation = |k: usize| byte(k) & 0xC0 == 0x80;
        for i in 0..len {
            if continuation(i) {
                continue;
            }
            let mut h = FNV_OFFSET;
            let mut j = i;
            let mut n = 1;
            while j < len && n <= self.maxn {
                h = fnv(h, &[byte(j)]);
                j += 1;
                while j < len && continuation(j) {
                    h = fnv(h, &[byte(j)]);
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == len)) {
                    self.push_bucket(dict, ids, (h % self.bucket) as i32);
                }
                n += 1;
            }
        }
    }

    /// The input rows of `line` in `scratch.ids` (C++ `getLine`: up to and including the first `</s>`).
    pub fn line(&self, dict: &Dictionary, line: &str, scratch: &mut LineScratch) {
        scratch.ids.clear();
        scratch.hashes.clear();
        let tokens = line
            .as_bytes()
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty());
        for token in tokens {
            let h = hash(token);
            let found = self.find(token, h);
            let is_word = match found {
                Some(id) => (id as i32) < self.nwords,
                None => !token.starts_with(LABEL_PREFIX),
            };
            if is_word {
                match found {
                    Some(id) if self.maxn > 0 => {
                        scratch.ids.extend_from_slice(dict.get_subwords(id as i32))
                    }
                    Some(id) => scratch.ids.push(id as i32),
                    None if token != EOS.as_bytes() => {
                        self.push_char_ngrams(dict, token, &mut scratch.ids)
                    }
                    None => {}
                }
                scratch.hashes.push(h as i32);
            }
            if token == EOS.as_bytes() {
                break;
            }
        }
        self.push_word_ngrams(dict, scratch);
    }

    /// C++ `addWordNgrams`: every run of 2..=wordNgrams consecutive words, hashed (signed 32-bit hashes
    /// widened as C++ widens them).
    fn push_word_ngrams(&self, dict: &Dictionary, scratch: &mut LineScratch) {
        let n = usize::try_from(self.word_ngrams).unwrap_or(0);
        if self.bucket == 0 || n <= 1 {
            return;
        }
        let hashes = &scratch.hashes;
        for i in 0..hashes.len() {
            let mut h = hashes[i] as i64 as u64;
            for &next in &hashes[i + 1..hashes.len().min(i + n)] {
                h = h.wrapping_mul(116_049_371).wrapping_add(next as i64 as u64);
                self.push_bucket(dict, &mut scratch.ids, (h % u64::from(self.bucket)) as i32);
            }
        }
    }
}
