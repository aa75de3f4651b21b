"""The fused pipeline against the shell chain of the same commands, on the same data.

    python bench/pipeline_bench.py [--data DIR] [--docs 20000] [--runs 1] [--ray]

The recipe is ``examples/fineweb.yaml`` (gopher-quality → c4 → fineweb → dedup exact → dedup
minhash → pii). The data is ``examples/build_sample.py --docs N --seed 1`` (Gutenberg text from
../shared, documents of 1-3 KB with planted near-duplicates), built once into ``--data``.

For each variant (chain or fused; local with 1 and 2 workers; Ray local with 2) it reports the
wall time, CPU time, the peak RSS of the largest process, and the bytes read and written by
read()/write() calls (``rchar`` / ``wchar`` of /proc/self/io, summed over the curate
processes; every curate process is run through this file's ``_io`` wrapper, which records its
own counters at exit). On Ray, the workers' I/O happens in Ray's processes and is not counted
(so its rows say n/a). It checks that every variant's kept shards are byte-identical.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "fineweb.yaml"
CHAIN = [
    ["filter", "gopher-quality"],
    ["filter", "c4"],
    ["filter", "fineweb"],
    ["dedup", "exact"],
    ["dedup", "minhash", "--threshold", "0.8"],
    ["filter", "pii"],
]
READ = ["--text-column", "text", "--id-column", "id"]


def io_main(argv: list[str]) -> None:
    """``_io RECORD -- curate ARGS``: run curate in this process, append its I/O counters to RECORD."""
    record, args = argv[0], argv[2:]

    def dump() -> None:
        counters = {}
        with open("/proc/self/io", encoding="ascii") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                counters[key] = int(value)
        counters["max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open(record, "a", encoding="utf-8") as out:
            out.write(json.dumps(counters) + "\n")

    atexit.register(dump)
    from curate.cli import main

    main(args)


def curate(record: Path, *args: str) -> None:
    command = [sys.executable, __file__, "_io", str(record), "--", "-q", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {result.stderr[-800:]}")


def run_variant(kind: str, data: Path, work: Path, options: list[str]) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    record = work / "io.jsonl"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if kind == "chain":
        previous = data
        for number, command in enumerate(CHAIN, start=1):
            out = work / f"c{number}"
            curate(record, *command, str(previous), str(out), *READ, *options)
            previous = out
        final = previous
    else:
        final = work / "fused"
        curate(record, "run", str(RECIPE), "--input", str(data), "--output", str(final), *options)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "processes": len(rows),
        "peak_rss_mib": max(r["max_rss_kib"] for r in rows) / 1024,
        "read_mb": sum(r["rchar"] for r in rows) / 1e6,
        "written_mb": sum(r["wchar"] for r in rows) / 1e6,
        "published_mb": sum(p.stat().st_size for p in work.rglob("*.parquet")) / 1e6,
        "kept": {p.name: p.read_bytes() for p in sorted(final.glob("part-*.parquet"))},
    }


def startup_io(work: Path) -> dict[str, float]:
    """What one curate process reads and writes just to start (imports), to subtract per process."""
    record = work / "startup.jsonl"
    record.unlink(missing_ok=True)
    curate(record, "stages")
    row = json.loads(record.read_text().splitlines()[0])
    return {"read_mb": row["rchar"] / 1e6, "written_mb": row["wchar"] / 1e6}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_io":
        io_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO / "bench" / "data" / "pipeline")
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-pipeline-bench"))
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--ray", action="store_true", help="Also run both on a local Ray instance.")
    args = parser.parse_args()
    if not any(args.data.glob("part-*.parquet")):
        build = [sys.executable, str(REPO / "examples" / "build_sample.py"), "--out", str(args.data)]
        subprocess.run([*build, "--docs", str(args.docs), "--seed", "1"], check=True)
    size = sum(p.stat().st_size for p in args.data.glob("part-*.parquet")) / 1e6
    print(f"data: {args.data} ({size:.1f} MB of Parquet, {args.docs} documents), {os.cpu_count()} cores")
    variants = [("chain", "local", 1), ("fused", "local", 1), ("chain", "local", 2), ("fused", "local", 2)]
    if args.ray:
        variants += [("chain", "ray", 2), ("fused", "ray", 2)]
    args.work.mkdir(parents=True, exist_ok=True)
    base = startup_io(args.work)
    print(f"start-up of one curate process: {base['read_mb']:.1f} MB read, {base['written_mb']:.2f} MB written")
    header = f"{'variant':<22}{'wall s':>8}{'cpu s':>8}{'procs':>6}{'peak MiB':>9}"
    print(header + f"{'read MB':>9}{'written MB':>11}{'parquet MB':>11}")
    reference = None
    for kind, executor, workers in variants:
        options = ["--executor", executor, "--workers", str(workers)]
        best: dict[str, Any] | None = None
        for _ in range(args.runs):
            result = run_variant(kind, args.data, args.work / f"{kind}-{executor}-{workers}", options)
            if best is None or result["wall_s"] < best["wall_s"]:
                best = result
        assert best is not None
        if reference is None:
            reference = best["kept"]
        same = "same bytes" if best["kept"] == reference else "DIFFERENT OUTPUT"
        io = executor == "local"
        read = f"{best['read_mb']:>9.1f}" if io else f"{'n/a':>9}"
        written = f"{best['written_mb']:>11.1f}" if io else f"{'n/a':>11}"
        print(
            f"{kind + ' ' + executor + ' w' + str(workers):<22}{best['wall_s']:>8.2f}{best['cpu_s']:>8.2f}"
            f"{best['processes']:>6}{best['peak_rss_mib']:>9.0f}{read}{written}{best['published_mb']:>11.1f}  {same}"
        )


if __name__ == "__main__":
    main()
