//! Survivors that cover their group: a greedy cover of each group's verified similarity graph (see
//! `curate.kernel.cover_survivors` for the contract and `curate.kernel_reference.cover_survivors` for the
//! plain-Python specification that this must match exactly).
//!
//! A group of at most `exact_pairs_max` rows compares all its pairs on exact Jaccard. A larger group (crawl
//! boilerplate: thousands of pages of one site) would need k^2/2 comparisons, so it keeps one MinHash
//! signature per member instead of its shingle set, takes as candidate pairs the members sharing an LSH
//! bucket (all pairs of a small bucket; in a large one, each member with the bucket's first
//! `BUCKET_HUBS` members and its `BUCKET_WINDOW` successors), keeps those whose signature estimate is at
//! or above the threshold, covers that sparse graph, and only then computes exact Jaccard for the
//! member -> survivor pairs it chose (falling back to another adjacent survivor, or to keeping the member).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::arrow::StrColumn;
use crate::cluster::{check_group_offsets, check_threshold, jaccard_at_least, jaccard_sorted};
use crate::error::{KernelError, KernelResult};
use crate::minhash::{MinHasher, Permutations};
use crate::shingle::Shingler;

/// A bucket of at most this many members contributes all its pairs.
pub const BUCKET_ALL_PAIRS: usize = 16;
/// In a larger bucket every member is paired with the bucket's first `BUCKET_HUBS` members (best ranked):
/// in a dense cluster they are the ones that cover it, and they see all of it.
pub const BUCKET_HUBS: usize = 8;
/// ... and with its next `BUCKET_WINDOW` members in rank order.
pub const BUCKET_WINDOW: usize = 8;
/// Candidate pairs estimated down to `threshold - ESTIMATE_MARGIN` are second chances (checked exactly).
pub const ESTIMATE_MARGIN: f64 = 0.1;
/// Exact comparisons a member without a verified survivor makes, at most.
pub const ATTACH_TRIES: usize = 8;
/// A survivor with at most this many members may move, with them, to a similar survivor (second round).
pub const MERGE_MEMBERS: usize = 8;
/// Candidate pairs held before they are sorted and deduplicated (then again whenever as many more came).
const EDGE_FLUSH: usize = 1 << 22;

/// The MinHash parameters a large group is estimated with (those of the LSH phase, so that its buckets are
/// the ones that made the group).
pub struct Banding<'p> {
    pub perms: &'p Permutations,
    pub bands: usize,
    pub rows: usize,
}

/// An undirected graph over `0..n` as adjacency lists (CSR); neighbours ascending, each with a weight (the
/// exact similarity, or the number of equal signature values).
struct Graph {
    start: Vec<usize>,
    node: Vec<u32>,
    weight: Vec<f64>,
}

impl Graph {
    /// `edges()` yields `(a, b, weight)` with `a < b < n`, each pair once, sorted by `(a, b)` (so that every
    /// list fills in ascending order); it is called twice, to count and to fill.
    fn build<I: Iterator<Item = (usize, usize, f64)>>(n: usize, edges: impl Fn() -> I) -> Self {
        let mut start = vec![0usize; n + 1];
        for (a, b, _) in edges() {
            start[a + 1] += 1;
            start[b + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut node = vec![0u32; start[n]];
        let mut weight = vec![0.0f64; start[n]];
        for (a, b, w) in edges() {
            node[fill[a]] = b as u32;
            weight[fill[a]] = w;
            fill[a] += 1;
            node[fill[b]] = a as u32;
            weight[fill[b]] = w;
            fill[b] += 1;
        }
        Self {
            start,
            node,
            weight,
        }
    }

    fn neighbours(&self, v: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let range = self.start[v]..self.start[v + 1];
        self.node[range.clone()]
            .iter()
            .map(|&u| u as usize)
            .zip(self.weight[range].iter().copied())
    }
}

const UNCOVERED: usize = usize::MAX;

/// Greedy cover over the edges whose weight passes `is_edge`: repeatedly pick the *uncovered* node that
/// covers the most uncovered nodes (itself and its uncovered neighbours), ties to the lowest index (best
/// rank); it survives and the nodes it covers point at it, with their edge's weight. Survivors are therefore
/// pairwise non-adjacent.
///
/// Lazy evaluation: a node's stored coverage only overestimates its current one (coverage never grows), so a
/// popped node whose stored value is still current beats every node below it in the heap.
fn greedy_cover(graph: &Graph, n: usize, is_edge: impl Fn(f64) -> bool) -> (Vec<usize>, Vec<f64>) {
    let mut owner = vec![UNCOVERED; n];
    let mut sim = vec![1.0f64; n];
    let coverage = |v: usize, owner: &[usize]| {
        1 + graph
            .neighbours(v)
            .filter(|&(u, w)| owner[u] == UNCOVERED && is_edge(w))
            .count()
    };
    let mut heap: BinaryHeap<(usize, Reverse<usize>)> =
        (0..n).map(|v| (coverage(v, &owner), Reverse(v))).collect();
    while let Some((stored, Reverse(v))) = heap.pop() {
        if owner[v] != UNCOVERED {
            continue;
        }
        let current = coverage(v, &owner);
        if current != stored {
            heap.push((current, Reverse(v)));
            continue;
        }
        owner[v] = v;
        for (u, w) in graph.neighbours(v) {
            if owner[u] == UNCOVERED && is_edge(w) {
                owner[u] = v;
                sim[u] = w;
            }
        }
    }
    (owner, sim)
}

/// Survivors of each group (see `curate.kernel.cover_survivors`). Returns, per row, the row index of its
/// survivor (its own for survivors) and its exact Jaccard similarity to it (1.0 for survivors).
pub fn cover_survivors(
    texts: &StrColumn<'_>,
    group_offsets: &[i64],
    threshold: f64,
    shingler: &mut Shingler,
    banding: &Banding<'_>,
    exact_pairs_max: usize,
) -> KernelResult<(Vec<i64>, Vec<f64>)> {
    check_threshold(threshold)?;
    if exact_pairs_max == 0 {
        return Err(KernelError::value("exact_pairs_max must be at least 1"));
    }
    if banding.bands == 0
        || banding.rows == 0
        || banding.bands * banding.rows > banding.perms.num_perm()
    {
        return Err(KernelError::value(
            "bands * rows must be at least 1 and at most num_perm",
        ));
    }
    let n = texts.len();
    let bounds = check_group_offsets(group_offsets, n)?;
    let mut leader: Vec<i64> = (0..n as i64).collect();
    let mut similarity = vec![1.0f64; n];
    for window in bounds.windows(2) {
        let (start, end) = match window {
            [start, end] => (*start, *end),
            _ => continue,
        };
        let size = end - start;
        if size < 2 {
            continue;
        }
        if size > u32::MAX as usize {
            return Err(KernelError::value("a group of more than 2^32 rows"));
        }
        let (owner, sim) = if size <= exact_pairs_max {
            exact_group(texts, start, size, threshold, shingler)?
        } else {
            estimated_group(texts, start, size, threshold, shingler, banding)?
        };
        for (i, (o, s)) in owner.into_iter().zip(sim).enumerate() {
            leader[start + i] = (start + o) as i64;
            similarity[start + i] = s;
        }
    }
    Ok((leader, similarity))
}

fn shingle_row(
    texts: &StrColumn<'_>,
    row: usize,
    shingler: &mut Shingler,
    set: &mut Vec<u64>,
) -> KernelResult<()> {
    match texts.text(row, 0)? {
        Some(text) => shingler.shingle_set(text, set),
        None => set.clear(),
    }
    Ok(())
}

/// All pairs on exact Jaccard, then the cover.
fn exact_group(
    texts: &StrColumn<'_>,
    start: usize,
    size: usize,
    threshold: f64,
    shingler: &mut Shingler,
) -> KernelResult<(Vec<usize>, Vec<f64>)> {
    let mut sets: Vec<Vec<u64>> = Vec::with_capacity(size);
    for i in 0..size {
        let mut set = Vec::new();
        shingle_row(texts, start + i, shingler, &mut set)?;
        sets.push(set);
    }
    let mut edges = Vec::new();
    for (i, a) in sets.iter().enumerate() {
        for (j, b) in sets.iter().enumerate().skip(i + 1) {
            if let Some(s) = jaccard_at_least(a, b, threshold) {
                edges.push((i, j, s));
            }
        }
    }
    let graph = Graph::build(size, || edges.iter().copied());
    Ok(greedy_cover(&graph, size, |_| true))
}

/// Candidate pairs from the group's own LSH buckets, pruned on the signature estimate; the cover of that
/// graph; exact Jaccard for every member -> survivor pair chosen.
fn estimated_group(
    texts: &StrColumn<'_>,
    start: usize,
    size: usize,
    threshold: f64,
    shingler: &mut Shingler,
    banding: &Banding<'_>,
) -> KernelResult<(Vec<usize>, Vec<f64>)> {
    let num_perm = banding.perms.num_perm();
    let bands = banding.bands;
    let mut signatures = vec![0u32; size * num_perm];
    let mut band_hashes = vec![0u64; size * bands];
    let mut has_shingles = vec![false; size];
    let mut hasher = MinHasher::new(banding.perms);
    for i in 0..size {
        hasher.reset();
        if let Some(text) = texts.text(start + i, 0)? {
            shingler.shingle(text, &mut hasher);
        }
        hasher.finish(
            &mut signatures[i * num_perm..(i + 1) * num_perm],
            &mut band_hashes[i * bands..(i + 1) * bands],
            banding.rows,
        );
        has_shingles[i] = hasher.count() > 0;
    }
    let signature = |i: usize| &signatures[i * num_perm..(i + 1) * num_perm];
    // The estimate is (equal signature values) / num_perm; graphs carry the count itself.
    // A branch-free sum, which the compiler vectorises.
    let equal_values = |a: usize, b: usize| {
        signature(a)
            .iter()
            .zip(signature(b))
            .map(|(x, y)| u32::from(x == y))
            .sum::<u32>() as f64
    };
    let estimate = |count: f64| count / num_perm as f64;
    // Pairs estimated at or above the threshold are the cover's edges; those a little below it are kept as
    // second chances, checked exactly afterwards (the estimate's standard deviation at J = 0.8 and 128
    // permutations is 0.035).
    let is_wide = |count: f64| estimate(count) >= threshold - ESTIMATE_MARGIN;
    let is_edge = |count: f64| estimate(count) >= threshold;

    // Candidate pairs among `members` (ascending): those sharing a bucket, kept when widely similar.
    let candidates = |members: &[usize]| {
        let mut pairs: Vec<u64> = Vec::new();
        let mut flush_at = EDGE_FLUSH;
        let mut order = members.to_vec();
        for band in 0..bands {
            order.sort_unstable_by_key(|&i| (band_hashes[i * bands + band], i));
            let mut lo = 0;
            while lo < order.len() {
                let key = band_hashes[order[lo] * bands + band];
                let mut hi = lo + 1;
                while hi < order.len() && band_hashes[order[hi] * bands + band] == key {
                    hi += 1;
                }
                let bucket = &order[lo..hi];
                for (pos, &x) in bucket.iter().enumerate() {
                    let later = if bucket.len() <= BUCKET_ALL_PAIRS {
                        &bucket[pos + 1..]
                    } else {
                        for &hub in &bucket[..pos.min(BUCKET_HUBS)] {
                            pairs.push(((hub as u64) << 32) | x as u64);
                        }
                        &bucket[pos + 1..(pos + 1 + BUCKET_WINDOW).min(bucket.len())]
                    };
                    for &y in later {
                        pairs.push(((x as u64) << 32) | y as u64);
                    }
                }
                lo = hi;
            }
            // The same hubs and neighbours recur from band to band: deduplicate before estimating.
            if pairs.len() >= flush_at {
                pairs.sort_unstable();
                pairs.dedup();
                flush_at = pairs.len() + EDGE_FLUSH;
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let split = |pair: u64| ((pair >> 32) as usize, (pair & 0xFFFF_FFFF) as usize);
        let mut weights = Vec::with_capacity(pairs.len());
        pairs.retain(|&pair| {
            let (a, b) = split(pair);
            let count = equal_values(a, b);
            let wide = is_wide(count);
            if wide {
                weights.push(count);
            }
            wide
        });
        Graph::build(size, || {
            pairs
                .iter()
                .zip(&weights)
                .map(|(&pair, &w)| (split(pair).0, split(pair).1, w))
        })
    };
    let with_shingles: Vec<usize> = (0..size).filter(|&i| has_shingles[i]).collect();
    let wide = candidates(&with_shingles);
    let (mut owner, mut sim) = greedy_cover(&wide, size, is_edge);

    // Exact Jaccard for every member -> survivor pair, one survivor set at a time.
    let mut removed: Vec<usize> = (0..size).filter(|&i| owner[i] != i).collect();
    removed.sort_unstable_by_key(|&i| (owner[i], i));
    let (mut survivor_set, mut member_set) = (Vec::new(), Vec::new());
    let mut loaded = UNCOVERED;
    let mut failed_from = vec![UNCOVERED; size];
    let mut members = vec![0usize; size];
    for &i in &removed {
        if owner[i] != loaded {
            loaded = owner[i];
            shingle_row(texts, start + loaded, shingler, &mut survivor_set)?;
        }
        shingle_row(texts, start + i, shingler, &mut member_set)?;
        let exact = jaccard_sorted(&member_set, &survivor_set);
        if exact >= threshold {
            sim[i] = exact;
            members[owner[i]] += 1;
        } else {
            failed_from[i] = owner[i];
            owner[i] = i;
            sim[i] = 1.0;
        }
    }
    // Second chances, best rank first: a member whose estimate misled, or a survivor that covers nobody,
    // joins the first of its (widely) adjacent survivors, highest estimate first, that is exactly at or
    // above the threshold; at most ATTACH_TRIES are tried.
    let mut other_set = Vec::new();
    for i in 0..size {
        if owner[i] != i || members[i] > 0 {
            continue;
        }
        let targets = attach_targets(&wide, i, failed_from[i], &owner);
        if targets.is_empty() {
            continue;
        }
        shingle_row(texts, start + i, shingler, &mut member_set)?;
        for u in targets {
            shingle_row(texts, start + u, shingler, &mut other_set)?;
            let exact = jaccard_sorted(&member_set, &other_set);
            if exact >= threshold {
                owner[i] = u;
                sim[i] = exact;
                members[u] += 1;
                break;
            }
        }
    }
    drop(wide);
    // Then the buckets of the survivors alone, far smaller, so that the caps on large buckets that kept two
    // similar survivors apart rarely bind: a survivor with at most MERGE_MEMBERS members moves, with all
    // of them, to the first adjacent survivor that every one of them is exactly at or above the threshold to.
    let survivors: Vec<usize> = with_shingles
        .iter()
        .copied()
        .filter(|&i| owner[i] == i)
        .collect();
    let graph = candidates(&survivors);
    let mut cluster: Vec<Vec<usize>> = vec![Vec::new(); size];
    for i in 0..size {
        if owner[i] != i && members[owner[i]] <= MERGE_MEMBERS {
            cluster[owner[i]].push(i);
        }
    }
    let mut moved_sim = Vec::new();
    for v in 0..size {
        if owner[v] != v || members[v] > MERGE_MEMBERS {
            continue;
        }
        let targets = attach_targets(&graph, v, failed_from[v], &owner);
        if targets.is_empty() {
            continue;
        }
        shingle_row(texts, start + v, shingler, &mut member_set)?;
        for u in targets {
            shingle_row(texts, start + u, shingler, &mut other_set)?;
            moved_sim.clear();
            moved_sim.push(jaccard_sorted(&member_set, &other_set));
            for &m in &cluster[v] {
                if moved_sim.last().is_some_and(|&x| x < threshold) {
                    break;
                }
                shingle_row(texts, start + m, shingler, &mut survivor_set)?;
                moved_sim.push(jaccard_sorted(&survivor_set, &other_set));
            }
            if moved_sim.len() == 1 + cluster[v].len() && moved_sim.iter().all(|&x| x >= threshold)
            {
                let moving = std::mem::take(&mut cluster[v]);
                for (&m, &x) in std::iter::once(&v).chain(&moving).zip(&moved_sim) {
                    owner[m] = u;
                    sim[m] = x;
                }
                members[u] += 1 + moving.len();
                members[v] = 0;
                cluster[u].push(v);
                cluster[u].extend(moving);
                break;
            }
        }
    }
    Ok((owner, sim))
}

/// The survivors adjacent to `v` in `graph` (other than `v` and `excluded`), highest weight first, then
/// best rank: the at most ATTACH_TRIES that `v` is checked against exactly.
fn attach_targets(graph: &Graph, v: usize, excluded: usize, owner: &[usize]) -> Vec<usize> {
    let mut targets: Vec<(f64, usize)> = graph
        .neighbours(v)
        .filter(|&(u, _)| u != v && u != excluded && owner[u] == u)
        .map(|(u, w)| (w, u))
        .collect();
    targets.sort_unstable_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    targets
        .into_iter()
        .take(ATTACH_TRIES)
        .map(|(_, u)| u)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_prefers_the_centre_of_a_star() {
        // 0-1, 1-2, 1-3: node 1 covers all four.
        let edges = [(0, 1, 0.9), (1, 2, 0.85), (1, 3, 0.8)];
        let graph = Graph::build(4, || edges.iter().copied());
        let (owner, sim) = greedy_cover(&graph, 4, |_| true);
        assert_eq!(owner, vec![1, 1, 1, 1]);
        assert_eq!(sim, vec![0.9, 1.0, 0.85, 0.8]);
    }

    #[test]
    fn survivors_are_never_adjacent() {
        // A path 0-1-2-3-4: 1 covers {0,1,2} first (ties to the lowest index), then 3 covers {3,4}.
        let edges = [(0, 1, 0.9), (1, 2, 0.9), (2, 3, 0.9), (3, 4, 0.9)];
        let graph = Graph::build(5, || edges.iter().copied());
        let (owner, _) = greedy_cover(&graph, 5, |_| true);
        assert_eq!(owner, vec![1, 1, 1, 3, 3]);
    }
}
