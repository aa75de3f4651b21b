"""Image benchmarks (run on demand): decode + pHash/dHash images/s on one core, Hamming pair search on
synthetic hashes, cosine kNN + connected components on synthetic embeddings with planted near-copies
(time, peak RSS, recall of the planted pairs, IVF against exact search on a sample).

    .venv/bin/python bench/images.py [--photos DIR] [--hashes N] [--vectors N] [--dim D]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from curate import kernel
from curate.dedup.images.hamming import hamming_pairs
from curate.dedup.images.knn import cosine_pairs
from curate.images.decode import open_image
from curate.images.hashing import DRAFT, image_hashes


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def decode_and_hash(photos: Path, repeat: int) -> None:
    files = [p.read_bytes() for p in sorted((photos / "base_images").glob("*.jpg"))]
    warm = open_image(files[0], max_pixels=0, draft=DRAFT, mode="L")
    image_hashes(warm.image)  # imports imagehash and scipy outside the timing
    for label, draft in (("JPEG draft", DRAFT), ("full size", None)):
        started = time.perf_counter()
        for data in files * repeat:
            decoded = open_image(data, max_pixels=0, draft=draft, mode="L")
            assert decoded.image is not None
        decoded_at = time.perf_counter()
        for data in files * repeat:
            decoded = open_image(data, max_pixels=0, draft=draft, mode="L")
            image_hashes(decoded.image)
        done = time.perf_counter()
        count = repeat * len(files)
        print(
            f"640x480 JPEG, decode ({label}): {count / (decoded_at - started):.0f} images/s; "
            f"decode + pHash + dHash: {count / (done - decoded_at):.0f} images/s (1 core)"
        )


def hamming(n: int, distance: int) -> None:
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    planted = n // 100
    for k in range(planted):  # near copies at 0..distance bits
        bits = rng.choice(64, size=int(rng.integers(0, distance + 1)), replace=False)
        hashes[n - planted + k] = hashes[k] ^ np.uint64(sum(1 << int(b) for b in bits))
    started = time.perf_counter()
    i, _ = hamming_pairs(hashes, distance)
    seconds = time.perf_counter() - started
    print(
        f"hamming pairs <= {distance} bits over {n} hashes: {seconds:.2f} s, {len(i)} pairs "
        f"({planted} planted), peak RSS {peak_rss_mib():.0f} MiB"
    )


def knn(n: int, dim: int, exact_max: int) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    planted = n // 100
    vectors[n - planted :] = vectors[:planted] + rng.normal(scale=0.02, size=(planted, dim)).astype(np.float32)
    started = time.perf_counter()
    i, j = cosine_pairs(vectors, 0.95, neighbours=16, exact_max=exact_max, nprobe=16)
    search = time.perf_counter() - started
    _, roots = kernel.connected_components(i.astype(np.uint64), j.astype(np.uint64))
    total = time.perf_counter() - started
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    recall = sum((k, n - planted + k) in found for k in range(planted)) / planted
    kind = "exact flat" if n <= exact_max else "IVF"
    print(
        f"kNN ({kind}) + components, {n} x {dim}: search {search:.1f} s, total {total:.1f} s, "
        f"planted-pair recall {recall:.4f}, {len(set(roots.tolist()))} components, peak RSS {peak_rss_mib():.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/imagededup-ukbench-transforms"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    if args.photos.is_dir():
        decode_and_hash(args.photos, args.repeat)
    for distance in (3, 10):
        hamming(args.hashes, distance)
    knn(args.vectors, args.dim, exact_max=args.vectors)
    knn(args.vectors, args.dim, exact_max=1)


if __name__ == "__main__":
    main()
