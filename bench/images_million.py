"""``curate dedup images --by phash`` end to end on a million images' hashes: time, peak memory,
and the planted near-copies found.

The images themselves are not decoded here (decode + pHash is measured per core by
``bench/images.py``: at ~460 images/s/core a million photos take ~18 min on 2 cores); this is the
dedup stage as a user runs it on the output of ``curate hash images``: Parquet shards of id +
uint64 pHash. ``--copies`` of the rows are near-copies of an original (1-3 of its 64 bits flipped,
seeded); the rest are random hashes (two random hashes are within distance 3 with probability
2.4e-15, so no other pair is expected; within 10, 9.4e-9: ~4,700 chance pairs in a million).

    python bench/images_million.py [--images 1000000] [--copies 20000] [--distance 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--distance", type=int, default=3, help="Hamming distance of a duplicate (10: the default)")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "images-1m")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    started = time.perf_counter()
    planted = build(args.out / "hashes", args.images, args.copies, args.shards, args.seed)
    print(f"{args.images:,} hashes ({len(planted):,} planted near-copies) in {time.perf_counter() - started:.1f} s")
    out = args.out / "deduped"
    command = [sys.executable, "-m", "curate", "-q", "dedup", "images", str(args.out / "hashes"), str(out),
               "--by", "phash", "--threshold", str(1 - args.distance / 64), "--json"]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    stdout, stderr = child.stdout.read(), child.stderr.read()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"curate failed: {stderr}")
    summary = json.loads(stdout)
    from curate.io.layout import rejects_dir

    rejects = pq.read_table(rejects_dir(out), columns=["id", "dup_of"]).to_pylist()
    removed = {r["id"]: r["dup_of"] for r in rejects}
    # A planted pair is found when both end in one cluster: the same survivor (a removed row's dup_of
    # is its cluster's survivor, which chance pairs at larger distances can make a third image).
    found = sum(1 for copy, original in planted.items() if removed.get(copy, copy) == removed.get(original, original))
    cpu = usage.ru_utime + usage.ru_stime
    head = f"curate dedup images --by phash (distance <= {args.distance})"
    print(f"{head}: {summary['rows_in']:,} in, {summary['rows_kept']:,} kept")
    peak = usage.ru_maxrss / 1024
    print(f"  wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {peak:.0f} MiB, load {os.getloadavg()[0]:.1f}")
    print(f"  planted pairs found: {found:,} of {len(planted):,}; removed rows: {len(removed):,}")


if __name__ == "__main__":
    main()
