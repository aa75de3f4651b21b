"""Throughput of MinHash signatures: curate's Rust kernel against datasketch and rensa, on one core.

Documents are ~3 KB pieces cut (at whitespace) from the Project Gutenberg books of
``../shared/data/gutenberg-top-authors-subset`` beside the checkout, or under ``$CURATE_SHARED_DATA``
(override with ``--data``); the benchmark exits cleanly if they are absent. Every system hashes the
same word 5-grams with 128 permutations:

- curate: ``kernel.minhash_batch`` on a pyarrow large_string array (normalisation, tokenising, shingling,
  signatures and 16 x 8 band hashes, all in Rust, GIL released);
- datasketch: one ``MinHash(num_perm=128)`` per document, ``update_batch`` with the document's 5-grams;
- rensa: one ``RMinHash(128, seed)`` per document fed its 5-grams, and rensa's bulk
  ``RMinHash.digest_matrix_from_token_sets``.

The peers get their 5-grams ready-made (strings joined from curate's own normalised tokens, made before the
clock starts), so their figures leave out the Python shingling that a real pipeline would also pay; that time
is printed separately. The process is pinned to one core; rates are given by wall-clock time and by the
process's CPU time (all threads), which other load on the machine does not distort.
Run: ``python bench/bench_signatures.py [--docs N] [--peer-docs N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
from shared_data import GUTENBERG

from curate import kernel

DEFAULT_DATA = GUTENBERG
NUM_PERM, BANDS, ROWS, NGRAM, SEED = 128, 16, 8, 5, 42


def cut_documents(root: Path, size: int, limit: int) -> list[str]:
    """Pieces of about ``size`` bytes, cut at whitespace, from the books under ``root`` (sorted, reproducible)."""
    docs: list[str] = []
    for path in sorted(root.rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        start = 0
        while start < len(text) and len(docs) < limit:
            end = min(len(text), start + size)
            cut = text.rfind(" ", start + size // 2, end) if end < len(text) else end
            end = cut if cut > start else end
            piece = text[start:end].strip()
            if len(piece) >= size // 2:
                docs.append(piece)
            start = end
        if len(docs) >= limit:
            break
    return docs


def word_ngrams(docs: list[str]) -> list[list[str]]:
    out = []
    for doc in docs:
        normalized = kernel.normalize_text(doc)
        tokens = normalized.split(" ") if normalized else []
        if len(tokens) < NGRAM:
            out.append([" ".join(tokens)] if tokens else [])
        else:
            out.append([" ".join(tokens[i : i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)])
    return out


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, float]:
    """The fastest of ``repeats`` runs: (wall-clock seconds, CPU seconds of the whole process)."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def line(name: str, docs: int, megabytes: float, wall: float, cpu: float) -> str:
    return (
        f"{name:<38} {docs / wall:>9,.0f} docs/s {megabytes / wall:>7.1f} MB/s"
        f"   | by CPU time {docs / cpu:>9,.0f} docs/s {megabytes / cpu:>7.1f} MB/s"
    )


def batches(array: pa.Array, size: int) -> Iterator[pa.Array]:
    for start in range(0, len(array), size):
        yield array.slice(start, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of .txt books (default: %(default)s)")
    parser.add_argument("--docs", type=int, default=20000, help="documents for curate (default: %(default)s)")
    parser.add_argument("--peer-docs", type=int, default=3000, help="documents for the peers (default: %(default)s)")
    parser.add_argument("--doc-bytes", type=int, default=3000, help="document size (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8192, help="rows per minhash_batch call (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs (default: %(default)s)")
    args = parser.parse_args(argv)

    if not args.data.is_dir():
        print(f"skipped: no benchmark data at {args.data}", file=sys.stderr)
        return 0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target is stated
    docs = cut_documents(args.data, args.doc_bytes, max(args.docs, args.peer_docs))
    if not docs:
        print(f"skipped: no .txt books under {args.data}", file=sys.stderr)
        return 0
    array = pa.array(docs[: args.docs], pa.large_string())
    megabytes = sum(len(d.encode()) for d in docs[: args.docs]) / 1e6
    print(
        f"{len(array)} documents, {megabytes:.1f} MB (mean {1e6 * megabytes / len(array):.0f} B); word {NGRAM}-grams, "
        f"{NUM_PERM} permutations, {BANDS} x {ROWS} bands; kernel {kernel.simd_backend()}"
    )

    def run_curate() -> None:
        for batch in batches(array, args.batch):
            kernel.minhash_batch(batch, kind="word", ngram=NGRAM, num_perm=NUM_PERM, seed=SEED, bands=BANDS, rows=ROWS)

    results: dict[str, tuple[float, float]] = {}
    wall, cpu = best_of(args.repeats, run_curate)
    results["curate minhash_batch"] = (len(array) / wall, len(array) / cpu)
    print(line("curate minhash_batch", len(array), megabytes, wall, cpu))

    peer_docs = docs[: args.peer_docs]
    peer_mb = sum(len(d.encode()) for d in peer_docs) / 1e6
    start = time.perf_counter()
    grams = word_ngrams(peer_docs)
    shingling = time.perf_counter() - start
    print(f"{'(Python 5-gram strings for the peers)':<38} {len(peer_docs) / shingling:>9,.0f} docs/s  (not counted)")
    grams_bytes = [[g.encode() for g in doc] for doc in grams]

    def report(name: str, run: Callable[[], object]) -> None:
        wall, cpu = best_of(args.repeats, run)
        results[name] = (len(peer_docs) / wall, len(peer_docs) / cpu)
        print(line(name, len(peer_docs), peer_mb, wall, cpu))

    try:
        from datasketch import MinHash
    except ImportError:
        print("datasketch: not installed", file=sys.stderr)
    else:

        def run_datasketch() -> None:
            for doc in grams_bytes:
                m = MinHash(num_perm=NUM_PERM, seed=SEED)
                m.update_batch(doc)
                m.digest()

        report("datasketch MinHash.update_batch", run_datasketch)

    try:
        from rensa import RMinHash
    except ImportError:
        print("rensa: not installed", file=sys.stderr)
    else:

        def run_rensa() -> None:
            for doc in grams:
                m = RMinHash(num_perm=NUM_PERM, seed=SEED)
                m.update(doc)
                m.digest()

        def run_rensa_bulk() -> None:
            RMinHash.digest_matrix_from_token_sets(grams, NUM_PERM, SEED)

        report("rensa RMinHash.update", run_rensa)
        report("rensa digest_matrix_from_token_sets", run_rensa_bulk)

    ours_wall, ours_cpu = results["curate minhash_batch"]
    for name, (rate_wall, rate_cpu) in results.items():
        if name != "curate minhash_batch":
            print(f"curate / {name:<29} {ours_wall / rate_wall:>6.2f}x wall   {ours_cpu / rate_cpu:>6.2f}x CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
