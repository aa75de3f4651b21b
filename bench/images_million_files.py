"""A million encoded images through the whole chain, as a user runs it: ``curate ingest webdataset``
→ ``curate hash images`` → ``curate dedup images --by phash``; wall, CPU and peak memory of each
step, images/s per core, and the planted copies found.

    python bench/images_million_files.py [--images 1000000] [--copies 20000] [--size 256] [--out DIR]

The set is WebDataset shards in img2dataset's layout (``key.jpg`` + ``key.txt`` + ``key.json``,
10,000 samples per tar), written by this script under ``--out`` (gitignored ``bench/out/``):
about 10 GB for a million 256 x 256 JPEGs, and as much again for each step's Parquet (each
step's input is deleted once the next step has run, unless ``--keep-tars`` / ``--keep-steps``:
the peak is two copies, 20 GB).

The pictures are synthetic, not photos: a million distinct photos are not at hand here (the
shared folder has a dozen), and crops of a dozen photos would be near-duplicates of each other.
Each picture is a random 24 x 24 colour grid upsampled to ``--size`` (so a perceptual hash sees
distinct low-frequency content) with pixel noise, JPEG quality 85 (about 10 KB, as a 256-px
photo). ``--copies`` samples are copies of another sample, resized to 75 % and re-encoded at
quality 60: the truth. Decoding a 256-px JPEG is what img2dataset-style sets cost (their
default is 256 px); photos of 640 x 480 are measured by ``bench/images.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from process_stats import measure_command  # noqa: E402

PER_TAR = 10_000
# A 24 x 24 grid: two pictures' pHashes are as far apart as random hashes (mean distance 31.5;
# 0 of 8M pairs of 4,000 pictures within 10 bits).
GRID = 24
# Pixel noise (+-4, cut from one seeded field at a per-picture offset: drawing it per picture
# would cost more than the JPEG encoding).
NOISE = np.random.default_rng(1).integers(-4, 5, size=(1024, 1024, 3)).astype(np.int16)


def picture(seed: int, size: int) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    grid = Image.fromarray(rng.integers(0, 256, size=(GRID, GRID, 3), dtype=np.uint8))
    smooth = np.asarray(grid.resize((size, size), Image.Resampling.BILINEAR), dtype=np.int16)
    offset = int(rng.integers(0, NOISE.shape[0] - size + 1))
    noisy = np.clip(smooth + NOISE[offset : offset + size, offset : offset + size], 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(noisy).save(out, format="JPEG", quality=85)
    return out.getvalue()


def copy_of(data: bytes) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    width, height = image.size
    out = io.BytesIO()
    image.resize((width * 3 // 4, height * 3 // 4), Image.Resampling.BILINEAR).save(out, format="JPEG", quality=60)
    return out.getvalue()


def write_tar(args: tuple[Path, int, int, int, dict[int, int]]) -> None:
    """Samples ``first .. first + count`` into one tar; a sample in ``copies`` is a copy of the
    sample it maps to (the original's seed decides its picture)."""
    path, first, count, size, copies = args
    staged = path.with_suffix(".tmp")
    with tarfile.open(staged, "w") as tar:
        for sample in range(first, first + count):
            key = f"{sample:07d}"
            original = copies.get(sample)
            data = copy_of(picture(original, size)) if original is not None else picture(sample, size)
            members = {
                "jpg": data,
                "txt": f"caption of sample {sample}".encode(),
                "json": json.dumps({"key": key, "original": original}).encode(),
            }
            for extension, payload in members.items():
                info = tarfile.TarInfo(f"{key}.{extension}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    staged.rename(path)


def build(root: Path, images: int, copies: int, size: int, seed: int) -> dict[str, str]:
    """Write the tars (skipping those already written); return copy key -> original key."""
    rng = np.random.default_rng(seed)
    originals = rng.choice(images - copies, size=copies, replace=False)
    placed = rng.choice(np.arange(images - copies, images), size=copies, replace=False)  # copies come last
    mapping = {int(copy): int(original) for copy, original in zip(placed, originals, strict=True)}
    root.mkdir(parents=True, exist_ok=True)
    jobs = []
    for first in range(0, images, PER_TAR):
        path = root / f"{first // PER_TAR:05d}.tar"
        count = min(PER_TAR, images - first)
        if not path.exists():
            local = {k: v for k, v in mapping.items() if first <= k < first + count}
            jobs.append((path, first, count, size, local))
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(write_tar, jobs))
    return {f"{copy:07d}": f"{original:07d}" for copy, original in mapping.items()}


def run(label: str, arguments: list[str], images: int, logs: Path) -> dict:
    command = [sys.executable, "-m", "curate", "-q", *arguments, "--json"]
    stats, stdout, stderr = measure_command(command, logs)
    if stats["rc"] != 0:
        raise SystemExit(f"{label} failed: {stderr}")
    wall, cpu = stats["wall_s"], stats["cpu_s"]
    print(
        f"{label}: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {stats['max_rss_mib']:.0f} MiB, "
        f"{images / cpu:.0f} images per CPU second, {images / wall:.0f} images/s on {os.cpu_count()} cores"
    )
    return json.loads(stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--copies", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "images-1m-files")
    parser.add_argument("--keep-tars", action="store_true", help="keep the tars (and reuse those of an earlier run)")
    parser.add_argument("--keep-steps", action="store_true", help="keep each step's output (30 GB at 1M)")
    args = parser.parse_args()
    tars = args.out / "tars"
    for done in ("ingested", "hashed", "deduped"):
        shutil.rmtree(args.out / done, ignore_errors=True)
        shutil.rmtree(args.out / f"{done}.curate", ignore_errors=True)
    if not args.keep_tars:
        shutil.rmtree(tars, ignore_errors=True)
    started = time.perf_counter()
    planted = build(tars, args.images, args.copies, args.size, args.seed)
    size = sum(p.stat().st_size for p in tars.glob("*.tar"))
    print(
        f"{args.images:,} JPEGs {args.size}x{args.size} ({len(planted):,} planted copies), "
        f"{size / 2**30:.1f} GiB of tars, {time.perf_counter() - started:.0f} s"
    )
    n = args.images
    logs = args.out / "logs"
    ingested = run(
        "curate ingest webdataset", ["ingest", "webdataset", str(tars), str(args.out / "ingested")], n, logs / "ingest"
    )
    if not args.keep_tars:
        shutil.rmtree(tars)
    hashed = run(
        "curate hash images", ["hash", "images", str(args.out / "ingested"), str(args.out / "hashed")], n, logs / "hash"
    )
    if not args.keep_steps:
        shutil.rmtree(args.out / "ingested")
    deduped = run(
        "curate dedup images --by phash",
        ["dedup", "images", str(args.out / "hashed"), str(args.out / "deduped"), "--by", "phash"],
        n,
        logs / "dedup",
    )
    print(f"rows: {ingested['rows_kept']:,} ingested, {hashed['rows_kept']:,} hashed, {deduped['rows_kept']:,} kept")
    from curate.io.layout import rejects_dir

    rejects = pq.read_table(rejects_dir(args.out / "deduped"), columns=["id", "dup_of"]).to_pylist()
    removed = {r["id"].rsplit("/", 1)[-1]: r["dup_of"].rsplit("/", 1)[-1] for r in rejects}
    found = sum(1 for copy, original in planted.items() if removed.get(copy, copy) == removed.get(original, original))
    print(f"planted copies found: {found:,} of {len(planted):,}; removed rows: {len(removed):,}")


if __name__ == "__main__":
    main()
