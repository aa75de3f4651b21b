"""``curate dedup images`` end to end on a million images' hashes (``--by phash``) or 512-d
embeddings (``--by embedding``): time, peak memory, and the planted near-copies found.

The images themselves are not decoded here (decode + pHash is measured per core by
``bench/images.py``: at ~460 images/s/core a million photos take ~18 min on 2 cores); this is the
dedup stage as a user runs it on the output of ``curate hash images``: Parquet shards of id +
uint64 pHash. ``--copies`` of the rows are near-copies of an original (1-3 of its 64 bits flipped,
seeded); the rest are random hashes (two random hashes are within distance 3 with probability
2.4e-15, so no other pair is expected; within 10, 9.4e-9: ~4,700 chance pairs in a million).

    python bench/images_million.py [--images 1000000] [--copies 20000] [--distance 3] [--out DIR]
    python bench/images_million.py --by embedding [--dim 512] [--threshold 0.9] [--sample 200]

Embeddings are built to look like a real descriptor set rather than uniform noise (on which an IVF
index's k-means has nothing to find): ``images / 200`` topic centres, each row a centre plus
noise (two rows of one topic at cosine ~0.4, far below any dedup threshold); ``--copies`` rows are
near-copies of another row (noise of norm 0.39 added: cosine ~0.97 to it, ~0.94 between two
copies of one row). Whether these pairs are the only ones at or above the threshold is checked
by brute force (exact cosine against every row) for ``--sample`` rows, so recall is against exact
search, not against the generator's intent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from process_stats import measure_command  # noqa: E402


def build(root: Path, images: int, copies: int, shards: int, seed: int) -> dict[str, str]:
    """Write the shards; return copy id -> original id."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**63, size=images, dtype=np.int64).astype(np.uint64)
    hashes ^= rng.integers(0, 2, size=images, dtype=np.uint64) << np.uint64(63)
    originals = rng.choice(images - copies, size=copies, replace=False)
    for row, original in enumerate(originals):
        value = hashes[original]
        for bit in rng.choice(64, size=int(rng.integers(1, 4)), replace=False):
            value ^= np.uint64(1) << np.uint64(bit)
        hashes[images - copies + row] = value
    ids = np.array([f"img{i:07d}" for i in range(images)])
    order = rng.permutation(images)  # copies spread over every shard
    root.mkdir(parents=True, exist_ok=True)
    for shard, rows in enumerate(np.array_split(order, shards)):
        table = pa.table({"id": ids[rows], "phash": pa.array(hashes[rows], pa.uint64())})
        pq.write_table(table, root / f"part-{shard:05d}.parquet")
    return {str(ids[images - copies + row]): str(ids[original]) for row, original in enumerate(originals)}


def build_embeddings(
    root: Path, images: int, copies: int, shards: int, dim: int, seed: int
) -> tuple[dict[str, str], np.ndarray]:
    """Write shards of id + embedding; return copy id -> original id, and the vectors (for the
    brute-force check)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, images // 200), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = centres[rng.integers(0, len(centres), size=images)]
    vectors += rng.normal(scale=1.2 / np.sqrt(dim), size=(images, dim)).astype(np.float32)
    originals = rng.choice(images - copies, size=copies, replace=False)
    noise = rng.normal(scale=0.39 / np.sqrt(dim), size=(copies, dim)).astype(np.float32)
    vectors[images - copies :] = vectors[originals] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.array([f"img{i:07d}" for i in range(images)])
    order = rng.permutation(images)
    root.mkdir(parents=True, exist_ok=True)
    for shard, rows in enumerate(np.array_split(order, shards)):
        flat = pa.array(vectors[rows].reshape(-1), pa.float32())
        table = pa.table({"id": ids[rows], "embedding": pa.FixedSizeListArray.from_arrays(flat, dim)})
        pq.write_table(table, root / f"part-{shard:05d}.parquet")
    planted = {str(ids[images - copies + row]): str(ids[original]) for row, original in enumerate(originals)}
    return planted, vectors


def exact_pairs(vectors: np.ndarray, threshold: float, sample: int, seed: int) -> list[tuple[int, int]]:
    """Every pair at or above ``threshold`` that involves one of ``sample`` rows (half of them
    planted copies, half any row), by brute force over all rows."""
    n = len(vectors)
    rng = np.random.default_rng(seed + 1)
    queries = np.concatenate([rng.choice(n, size=sample // 2, replace=False), n - 1 - np.arange(sample - sample // 2)])
    pairs = []
    for q in queries.tolist():
        scores = vectors @ vectors[q]
        scores[q] = -1.0
        pairs += [(q, int(other)) for other in np.flatnonzero(scores >= threshold - 1e-6)]
    return pairs


def run_curate(out: Path, arguments: list[str]) -> tuple[dict, float, float, float]:
    """Run the CLI; return its JSON summary, wall and CPU seconds, peak RSS in MiB."""
    command = [sys.executable, "-m", "curate", "-q", "dedup", "images", *arguments, "--json"]
    stats, stdout, stderr = measure_command(command, out.parent / "logs")
    if stats["rc"] != 0:
        raise SystemExit(f"curate failed: {stderr}")
    return json.loads(stdout), stats["wall_s"], stats["cpu_s"], stats["max_rss_mib"]


def survivors(out: Path) -> dict[str, str]:
    """Removed id -> the survivor of its cluster."""
    from curate.io.layout import rejects_dir

    rejects = pq.read_table(rejects_dir(out), columns=["id", "dup_of"]).to_pylist()
    return {r["id"]: r["dup_of"] for r in rejects}


def main_embedding(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    root = args.out / "embeddings"
    planted, vectors = build_embeddings(root, args.images, args.copies, args.shards, args.dim, args.seed)
    print(f"{args.images:,} x {args.dim} embeddings ({len(planted):,} planted near-copies) in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    started = time.perf_counter()
    truth = exact_pairs(vectors, args.threshold, args.sample, args.seed)
    print(f"  exact search for {args.sample} rows: {len(truth)} pairs at cosine >= {args.threshold} "
          f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
    del vectors
    out = args.out / "deduped"
    summary, wall, cpu, peak = run_curate(out, [str(args.out / "embeddings"), str(out), "--by", "embedding",
                                                "--threshold", str(args.threshold)])  # fmt: skip
    removed = survivors(out)
    print(f"curate dedup images --by embedding (cosine >= {args.threshold}): {summary['rows_in']:,} in, "
          f"{summary['rows_kept']:,} kept")  # fmt: skip
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:.0f} MiB, load {os.getloadavg()[0]:.1f}")
    found = sum(1 for copy, original in planted.items() if removed.get(copy, copy) == removed.get(original, original))
    print(f"  planted pairs found: {found:,} of {len(planted):,}; removed rows: {len(removed):,}")

    def name(row: int) -> str:
        return f"img{row:07d}"

    joined = sum(1 for a, b in truth if removed.get(name(a), name(a)) == removed.get(name(b), name(b)))
    print(f"  exact pairs of the sampled rows in one cluster: {joined} of {len(truth)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distance", type=int, default=3, help="Hamming distance of a duplicate (10: the default)")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "images-1m")
    parser.add_argument("--by", choices=("phash", "embedding"), default="phash")
    parser.add_argument("--dim", type=int, default=512, help="embedding dimension")
    parser.add_argument("--threshold", type=float, default=0.9, help="embedding: cosine of a duplicate")
    parser.add_argument("--sample", type=int, default=200, help="embedding: rows checked by exact search")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    if args.by == "embedding":
        main_embedding(args)
        return
    started = time.perf_counter()
    planted = build(args.out / "hashes", args.images, args.copies, args.shards, args.seed)
    print(f"{args.images:,} hashes ({len(planted):,} planted near-copies) in {time.perf_counter() - started:.1f} s")
    out = args.out / "deduped"
    arguments = [str(args.out / "hashes"), str(out), "--by", "phash", "--threshold", str(1 - args.distance / 64)]
    summary, wall, cpu, peak = run_curate(out, arguments)
    removed = survivors(out)
    # A planted pair is found when both end in one cluster: the same survivor (a removed row's dup_of
    # is its cluster's survivor, which chance pairs at larger distances can make a third image).
    found = sum(1 for copy, original in planted.items() if removed.get(copy, copy) == removed.get(original, original))
    head = f"curate dedup images --by phash (distance <= {args.distance})"
    print(f"{head}: {summary['rows_in']:,} in, {summary['rows_kept']:,} kept")
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:.0f} MiB, load {os.getloadavg()[0]:.1f}")
    print(f"  planted pairs found: {found:,} of {len(planted):,}; removed rows: {len(removed):,}")


if __name__ == "__main__":
    main()
