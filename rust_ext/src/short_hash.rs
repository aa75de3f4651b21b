//! xxh3-64 (seed 0) of inputs of at most 16 bytes, almost without branches.
//!
//! XXH3 hashes 1-3, 4-8 and 9-16 bytes with three different formulas. For English words the choice between
//! the first two is unpredictable and a mispredicted branch costs more than the hash, so both are computed
//! from a padded buffer and the result is selected with masks; the rarer 9-16 byte class takes a branch.
//! The formulas are those of the XXH3 specification with the default secret; the tests check the results
//! against the `xxhash` library for every length.

/// The first 128 bytes of the XXH3 default secret (`kSecret`): all that inputs of up to 128 bytes use.
#[rustfmt::skip]
const SECRET: [u8; 128] = [
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
];

const fn secret64(at: usize) -> u64 {
    let mut value = 0u64;
    let mut i = 0;
    while i < 8 {
        value |= (SECRET[at + i] as u64) << (8 * i);
        i += 1;
    }
    value
}

const fn secret32(at: usize) -> u64 {
    secret64(at) & 0xffff_ffff
}

const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;

const FLIP_1TO3: u64 = secret32(0) ^ secret32(4);
const FLIP_4TO8: u64 = secret64(8) ^ secret64(16);
const FLIP_9TO16_LO: u64 = secret64(24) ^ secret64(32);
const FLIP_9TO16_HI: u64 = secret64(40) ^ secret64(48);
const EMPTY: u64 = xxh64_avalanche(secret64(56) ^ secret64(64));

/// Bytes that must be readable before and after the input in the padded buffer.
pub const PAD: usize = 8;

/// Inputs up to this length take the branch-free path.
pub const MAX_SHORT: usize = 16;

const fn xxh64_avalanche(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(PRIME64_2);
    h ^= h >> 29;
    h = h.wrapping_mul(PRIME64_3);
    h ^ (h >> 32)
}

#[inline(always)]
fn xxh3_avalanche(mut h: u64) -> u64 {
    h ^= h >> 37;
    h = h.wrapping_mul(0x1656_6791_9E37_79F9);
    h ^ (h >> 32)
}

#[inline(always)]
fn rrmxmx(mut h: u64, len: u64) -> u64 {
    h ^= h.rotate_left(49) ^ h.rotate_left(24);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^= (h >> 35).wrapping_add(len);
    h = h.wrapping_mul(0x9FB2_1C65_1E98_DF25);
    h ^ (h >> 28)
}

#[inline(always)]
fn read64(buf: &[u8], at: usize) -> u64 {
    buf.get(at..)
        .and_then(|rest| rest.first_chunk::<8>())
        .map_or(0, |bytes| u64::from_le_bytes(*bytes))
}

#[inline(always)]
fn read32(buf: &[u8], at: usize) -> u64 {
    buf.get(at..)
        .and_then(|rest| rest.first_chunk::<4>())
        .map_or(0, |bytes| u64::from(u32::from_le_bytes(*bytes)))
}

#[inline(always)]
fn byte(buf: &[u8], at: usize) -> u64 {
    buf.get(at).map_or(0, |&b| u64::from(b))
}

#[inline(always)]
fn mask(condition: bool) -> u64 {
    0u64.wrapping_sub(u64::from(condition))
}

/// xxh3_64 (seed 0) of `buf[start..start + len]` for `len <= MAX_SHORT`. The buffer must hold `PAD` bytes
/// before `start` and `MAX_SHORT` bytes from `start` on (their content does not matter).
#[inline(always)]
pub fn xxh3_short(buf: &[u8], start: usize, len: usize) -> u64 {
    let n = len as u64;
    let end = start + len;

    let combined = (byte(buf, start) << 16)
        | (byte(buf, start + (len >> 1)) << 24)
        | byte(buf, end.wrapping_sub(1))
        | (n << 8);
    let h1to3 = xxh64_avalanche(combined ^ FLIP_1TO3);

    let input64 = read32(buf, end.wrapping_sub(4)).wrapping_add(read32(buf, start) << 32);
    let h4to8 = rrmxmx(input64 ^ FLIP_4TO8, n);

    // 9-16 bytes is the rarest class in text, so it gets a (well-predicted) branch of its own.
    if len > 8 {
        let lo = read64(buf, start) ^ FLIP_9TO16_LO;
        let hi = read64(buf, end.wrapping_sub(8)) ^ FLIP_9TO16_HI;
        let product = u128::from(lo) * u128::from(hi);
        let folded = (product as u64) ^ ((product >> 64) as u64);
        return xxh3_avalanche(
            n.wrapping_add(lo.swap_bytes())
                .wrapping_add(hi)
                .wrapping_add(folded),
        );
    }
    let middle = mask(len >= 4);
    let short = mask(len >= 1) & !middle;
    let empty = mask(len == 0);
    (h4to8 & middle) | (h1to3 & short) | (EMPTY & empty)
}

/// xxh3_64 (seed 0) of `words` as consecutive little-endian u64, for 3 to 16 words (the XXH3 17-128 byte
/// path, read a word at a time); `None` for other lengths.
#[inline]
pub fn xxh3_words(words: &[u64]) -> Option<u64> {
    let n = words.len();
    if !(3..=16).contains(&n) {
        return None;
    }
    let word = |i: usize| words.get(i).map_or(0, |&w| u64::from_le(w));
    let mix16 = |i: usize, secret: usize| {
        let lo = word(i) ^ secret64(secret);
        let hi = word(i + 1) ^ secret64(secret + 8);
        let product = u128::from(lo) * u128::from(hi);
        (product as u64) ^ ((product >> 64) as u64)
    };
    let mut acc = (8 * n as u64).wrapping_mul(PRIME64_1);
    acc = acc.wrapping_add(mix16(0, 0)).wrapping_add(mix16(n - 2, 16));
    if n > 4 {
        acc = acc
            .wrapping_add(mix16(2, 32))
            .wrapping_add(mix16(n - 4, 48));
    }
    if n > 8 {
        acc = acc
            .wrapping_add(mix16(4, 64))
            .wrapping_add(mix16(n - 6, 80));
    }
    if n > 12 {
        acc = acc
            .wrapping_add(mix16(6, 96))
            .wrapping_add(mix16(n - 8, 112));
    }
    Some(xxh3_avalanche(acc))
}
