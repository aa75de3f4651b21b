//! Verification of LSH candidates: exact Jaccard similarity, greedy leader clustering within candidate groups,
//! and connected components of a candidate-pair graph.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::arrow::StrColumn;
use crate::error::{KernelError, KernelResult};
use crate::shingle::Shingler;

/// Jaccard similarity of two sorted, deduplicated hash sets; 0.0 if either is empty.
pub fn jaccard_sorted(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if x == y {
            common += 1;
            i += 1;
            j += 1;
        } else if x < y {
            i += 1;
        } else {
            j += 1;
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

/// Jaccard similarity when it can reach `threshold`, else `None` (checked first on sizes alone:
/// `J <= min/max`, and rounding is monotonic, so the skip never changes an answer).
pub(crate) fn jaccard_at_least(a: &[u64], b: &[u64], threshold: f64) -> Option<f64> {
    let (small, large) = if a.len() <= b.len() {
        (a.len(), b.len())
    } else {
        (b.len(), a.len())
    };
    if small == 0 || (small as f64 / large as f64) < threshold {
        return None;
    }
    let similarity = jaccard_sorted(a, b);
    (similarity >= threshold).then_some(similarity)
}

pub fn check_threshold(threshold: f64) -> KernelResult<()> {
    if threshold > 0.0 && threshold <= 1.0 {
        Ok(())
    } else {
        Err(KernelError::value(format!(
            "threshold must be in (0, 1], got {threshold}"
        )))
    }
}

/// Greedy leader clustering of each group (see `curate.kernel.leader_clusters`).
///
/// `group_offsets` are `[0, ..., n]` boundaries of groups of consecutive rows, each sorted by priority.
/// Returns, for each row, the row index of its leader and the similarity to it (1.0 for leaders).
pub fn leader_clusters(
    texts: &StrColumn<'_>,
    group_offsets: &[i64],
    threshold: f64,
    shingler: &mut Shingler,
    max_leaders: usize,
) -> KernelResult<(Vec<i64>, Vec<f64>)> {
    check_threshold(threshold)?;
    if max_leaders == 0 {
        return Err(KernelError::value("max_leaders must be at least 1"));
    }
    let n = texts.len();
    let bounds = check_group_offsets(group_offsets, n)?;
    let mut leader = vec![0i64; n];
    let mut similarity = vec![1.0f64; n];
    let mut leaders: Vec<(usize, Vec<u64>)> = Vec::with_capacity(max_leaders.min(64));
    let mut spare: Vec<Vec<u64>> = Vec::new();
    let mut set: Vec<u64> = Vec::new();
    for window in bounds.windows(2) {
        let (start, end) = match window {
            [start, end] => (*start, *end),
            _ => continue,
        };
        spare.extend(leaders.drain(..).map(|(_, set)| set));
        for row in start..end {
            match texts.text(row, 0)? {
                Some(text) => shingler.shingle_set(text, &mut set),
                None => set.clear(),
            }
            let joined = leaders.iter().find_map(|(leader_row, leader_set)| {
                jaccard_at_least(&set, leader_set, threshold).map(|sim| (*leader_row, sim))
            });
            let (row_leader, sim) = match joined {
                Some(found) => found,
                None => {
                    if leaders.len() < max_leaders {
                        let replacement = spare.pop().unwrap_or_default();
                        leaders.push((row, std::mem::replace(&mut set, replacement)));
                    }
                    (row, 1.0)
                }
            };
            if let (Some(l), Some(s)) = (leader.get_mut(row), similarity.get_mut(row)) {
                *l = row_leader as i64;
                *s = sim;
            }
        }
    }
    Ok((leader, similarity))
}

pub(crate) fn check_group_offsets(offsets: &[i64], n: usize) -> KernelResult<Vec<usize>> {
    let bad = || {
        KernelError::value(format!(
            "group_offsets must be non-decreasing, start at 0 and end at the number of rows ({n})"
        ))
    };
    if offsets.first() != Some(&0) {
        return Err(bad());
    }
    let mut bounds = Vec::with_capacity(offsets.len());
    let mut previous = 0usize;
    for &offset in offsets {
        let offset = usize::try_from(offset).map_err(|_| bad())?;
        if offset < previous || offset > n {
            return Err(bad());
        }
        bounds.push(offset);
        previous = offset;
    }
    if previous != n {
        return Err(bad());
    }
    Ok(bounds)
}

/// A fast hasher for u64 keys (the murmur3 finaliser); node ids are already well-mixed hashes or ids.
#[derive(Default)]
struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        let mut root = x;
        while let Some(&p) = self.parent.get(root as usize) {
            if p == root {
                break;
            }
            root = p;
        }
        // Path compression.
        while x != root {
            match self.parent.get_mut(x as usize) {
                Some(p) => x = std::mem::replace(p, root),
                None => break,
            }
        }
        root
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let size = |uf: &Self, r: u32| uf.size.get(r as usize).copied().unwrap_or(0);
        let (big, small) = if size(self, ra) >= size(self, rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let merged = size(self, big) + size(self, small);
        if let Some(p) = self.parent.get_mut(small as usize) {
            *p = big;
        }
        if let Some(s) = self.size.get_mut(big as usize) {
            *s = merged;
        }
    }
}

/// Connected components of the graph with edges `a[i] - b[i]`: the distinct nodes sorted ascending, and for
/// each the smallest node id of its component.
pub fn connected_components(a: &[u64], b: &[u64]) -> KernelResult<(Vec<u64>, Vec<u64>)> {
    if a.len() != b.len() {
        return Err(KernelError::value(format!(
            "edge arrays differ in length: {} and {}",
            a.len(),
            b.len()
        )));
    }
    if a.len() >= (u32::MAX / 2) as usize {
        return Err(KernelError::value(
            "too many edges for one call (at most 2^31)",
        ));
    }
    let mut index: HashMap<u64, u32, BuildHasherDefault<U64Hasher>> =
        HashMap::with_capacity_and_hasher(a.len(), BuildHasherDefault::default());
    let mut ids: Vec<u64> = Vec::new();
    let mut dense = |id: u64, ids: &mut Vec<u64>| -> u32 {
        *index.entry(id).or_insert_with(|| {
            ids.push(id);
            (ids.len() - 1) as u32
        })
    };
    let mut edges = Vec::with_capacity(a.len());
    for (&x, &y) in a.iter().zip(b) {
        let dx = dense(x, &mut ids);
        let dy = dense(y, &mut ids);
        edges.push((dx, dy));
    }
    let n = ids.len();
    let mut uf = UnionFind {
        parent: (0..n as u32).collect(),
        size: vec![1; n],
    };
    for (x, y) in edges {
        uf.union(x, y);
    }
    let mut smallest = ids.clone();
    for (i, &id) in ids.iter().enumerate() {
        let root = uf.find(i as u32) as usize;
        if let Some(s) = smallest.get_mut(root) {
            *s = (*s).min(id);
        }
    }
    let mut pairs: Vec<(u64, u64)> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let root = uf.find(i as u32) as usize;
            (id, smallest.get(root).copied().unwrap_or(id))
        })
        .collect();
    pairs.sort_unstable_by_key(|&(id, _)| id);
    Ok(pairs.into_iter().unzip())
}
