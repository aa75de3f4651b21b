//! Block classification of ASCII text: the case-folded bytes and a bitmask of separators.
//!
//! Tokenising byte by byte costs a mispredicted branch at nearly every word boundary; instead a block of
//! ASCII is classified at once (AVX2: a `vpshufb` nibble lookup, 32 bytes per step), and tokens are found by
//! walking the set bits of the separator mask.

use crate::normalize::fold_ascii;
use crate::unicode_tables::ASCII_SEPARATOR;

/// Bytes classified per block (the scratch space is `BLOCK_BYTES` plus a bitmask of `BLOCK_BYTES / 64` words).
pub const BLOCK_BYTES: usize = 2048;
pub const MASK_WORDS: usize = BLOCK_BYTES / 64;

/// `LOW_NIBBLE[lo]` has bit `hi` set when the ASCII byte `hi << 4 | lo` is a separator.
const LOW_NIBBLE: [u8; 16] = {
    let mut table = [0u8; 16];
    let mut byte = 0;
    while byte < 128 {
        if crate::unicode_tables::ASCII_MAP[byte] == ASCII_SEPARATOR {
            table[byte & 15] |= 1 << (byte >> 4);
        }
        byte += 1;
    }
    table
};

/// `HIGH_NIBBLE[hi] = 1 << hi` for ASCII (0 for bytes >= 0x80, which never reach the classifier).
const HIGH_NIBBLE: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0];

/// Fold `block` (ASCII, at most `BLOCK_BYTES` long) into `folded` and set bit `i` of `mask` for each
/// separator. Bytes of `folded` at separator positions are unspecified.
pub fn classify(block: &[u8], folded: &mut [u8], mask: &mut [u64; MASK_WORDS], simd: bool) {
    let n = block.len().min(BLOCK_BYTES).min(folded.len());
    let block = block.get(..n).unwrap_or(&[]);
    #[cfg(target_arch = "x86_64")]
    {
        if simd {
            // SAFETY: the caller checked that the CPU supports AVX2.
            unsafe { classify_avx2(block, folded, mask) };
            return;
        }
    }
    let _ = simd;
    classify_portable(block, folded, mask, 0);
}

/// Scalar classification of `block`, written at offset `start` (a multiple of 64 or the tail of a word).
fn classify_portable(block: &[u8], folded: &mut [u8], mask: &mut [u64; MASK_WORDS], start: usize) {
    for (i, (&byte, out)) in block.iter().zip(folded.iter_mut().skip(start)).enumerate() {
        let f = fold_ascii(byte);
        let separator = f == ASCII_SEPARATOR;
        *out = f;
        let at = start + i;
        if let Some(word) = mask.get_mut(at / 64) {
            let bit = 1u64 << (at % 64);
            *word = (*word & !bit) | (u64::from(separator) << (at % 64));
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn classify_avx2(block: &[u8], folded: &mut [u8], mask: &mut [u64; MASK_WORDS]) {
    use std::arch::x86_64::*;

    let n = block.len();
    let full = n / 32;
    // SAFETY: the tables are 16 bytes; `_mm256_broadcastsi128_si256` reads an unaligned 128-bit value.
    let (low_table, high_table) = unsafe {
        (
            _mm256_broadcastsi128_si256(_mm_loadu_si128(LOW_NIBBLE.as_ptr().cast())),
            _mm256_broadcastsi128_si256(_mm_loadu_si128(HIGH_NIBBLE.as_ptr().cast())),
        )
    };
    let nibble = _mm256_set1_epi8(0x0f);
    let before_a = _mm256_set1_epi8(b'A' as i8 - 1);
    let after_z = _mm256_set1_epi8(b'Z' as i8 + 1);
    let case_bit = _mm256_set1_epi8(0x20);
    let zero = _mm256_setzero_si256();
    for (k, (chunk, out)) in block
        .chunks_exact(32)
        .zip(folded.chunks_exact_mut(32))
        .enumerate()
    {
        // SAFETY: both chunks are exactly 32 bytes; unaligned loads and stores.
        let bits = unsafe {
            let v = _mm256_loadu_si256(chunk.as_ptr().cast());
            let low = _mm256_and_si256(v, nibble);
            let high = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble);
            let class = _mm256_and_si256(
                _mm256_shuffle_epi8(low_table, low),
                _mm256_shuffle_epi8(high_table, high),
            );
            let not_separator = _mm256_cmpeq_epi8(class, zero);
            let upper = _mm256_and_si256(
                _mm256_cmpgt_epi8(v, before_a),
                _mm256_cmpgt_epi8(after_z, v),
            );
            _mm256_storeu_si256(
                out.as_mut_ptr().cast(),
                _mm256_or_si256(v, _mm256_and_si256(upper, case_bit)),
            );
            !(_mm256_movemask_epi8(not_separator) as u32)
        };
        if let Some(word) = mask.get_mut(k / 2) {
            let shift = 32 * (k % 2);
            *word = (*word & !(0xffff_ffffu64 << shift)) | (u64::from(bits) << shift);
        }
    }
    let done = full * 32;
    classify_portable(block.get(done..).unwrap_or(&[]), folded, mask, done);
}
