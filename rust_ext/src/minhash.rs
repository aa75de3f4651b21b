//! MinHash signatures and LSH band hashes.
//!
//! Permutation `i` is `h -> ((a_i * h + b_i) mod 2^64) >> 32`, with `(a_i | 1, b_i)` drawn from a splitmix64
//! stream, and signature value `i` is its minimum over the document's shingle hashes.
//!
//! The hot loop runs 128 permutations per shingle. AVX2 has no 64-bit multiply, but only bits 32..63 of
//! `a * h + b` are needed, and with `a = a_hi:a_lo`, `h = h_hi:h_lo`:
//!
//! ```text
//! ((a*h + b) mod 2^64) >> 32  ==  hi32(a_lo*h_lo + b) + lo32(a_hi*h_lo + a_lo*h_hi)   (mod 2^32)
//! ```
//!
//! so eight permutations cost two 32x32->64 multiplies (`vpmuludq`, even and odd lanes) and two 32-bit
//! low multiplies (`vpmulld`), with no branch. Permutation parameters live in contiguous, padded arrays
//! laid out per block of eight; the signature state of one block stays in a register while a chunk of
//! shingles streams past. The AVX2 kernel is chosen at run time; the portable kernel is the same formula
//! on u64.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{KernelError, KernelResult};
use crate::shingle::Consumer;

/// Largest accepted `num_perm` (a signature is `4 * num_perm` bytes per document).
pub const MAX_PERM: usize = 1 << 16;

/// Lanes of one permutation block.
const BLOCK: usize = 8;

/// Shingles buffered before the kernel runs over them.
const CHUNK: usize = 256;

/// The standard splitmix64 generator.
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

pub fn check_params(num_perm: usize, bands: usize, rows: usize) -> KernelResult<()> {
    if num_perm == 0 || num_perm > MAX_PERM {
        return Err(KernelError::value(format!(
            "num_perm must be between 1 and {MAX_PERM}, got {num_perm}"
        )));
    }
    if bands == 0 || rows == 0 {
        return Err(KernelError::value(format!(
            "bands and rows must be at least 1, got bands={bands}, rows={rows}"
        )));
    }
    match bands.checked_mul(rows) {
        Some(used) if used <= num_perm => Ok(()),
        _ => Err(KernelError::value(format!(
            "bands * rows must not exceed num_perm, got {bands} * {rows} > {num_perm}"
        ))),
    }
}

/// The `num_perm` permutations of a seed, in the layouts both kernels want.
pub struct Permutations {
    num_perm: usize,
    pub a: Vec<u64>,
    pub b: Vec<u64>,
    /// Padded to a multiple of `BLOCK` (padding lanes compute garbage that is never read).
    a_lo: Vec<u32>,
    a_hi: Vec<u32>,
    /// Per block: `b` of permutations 0, 2, 4, 6 then of 1, 3, 5, 7.
    b_even: Vec<u64>,
    b_odd: Vec<u64>,
}

impl Permutations {
    pub fn new(num_perm: usize, seed: u64) -> KernelResult<Self> {
        if num_perm == 0 || num_perm > MAX_PERM {
            return Err(KernelError::value(format!(
                "num_perm must be between 1 and {MAX_PERM}, got {num_perm}"
            )));
        }
        let mut rng = SplitMix64::new(seed);
        let mut a = Vec::with_capacity(num_perm);
        let mut b = Vec::with_capacity(num_perm);
        for _ in 0..num_perm {
            a.push(rng.next_u64() | 1);
            b.push(rng.next_u64());
        }
        let padded = num_perm.div_ceil(BLOCK) * BLOCK;
        let lane = |values: &[u64], i: usize| values.get(i).copied().unwrap_or(0);
        let a_lo = (0..padded).map(|i| lane(&a, i) as u32).collect();
        let a_hi = (0..padded).map(|i| (lane(&a, i) >> 32) as u32).collect();
        let b_even = (0..padded / 2)
            .map(|k| lane(&b, (k / 4) * BLOCK + 2 * (k % 4)))
            .collect();
        let b_odd = (0..padded / 2)
            .map(|k| lane(&b, (k / 4) * BLOCK + 2 * (k % 4) + 1))
            .collect();
        Ok(Self {
            num_perm,
            a,
            b,
            a_lo,
            a_hi,
            b_even,
            b_odd,
        })
    }

    pub fn num_perm(&self) -> usize {
        self.num_perm
    }

    fn padded(&self) -> usize {
        self.a_lo.len()
    }

    /// Fold `hashes` into `state` (`padded()` values) with the best kernel for this CPU.
    fn update(&self, hashes: &[u64], state: &mut [u32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::cpu::avx2() {
                // SAFETY: the CPU supports AVX2 (checked at run time just above).
                unsafe { self.update_avx2(hashes, state) };
                return;
            }
        }
        self.update_portable(hashes, state);
    }

    fn update_portable(&self, hashes: &[u64], state: &mut [u32]) {
        for &h in hashes {
            for ((s, &a), &b) in state.iter_mut().zip(&self.a).zip(&self.b) {
                let v = (a.wrapping_mul(h).wrapping_add(b) >> 32) as u32;
                *s = (*s).min(v);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn update_avx2(&self, hashes: &[u64], state: &mut [u32]) {
        let mut blocks = self
            .a_lo
            .chunks_exact(BLOCK)
            .zip(self.a_hi.chunks_exact(BLOCK))
            .zip(self.b_even.chunks_exact(BLOCK / 2))
            .zip(self.b_odd.chunks_exact(BLOCK / 2))
            .zip(state.chunks_exact_mut(BLOCK))
            .map(|((((a_lo, a_hi), b_even), b_odd), acc)| avx2::Block {
                a_lo,
                a_hi,
                b_even,
                b_odd,
                acc,
            });
        // Two blocks per pass over the shingles: both use the same broadcast shingle halves, and the two
        // independent chains keep more multiplies in flight.
        while let Some(first) = blocks.next() {
            match blocks.next() {
                Some(second) => avx2::two_blocks(hashes, first, second),
                None => avx2::one_block(hashes, first),
            }
        }
    }
}

/// The AVX2 MinHash kernel, on blocks of eight permutations.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Parameters and signature state of eight permutations.
    pub struct Block<'a> {
        pub a_lo: &'a [u32],
        pub a_hi: &'a [u32],
        pub b_even: &'a [u64],
        pub b_odd: &'a [u64],
        pub acc: &'a mut [u32],
    }

    /// A block's parameters in registers.
    #[derive(Clone, Copy)]
    struct Loaded {
        a_lo: __m256i,
        a_lo_odd: __m256i,
        a_hi: __m256i,
        b_even: __m256i,
        b_odd: __m256i,
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load32(values: &[u32]) -> __m256i {
        debug_assert!(values.len() == 8);
        // SAFETY: `Block` slices come from `chunks_exact` of 8 u32 / 4 u64 = 32 bytes; unaligned load.
        unsafe { _mm256_loadu_si256(values.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load64(values: &[u64]) -> __m256i {
        debug_assert!(values.len() == 4);
        // SAFETY: as in `load32`.
        unsafe { _mm256_loadu_si256(values.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn load(block: &Block<'_>) -> (Loaded, __m256i) {
        let a_lo = load32(block.a_lo);
        let loaded = Loaded {
            a_lo,
            a_lo_odd: _mm256_srli_epi64::<32>(a_lo),
            a_hi: load32(block.a_hi),
            b_even: load64(block.b_even),
            b_odd: load64(block.b_odd),
        };
        (loaded, load32(block.acc))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn store(block: Block<'_>, acc: __m256i) {
        debug_assert!(block.acc.len() == 8);
        // SAFETY: `acc` is a chunk of exactly 8 u32; unaligned store.
        unsafe { _mm256_storeu_si256(block.acc.as_mut_ptr().cast(), acc) }
    }

    /// The eight values `((a * h + b) mod 2^64) >> 32` of a block, branch-free:
    /// `hi32(a_lo * h_lo + b) + lo32(a_hi * h_lo + a_lo * h_hi)`. `vpmuludq` reads the low dword of each
    /// qword, so the all-lanes `h_lo` vector serves both 32x32->64 multiplies.
    #[inline(always)]
    fn permute(p: Loaded, h_lo: __m256i, h_hi: __m256i) -> __m256i {
        // SAFETY: only called from functions compiled with AVX2 enabled.
        unsafe {
            let even = _mm256_add_epi64(_mm256_mul_epu32(p.a_lo, h_lo), p.b_even);
            let odd = _mm256_add_epi64(_mm256_mul_epu32(p.a_lo_odd, h_lo), p.b_odd);
            let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let cross = _mm256_add_epi32(
                _mm256_mullo_epi32(p.a_hi, h_lo),
                _mm256_mullo_epi32(p.a_lo, h_hi),
            );
            _mm256_add_epi32(high, cross)
        }
    }

    /// `h`'s low and high halves, each broadcast to eight lanes. They are read as two u32 from `h`'s
    /// memory so that the broadcasts are `vpbroadcastd` loads rather than shuffles on the vector ports.
    #[inline(always)]
    fn halves(h: &u64) -> (__m256i, __m256i) {
        let words: *const i32 = (h as *const u64).cast();
        let (lo, hi) = if cfg!(target_endian = "little") {
            (0, 1)
        } else {
            (1, 0)
        };
        // SAFETY: both reads are within the 8 bytes of `h`; only called with AVX2 enabled.
        unsafe {
            (
                _mm256_set1_epi32(words.add(lo).read_unaligned()),
                _mm256_set1_epi32(words.add(hi).read_unaligned()),
            )
        }
    }

    #[target_feature(enable = "avx2")]
    pub fn two_blocks(hashes: &[u64], first: Block<'_>, second: Block<'_>) {
        let (p, mut acc_p) = load(&first);
        let (q, mut acc_q) = load(&second);
        for h in hashes {
            let (h_lo, h_hi) = halves(h);
            acc_p = _mm256_min_epu32(acc_p, permute(p, h_lo, h_hi));
            acc_q = _mm256_min_epu32(acc_q, permute(q, h_lo, h_hi));
        }
        store(first, acc_p);
        store(second, acc_q);
    }

    #[target_feature(enable = "avx2")]
    pub fn one_block(hashes: &[u64], block: Block<'_>) {
        let (p, mut acc) = load(&block);
        for h in hashes {
            let (h_lo, h_hi) = halves(h);
            acc = _mm256_min_epu32(acc, permute(p, h_lo, h_hi));
        }
        store(block, acc);
    }
}

/// The signature of one document, fed shingle by shingle.
pub struct MinHasher<'p> {
    perms: &'p Permutations,
    state: Vec<u32>,
    chunk: Vec<u64>,
    count: u64,
    band_bytes: Vec<u8>,
}

impl<'p> MinHasher<'p> {
    pub fn new(perms: &'p Permutations) -> Self {
        Self {
            perms,
            state: vec![u32::MAX; perms.padded()],
            chunk: Vec::with_capacity(CHUNK),
            count: 0,
            band_bytes: Vec::new(),
        }
    }

    pub fn reset(&mut self) {
        self.state.fill(u32::MAX);
        self.chunk.clear();
        self.count = 0;
    }

    fn flush(&mut self) {
        if !self.chunk.is_empty() {
            self.perms.update(&self.chunk, &mut self.state);
            self.chunk.clear();
        }
    }

    /// Number of shingles seen since the last reset (duplicates included), saturating at `u32::MAX`.
    pub fn count(&self) -> u32 {
        u32::try_from(self.count).unwrap_or(u32::MAX)
    }

    /// Write the signature (`num_perm` values) and the band hashes (`bands.len()` values, `rows` each).
    pub fn finish(&mut self, signature: &mut [u32], bands: &mut [u64], rows: usize) {
        self.flush();
        let num_perm = self.perms.num_perm();
        for (out, &value) in signature.iter_mut().zip(self.state.iter().take(num_perm)) {
            *out = value;
        }
        if self.count == 0 {
            bands.fill(0);
            return;
        }
        for (j, out) in bands.iter_mut().enumerate() {
            self.band_bytes.clear();
            let values = self.state.get(j * rows..(j + 1) * rows).unwrap_or(&[]);
            for value in values {
                self.band_bytes.extend_from_slice(&value.to_le_bytes());
            }
            *out = xxh3_64_with_seed(&self.band_bytes, j as u64);
        }
    }
}

impl Consumer for MinHasher<'_> {
    #[inline]
    fn shingle(&mut self, hash: u64) {
        self.chunk.push(hash);
        self.count += 1;
        if self.chunk.len() >= CHUNK {
            self.flush();
        }
    }

    fn shingles(&mut self, hashes: &[u64]) {
        self.chunk.extend_from_slice(hashes);
        self.count += hashes.len() as u64;
        if self.chunk.len() >= CHUNK {
            self.flush();
        }
    }
}
