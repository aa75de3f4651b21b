//! Every pair of 64-bit hashes within a Hamming distance: exact multi-index hashing.
//!
//! The 64 bits are 4 chunks of 16. Two hashes within distance `d` differ in at most `r = d / 4`
//! bits of some chunk (pigeonhole), so probing, per hash and chunk, every value within radius `r`
//! of its chunk in a 65,536-bucket index finds every such pair; each is verified on all 64 bits. A
//! pair is reported by the first chunk that finds it only (chunks before it differ in more than `r`
//! bits), so no pair is reported twice. The reference is `curate.dedup.images.hamming` (numpy).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::arrow;
use crate::binding::u64_bytes;
use crate::error::KernelError;

const CHUNKS: u32 = 4;
const CHUNK_BITS: u32 = 16;
const BUCKETS: usize = 1 << CHUNK_BITS;

fn chunk(value: u64, index: u32) -> usize {
    ((value >> (index * CHUNK_BITS)) & 0xFFFF) as usize
}

/// Every 16-bit mask with at most `radius` bits set, 0 first, by number of bits then value order.
fn probe_masks(radius: u32) -> Vec<usize> {
    let mut masks: Vec<usize> = (0..BUCKETS).filter(|m| m.count_ones() <= radius).collect();
    masks.sort_by_key(|m| (m.count_ones(), *m));
    masks
}

/// Rows `(i, j)`, `i < j`, sorted, whose hashes differ in at most `max_distance` bits. The probes of
/// `threads` ranges of rows run on that many threads (the index is shared, read-only); the ranges'
/// pairs are joined in row order, so the result does not depend on `threads`.
pub fn hamming_pairs(
    hashes: &[u64],
    max_distance: u32,
    threads: usize,
) -> Result<(Vec<u64>, Vec<u64>), KernelError> {
    let n = hashes.len();
    if u32::try_from(n).is_err() {
        return Err(KernelError::value(
            "hamming_pairs takes at most 2^32 hashes",
        ));
    }
    let radius = (max_distance / CHUNKS).min(CHUNK_BITS);
    let masks = probe_masks(radius);
    // Per chunk: rows sorted by chunk value (counting sort), and where each bucket starts.
    let mut starts = vec![vec![0usize; BUCKETS + 1]; CHUNKS as usize];
    let mut order = vec![vec![0u32; n]; CHUNKS as usize];
    // The hashes in bucket order too: a probe reads one contiguous run, not n scattered rows.
    let mut sorted = vec![vec![0u64; n]; CHUNKS as usize];
    for c in 0..CHUNKS {
        let start = &mut starts[c as usize];
        for &h in hashes {
            start[chunk(h, c) + 1] += 1;
        }
        for b in 0..BUCKETS {
            start[b + 1] += start[b];
        }
        let mut fill = start.clone();
        for (row, &h) in hashes.iter().enumerate() {
            let bucket = chunk(h, c);
            order[c as usize][fill[bucket]] = row as u32;
            sorted[c as usize][fill[bucket]] = h;
            fill[bucket] += 1;
        }
    }
    let index = Index {
        starts: &starts,
        order: &order,
        sorted: &sorted,
        masks: &masks,
        radius,
        max_distance,
    };
    let threads = threads.clamp(1, 64).min(n.max(1));
    let step = n.div_ceil(threads);
    let parts: Vec<std::thread::Result<(Vec<u64>, Vec<u64>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * step).min(n)..((t + 1) * step).min(n);
                let index = &index;
                scope.spawn(move || index.probe(hashes, range))
            })
            .collect();
        handles.into_iter().map(|handle| handle.join()).collect()
    });
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for part in parts {
        // A thread that panicked must not leave its rows' pairs out silently.
        let (l, r) = part.map_err(|_| KernelError::value("a hamming_pairs thread failed"))?;
        left.extend(l);
        right.extend(r);
    }
    Ok((left, right))
}

/// The per-chunk bucket index of all hashes, shared read-only by the probing threads.
struct Index<'a> {
    starts: &'a [Vec<usize>],
    order: &'a [Vec<u32>],
    sorted: &'a [Vec<u64>],
    masks: &'a [usize],
    radius: u32,
    max_distance: u32,
}

impl Index<'_> {
    /// The pairs `(i, j)`, `i` in `rows`, `j > i`, in row order then `j` order.
    fn probe(&self, hashes: &[u64], rows: std::ops::Range<usize>) -> (Vec<u64>, Vec<u64>) {
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let mut found: Vec<u32> = Vec::new();
        for i in rows {
            let h = hashes[i];
            found.clear();
            for c in 0..CHUNKS {
                let own = chunk(h, c);
                let start = &self.starts[c as usize];
                for &mask in self.masks {
                    let bucket = own ^ mask;
                    let (from, to) = (start[bucket], start[bucket + 1]);
                    let rows = &self.order[c as usize][from..to];
                    for (&j, &other) in rows.iter().zip(&self.sorted[c as usize][from..to]) {
                        let diff = h ^ other;
                        if diff.count_ones() > self.max_distance || (j as usize) <= i {
                            continue;
                        }
                        // Found by an earlier chunk already (within radius there)?
                        let earlier =
                            (0..c).any(|e| (chunk(diff, e) as u64).count_ones() <= self.radius);
                        if !earlier {
                            found.push(j);
                        }
                    }
                }
            }
            found.sort_unstable();
            left.extend(std::iter::repeat_n(i as u64, found.len()));
            right.extend(found.iter().map(|&j| j as u64));
        }
        (left, right)
    }
}

/// `hamming_pairs` over a uint64 Arrow array: `(i, j)` as uint64 bytearrays.
#[pyfunction]
#[pyo3(signature = (schema, array, max_distance, threads=1))]
pub fn hamming_pairs_u64<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    max_distance: u32,
    threads: usize,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    let hashes = arrow::import_u64(schema, array)?;
    let (left, right) = py.detach(|| hamming_pairs(hashes.values, max_distance, threads))?;
    Ok((u64_bytes(py, &left)?, u64_bytes(py, &right)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hamming_pairs_u64, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_brute_force() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut hashes: Vec<u64> = (0..600).map(|_| next()).collect();
        for k in 0..100 {
            let flips = next() & next() & next(); // about 8 bits
            hashes[300 + k] = hashes[k] ^ flips;
        }
        for d in [0, 3, 8, 11] {
            let (i, j) = hamming_pairs(&hashes, d, 1).expect("fits");
            // Any number of threads: the same pairs in the same order.
            assert_eq!(
                hamming_pairs(&hashes, d, 3).expect("fits"),
                (i.clone(), j.clone())
            );
            let mut brute = Vec::new();
            for a in 0..hashes.len() {
                for b in a + 1..hashes.len() {
                    if (hashes[a] ^ hashes[b]).count_ones() <= d {
                        brute.push((a as u64, b as u64));
                    }
                }
            }
            let got: Vec<(u64, u64)> = i.into_iter().zip(j).collect();
            assert_eq!(got, brute, "distance {d}");
        }
    }
}
