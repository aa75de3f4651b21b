"""Copy detection quality per edit kind on the seeded set of ``make_image_set.py``: precision and
recall of pHash and dHash (``curate hash images``), of an embedding model when one is given
(``curate embed images --model``), and of imagededup's ``PHash.find_duplicates`` on the same files.

    python bench/make_image_set.py --out bench/data/images
    python bench/image_copy_detection.py --data bench/data/images [--distance 10] [--model M.onnx --cosine 0.9]

Everything curate computes goes through its CLI (``ingest images``, ``hash images``, ``embed
images``) in a subprocess; the pairs are then scored here from the hashes / embeddings, every pair
of the set compared (brute force: the set is a few hundred images). A pair is true when both files
come from the same original. Per edit kind: recall = the share of that kind's copies found paired
with their original; precision = the share of the found pairs touching a copy of that kind that are
true. ``overall`` counts every found pair (originals and copies alike).

imagededup runs in ``bench/.venv-imagededup`` (created on first use unless ``--no-install``):
``pip install --no-deps imagededup`` plus the few libraries its hashing needs. Its package
``__init__`` files import its CNN module, which needs torch (not installable here: the PyPI wheel
needs CUDA libraries); ``imagededup_phash.py`` loads the hashing module without them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-imagededup"
VENV_PYTHON = VENV / "bin" / "python"
IMAGEDEDUP_DEPS = ("numpy", "Pillow", "PyWavelets", "scipy", "scikit-learn", "tqdm")
KINDS = ("crop", "resize", "jpeg", "jitter", "text", "hflip", "vflip")
Pair = tuple[str, str]


def curate(*args: str) -> float:
    """Run a curate command; its wall seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "curate", *args, "--overwrite"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def read_rows(directory: Path, columns: list[str]) -> dict[str, list]:
    table = pq.read_table(sorted(directory.glob("part-*.parquet")), columns=columns)
    return {c: table.column(c).to_pylist() for c in columns}


def hash_pairs(ids: list[str], hashes: list[int], distance: int) -> set[Pair]:
    values = np.array(hashes, dtype=np.uint64)
    xor = values[:, None] ^ values[None, :]
    bits = np.unpackbits(xor.view(np.uint8), axis=1).reshape(len(ids), len(ids), 64).sum(axis=2)
    i, j = np.nonzero(np.triu(bits <= distance, k=1))
    return {tuple(sorted((ids[a], ids[b]))) for a, b in zip(i.tolist(), j.tolist(), strict=True)}  # type: ignore[misc]


def cosine_pairs(ids: list[str], vectors: list[list[float]], threshold: float) -> set[Pair]:
    matrix = np.array(vectors, dtype=np.float32)
    cosines = matrix @ matrix.T
    i, j = np.nonzero(np.triu(cosines >= threshold, k=1))
    return {tuple(sorted((ids[a], ids[b]))) for a, b in zip(i.tolist(), j.tolist(), strict=True)}  # type: ignore[misc]


def score(found: set[Pair], truth: dict[str, dict]) -> dict[str, tuple[float, float, int]]:
    """Per edit kind and overall: (precision, recall, copies)."""
    copies: dict[str, list[str]] = defaultdict(list)
    for name, entry in truth.items():
        if entry["edit"] != "original":
            copies[entry["edit"]].append(name)
    rows: dict[str, tuple[float, float, int]] = {}
    same = {pair: truth[pair[0]]["original"] == truth[pair[1]]["original"] for pair in found}
    for kind in KINDS:
        members = set(copies[kind])
        hits = sum(tuple(sorted((c, truth[c]["original"]))) in found for c in members)
        touching = [pair for pair in found if pair[0] in members or pair[1] in members]
        precision = sum(same[p] for p in touching) / len(touching) if touching else float("nan")
        rows[kind] = (precision, hits / len(members) if members else float("nan"), len(members))
    all_copies = [c for kind in KINDS for c in copies[kind]]
    hits = sum(tuple(sorted((c, truth[c]["original"]))) in found for c in all_copies)
    precision = sum(same.values()) / len(found) if found else float("nan")
    rows["overall"] = (precision, hits / len(all_copies), len(all_copies))
    return rows


def ensure_imagededup(install: bool) -> bool:
    if VENV_PYTHON.exists():
        return True
    if not install:
        return False
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *IMAGEDEDUP_DEPS], check=True)
    subprocess.run([*pip, "--no-deps", "imagededup"], check=True)
    return True


def imagededup_pairs(photos: Path, distance: int) -> tuple[set[Pair], float]:
    out = subprocess.run(
        [str(VENV_PYTHON), str(BENCH / "imagededup_phash.py"), str(photos), str(distance)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    result = json.loads(out.stdout)
    found = {tuple(sorted((a, b))) for a, dups in result["duplicates"].items() for b in dups}
    return found, result["seconds"]  # type: ignore[return-value]


def _number(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.2f}"  # precision of a kind with no pair found


def print_table(results: dict[str, dict[str, tuple[float, float, int]]]) -> None:
    methods = list(results)
    print("| edit | copies | " + " | ".join(f"{m} P / R" for m in methods) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in methods) + " |")
    for kind in (*KINDS, "overall"):
        copies = results[methods[0]][kind][2]
        cells = [f"{_number(results[m][kind][0])} / {_number(results[m][kind][1])}" for m in methods]
        print(f"| {kind} | {copies} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("bench/data/images"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/images"))
    parser.add_argument("--distance", type=int, default=10, help="hash pairs at Hamming distance <= this")
    parser.add_argument("--model", type=Path, help="an ONNX model with SSCD's contract for `embed images`")
    parser.add_argument("--size", type=int, default=288, help="embed images --size")
    parser.add_argument("--cosine", type=float, default=0.9, help="embedding pairs at cosine >= this")
    parser.add_argument("--no-install", action="store_true", help="do not create bench/.venv-imagededup")
    args = parser.parse_args()
    photos = args.data / "photos"
    if not photos.is_dir():
        raise SystemExit(f"{photos}: build the set first: python bench/make_image_set.py --out {args.data}")
    truth = {t["file"]: t for t in json.loads((args.data / "truth.json").read_text(encoding="utf-8"))}
    ingested, hashed = args.out / "ingested", args.out / "hashed"
    seconds = curate("ingest", "images", str(photos), str(ingested))
    seconds += curate("hash", "images", str(ingested), str(hashed))
    print(f"curate ingest + hash images: {len(truth)} files, {seconds:.1f} s wall (two processes)")
    rows = read_rows(hashed, ["id", "phash", "dhash"])
    if sorted(rows["id"]) != sorted(truth):
        raise SystemExit(f"hashed {len(rows['id'])} images, the truth has {len(truth)}")
    results = {
        f"curate pHash d<={args.distance}": score(hash_pairs(rows["id"], rows["phash"], args.distance), truth),
        f"curate dHash d<={args.distance}": score(hash_pairs(rows["id"], rows["dhash"], args.distance), truth),
    }
    if args.model:
        embedded = args.out / "embedded"
        seconds = curate("embed", "images", str(ingested), str(embedded), "--model", str(args.model))
        print(f"curate embed images: {seconds:.1f} s wall")
        emb = read_rows(embedded, ["id", "embedding"])
        results[f"{args.model.name} cos>={args.cosine}"] = score(
            cosine_pairs(emb["id"], emb["embedding"], args.cosine), truth
        )
        sweeps = {f"{args.model.name} by cosine": (0.95, 0.9, 0.85, 0.8, 0.75, 0.7)}
    else:
        sweeps = {}
        print("embedding: not measured (no --model; SSCD's weights cannot be downloaded where this was written)")
    if ensure_imagededup(not args.no_install):
        found, dedup_seconds = imagededup_pairs(photos, args.distance)
        print(f"imagededup PHash encode + find_duplicates: {dedup_seconds:.1f} s wall")
        results[f"imagededup PHash d<={args.distance}"] = score(found, truth)
    else:
        print("imagededup: not measured (bench/.venv-imagededup missing and --no-install)")
    print()
    print_table(results)
    print()
    print("pHash recall and precision (all copies) by distance:")
    for distance in (4, 6, 8, 10, 12, 14, 16, 20):
        overall = score(hash_pairs(rows["id"], rows["phash"], distance), truth)
        no_flip = [overall[k][1] for k in KINDS if "flip" not in k]
        print(
            f"  d<={distance:2d}: precision {overall['overall'][0]:.3f}, recall {overall['overall'][1]:.3f}, "
            f"mean recall of the kinds other than flips {np.mean(no_flip):.3f}"
        )
    for label, cosines in sweeps.items():
        print(f"{label}: precision / recall of crops, of every copy")
        for cosine in cosines:
            overall = score(cosine_pairs(emb["id"], emb["embedding"], cosine), truth)
            crop = overall["crop"]
            print(
                f"  cos>={cosine:.2f}: crops {crop[0]:.3f} / {crop[1]:.3f}, "
                f"all {overall['overall'][0]:.3f} / {overall['overall'][1]:.3f}"
            )


if __name__ == "__main__":
    main()
