"""One night of new documents against a persistent index of H documents (``dedup minhash --index``),
against re-running dedup over the whole history plus the night.

    python bench/nightly_bench.py --history 100000,300000 --night 10000 [--out bench/out/nightly]

Synthetic documents (cheap to make: words drawn from a Zipf-like vocabulary, ~80 words each); 5 % of the
night are near-copies (2 % word substitutions) of history documents and 5 % of other night documents.
Per history size H: build the index (night 1 = H documents, timed too), then time night 2 with --index
and a single run over H + night. Wall time and peak RSS (``wait4``) of each curate process.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VOCAB = 20000
WORDS = 80
SHARD = 50000


def _texts(rng: np.random.Generator, count: int) -> list[str]:
    vocab = np.array([f"w{i}" for i in range(VOCAB)])
    picks = np.minimum(rng.zipf(1.3, size=(count, WORDS)) - 1, VOCAB - 1)
    picks = (picks + rng.integers(0, VOCAB, size=(count, 1))) % VOCAB  # every doc its own slice
    return [" ".join(row) for row in vocab[picks]]


def _mutate(rng: np.random.Generator, text: str) -> str:
    words = text.split(" ")
    for i in np.flatnonzero(rng.random(len(words)) < 0.02):
        words[i] = f"w{rng.integers(VOCAB)}"
    return " ".join(words)


def _write(directory: Path, ids: list[str], texts: list[str], night: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for s in range(0, len(ids), SHARD):
        table = pa.table(
            {
                "id": pa.array(ids[s : s + SHARD], pa.string()),
                "text": pa.array(texts[s : s + SHARD], pa.large_string()),
                "night": pa.array(np.full(len(ids[s : s + SHARD]), night, np.int64)),
            }
        )
        pq.write_table(table, directory / f"part-{s // SHARD:05d}.parquet")


def _hwm_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, from /proc: the process's own peak, which
    ``wait4``'s ru_maxrss is not (it keeps the forking parent's high-water mark across exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(cmd: list[str], log: Path) -> dict[str, float]:
    cpu_before = _cpu_children()
    start = time.perf_counter()
    peak = 0.0
    with open(log, "w") as err, open(log.with_suffix(".json"), "w") as out_file:
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err)
        while proc.poll() is None:
            peak = max(peak, _hwm_mb(proc.pid) or 0.0)
            time.sleep(0.02)
    wall = time.perf_counter() - start
    cpu = _cpu_children() - cpu_before
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")
    summary = json.loads(log.with_suffix(".json").read_text())
    # seconds: the whole process (interpreter start included); run_s: curate's own timing of the run.
    return {
        "seconds": round(wall, 2),
        "run_s": summary["seconds"],
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(peak, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", default="100000,300000")
    parser.add_argument("--night", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/nightly"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--no-full", action="store_true", help="Skip the full re-run (time and memory of the index runs only)."
    )
    args = parser.parse_args()
    curate = [sys.executable, "-m", "curate", "-q"]
    mode = ["--keep", "min:night", "--survivors", "keep-rule", "--workers", str(args.workers), "--json"]
    results = []
    for history in [int(h) for h in args.history.split(",")]:
        root = args.out / f"h{history}"
        shutil.rmtree(root, ignore_errors=True)
        rng = np.random.default_rng(history)
        t0 = time.perf_counter()
        hist_texts = _texts(rng, history)
        hist_ids = [f"h{i}" for i in range(history)]
        night_texts = _texts(rng, args.night)
        copies = args.night // 20
        for j, src in enumerate(rng.integers(0, history, copies)):
            night_texts[j] = _mutate(rng, hist_texts[src])
        for j, src in enumerate(rng.integers(copies * 2, args.night, copies)):
            night_texts[copies + j] = _mutate(rng, night_texts[src])
        night_ids = [f"n{i}" for i in range(args.night)]
        _write(root / "history", hist_ids, hist_texts, 1)
        _write(root / "tonight", night_ids, night_texts, 2)
        _write(root / "everything", hist_ids + night_ids, hist_texts + night_texts, 0)
        # One directory holding both nights: the night column from the id prefix.
        for path in sorted((root / "everything").glob("*.parquet")):
            table = pq.read_table(path)
            nights = np.where(np.char.startswith(np.array(table.column("id").to_pylist()), "h"), 1, 2)
            pq.write_table(table.set_column(2, "night", pa.array(nights.astype(np.int64))), path)
        made = time.perf_counter() - t0
        idx = root / "idx"
        build = _measure(
            [*curate, "dedup", "minhash", "--index", str(idx), *mode, str(root / "history"), str(root / "o1")],
            root / "build.log",
        )
        nightly = _measure(
            [*curate, "dedup", "minhash", "--index", str(idx), *mode, str(root / "tonight"), str(root / "o2")],
            root / "night.log",
        )
        full = (
            {"seconds": float("nan"), "run_s": float("nan"), "peak_rss_mb": float("nan")}
            if args.no_full
            else _measure(
                [*curate, "dedup", "minhash", *mode, str(root / "everything"), str(root / "full")], root / "full.log"
            )
        )
        index_mb = sum(p.stat().st_size for p in idx.rglob("*.parquet")) / 1e6
        row = {
            "history": history,
            "night": args.night,
            "generate_s": round(made, 1),
            "build_index": build,
            "nightly": nightly,
            "full_rerun": full,
            "index_mb": round(index_mb, 1),
            "speedup": round(full["seconds"] / nightly["seconds"], 2),
            "memory_ratio": round(full["peak_rss_mb"] / nightly["peak_rss_mb"], 2),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    print(
        "| history | night | nightly --index s (run s) | peak MB | full re-run s (run s) | peak MB "
        "| speedup | index MB | build s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['history']} | {r['night']} | {r['nightly']['seconds']} ({r['nightly']['run_s']}) | "
            f"{r['nightly']['peak_rss_mb']} | {r['full_rerun']['seconds']} ({r['full_rerun']['run_s']}) | "
            f"{r['full_rerun']['peak_rss_mb']} | {r['speedup']}x | {r['index_mb']} | "
            f"{r['build_index']['seconds']} |"
        )


if __name__ == "__main__":
    main()
