"""Image benchmarks (run on demand): decode + pHash/dHash images/s on one core, Hamming pair search on
synthetic hashes, cosine kNN + connected components on synthetic embeddings with planted near-copies
(time, peak RSS, recall of the planted pairs, IVF against exact search on a sample).

    .venv/bin/python bench/images.py [--photos DIR] [--hashes N] [--vectors N] [--dim D] [--sample Q]
    .venv/bin/python bench/images.py --only-ivf-recall --vectors 200000   # IVF recall against exact search
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


def ivf_against_exact(n: int, dim: int, sample: int, threshold: float, neighbours: int) -> None:
    """Recall of the IVF search against exact search, on ``sample`` query rows: embeddings in
    n / 20 groups (so each row has neighbours on both sides of the threshold, unlike uniform
    random vectors), the exact answer by brute force (numpy) over all n rows, restricted as
    curate's search is to each row's ``neighbours`` nearest."""
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(max(1, n // 20), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # Noise of norm ~0.33 around unit centres: two members of a group are at cosine ~0.9, so the
    # threshold cuts through the groups (about half of each row's group is above it).
    noise = rng.normal(scale=0.33 / np.sqrt(dim), size=(n, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), size=n)] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started, cpu = time.perf_counter(), time.process_time()
    i, j = cosine_pairs(vectors, threshold, neighbours=neighbours, exact_max=1, nprobe=16)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    queries = np.random.default_rng(3).choice(n, size=min(sample, n), replace=False)
    expected = hits = 0
    for q in queries.tolist():
        scores = vectors @ vectors[q]
        scores[q] = -1.0
        top = np.argsort(-scores)[:neighbours]
        for other in top[scores[top] >= threshold].tolist():
            expected += 1
            hits += (min(q, other), max(q, other)) in found
    print(
        f"IVF vs exact, {n} x {dim}, threshold {threshold}, {neighbours} neighbours, nprobe 16: "
        f"recall {hits / max(expected, 1):.4f} ({hits} of {expected} exact pairs of {len(queries)} sampled rows), "
        f"search {wall:.1f} s wall, {cpu:.1f} CPU s, peak RSS {peak_rss_mib():.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/imagededup-ukbench-transforms"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--sample", type=int, default=1000, help="query rows checked against exact search")
    parser.add_argument("--only-ivf-recall", action="store_true", help="run only the IVF-against-exact measure")
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)
    if args.only_ivf_recall:
        ivf_against_exact(args.vectors, args.dim, args.sample, threshold=0.9, neighbours=32)
        return
    if args.photos.is_dir():
        decode_and_hash(args.photos, args.repeat)
    for distance in (3, 10):
        hamming(args.hashes, distance)
    knn(args.vectors, args.dim, exact_max=args.vectors)
    knn(args.vectors, args.dim, exact_max=1)
    ivf_against_exact(args.vectors, args.dim, args.sample, threshold=0.9, neighbours=32)


if __name__ == "__main__":
    main()
