"""Scoring throughput of ``curate classify score`` against fastText itself, on the same documents, one run.

Documents: ~3,000-character passages of the Gutenberg books in ``gutenberg-top-authors-subset`` (``--docs``
of them, in 4 Parquet shards). Model: a small language-ID model (dim 16, character 2-4-grams) trained here
by ``curate classify train`` on lingua's sentences. Measured, each as docs/s and text MB/s (UTF-8):

- ``bare predict``: fastText's batch call (``model.f.multilinePredict``) on pre-loaded, pre-cleaned strings
  (newlines already replaced): the C++ inference alone, the limit the issue sets for this model;
- ``curate kernel``: curate's own prediction (``curate._native.FastTextModel``, Rust, the same numbers as
  fastText's) on the pre-loaded Arrow column, without Parquet I/O;
- ``python loop``: ``model.predict(text)`` once per document, as a plain script does;
- ``two threads``: two threads each running the bare batch call on the same documents: >1x only if
  fastText releases the GIL (it does not; curate's kernel does);
- ``curate``: ``curate classify score`` end to end (Parquet read, prepare, predict, write), the manifest's
  run time (without interpreter start-up), with 1 worker, and 2 workers as threads and as processes;
  also per CPU second of the whole process (start-up included), which a loaded machine does not skew;
- datatrove's ``LanguageFilter`` / ``FastTextClassifierFilter``, when ``bench/.venv-datatrove`` has it.

Rates per core are the 1-worker figures; the 2-worker ratio is against 1x bare predict. The machine is
shared: the load average is printed before and after; repeat with ``--repeat``.

    python bench/classify_bench.py [--docs 6000] [--repeat 3] [--out bench/out/classify]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.shared_data import SHARED
from curate.classify.model import load_model, predict
from curate.classify.model_file import inspect_model
from tests.corpus import LINGUA_TO_UDHR, chunks, lingua_rows

BENCH = Path(__file__).resolve().parent
VENV_PYTHON = BENCH / ".venv-datatrove" / "bin" / "python"


def documents(count: int) -> list[str]:
    found: list[str] = []
    for book in sorted((SHARED / "gutenberg-top-authors-subset").rglob("*.txt")):
        found += chunks(book.read_text(encoding="utf-8", errors="replace"), 3000)[5:]
        if len(found) >= count:
            break
    return found[:count]


def rate(
    label: str,
    seconds: float,
    docs: int,
    megabytes: float,
    results: dict[str, dict[str, float]],
    cpu: float | None = None,
) -> None:
    results[label] = {"seconds": seconds, "docs_per_s": docs / seconds, "mb_per_s": megabytes / seconds}
    line = f"  {label:<34} {docs / seconds:>9.0f} docs/s {megabytes / seconds:>7.2f} MB/s  ({seconds:.3f} s)"
    if cpu:
        results[label] |= {"cpu_seconds": cpu, "docs_per_cpu_s": docs / cpu, "mb_per_cpu_s": megabytes / cpu}
        line += f"  | per CPU s: {docs / cpu:>7.0f} docs {megabytes / cpu:>6.2f} MB  ({cpu:.3f} CPU s)"
    print(line)


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (every thread of this process) of ``call()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def curate_run(shards: Path, model: Path, out: Path, *extra: str) -> tuple[float, float]:
    """The run's own time (the manifest's, without start-up) and the CPU seconds of the whole process."""
    command = [sys.executable, "-m", "curate", "-q", "classify", "score", str(shards), str(out), "--model", str(model)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([*command, "--overwrite", *extra], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    from curate.io.layout import manifest_path

    return float(json.loads(manifest_path(out).read_text())["seconds"]), cpu


def both(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of ``call()`` run by two threads at once."""
    workers = [threading.Thread(target=call) for _ in "ab"]

    def run() -> None:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    return timed(run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "classify")
    args = parser.parse_args()
    import fasttext

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    train = out / "lingua"
    train.mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(lingua_rows(SHARED, list(LINGUA_TO_UDHR))), train / "part-0.parquet")
    model = out / "lid.bin"
    subprocess.run(
        [sys.executable, "-m", "curate", "classify", "train", str(train), str(model), "--label-column", "language",
         "--dim", "16", "--minn", "2", "--maxn", "4", "--bucket", "200000", "--epoch", "5", "--json"],
        check=True, capture_output=True,
    )  # fmt: skip
    texts = documents(args.docs)
    shards = out / "docs"
    shards.mkdir(exist_ok=True)
    for shard in range(4):
        rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts) if i % 4 == shard]
        pq.write_table(pa.Table.from_pylist(rows), shards / f"part-{shard}.parquet")
    n = len(texts)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{n} documents, {megabytes:.1f} MB, mean {megabytes * 1e6 / n:.0f} bytes; model {model.stat().st_size} B")
    loaded = fasttext.load_model(str(model))
    lines = [" ".join(t.split()) + "\n" for t in texts]
    native = load_model(str(model), inspect_model(model).sha256)
    column = pa.array(texts, pa.large_string())
    print(f"load average before: {os.getloadavg()}")
    results: dict[str, dict[str, float]] = {}
    for attempt in range(args.repeat):
        print(f"run {attempt + 1}:")
        wall, cpu = timed(lambda: loaded.f.multilinePredict(lines, 1, 0.0, "strict"))
        rate("bare predict (1 thread)", wall, n, megabytes, results, cpu)
        wall, cpu = timed(lambda: predict(native, column, k=1, max_chars=0))
        rate("curate kernel (1 thread)", wall, n, megabytes, results, cpu)
        wall, cpu = timed(lambda: [loaded.predict(text.replace("\n", " ")) for text in texts])
        rate("python loop, predict per doc", wall, n, megabytes, results, cpu)
        wall, cpu = both(lambda: loaded.f.multilinePredict(lines, 1, 0.0, "strict"))
        rate("two threads, bare predict x2", wall, 2 * n, 2 * megabytes, results, cpu)
        wall, cpu = both(lambda: predict(native, column, k=1, max_chars=0))
        rate("two threads, curate kernel x2", wall, 2 * n, 2 * megabytes, results, cpu)
        seconds, cpu = curate_run(shards, model, out / "o1", "--workers", "1")
        rate("curate score, 1 worker", seconds, n, megabytes, results, cpu)
        for pool in ("thread", "process"):
            seconds, cpu = curate_run(shards, model, out / f"o2{pool}", "--workers", "2", "--pool", pool)
            rate(f"curate score, 2 workers ({pool})", seconds, n, megabytes, results, cpu)
        bare = results["bare predict (1 thread)"]
        single = results["curate score, 1 worker"]
        print(f"  curate 1 worker / bare predict: {single['docs_per_s'] / bare['docs_per_s']:.2f}x wall, "
              f"{single['docs_per_cpu_s'] / bare['docs_per_cpu_s']:.2f}x per CPU second")  # fmt: skip
        for pool in ("thread", "process"):
            ratio = results[f"curate score, 2 workers ({pool})"]["docs_per_s"] / bare["docs_per_s"]
            print(f"  curate 2 workers ({pool}) / bare: {ratio:.2f}x wall")
        if VENV_PYTHON.exists():
            found = subprocess.run(
                [str(VENV_PYTHON), str(BENCH / "datatrove_classify.py"), str(shards), str(model)],
                capture_output=True, text=True,
            )  # fmt: skip
            print(found.stdout.strip() or f"  datatrove: failed ({found.stderr.strip().splitlines()[-1:]})")
        else:
            print("  datatrove: not installed (bench/.venv-datatrove missing)")
    print(f"load average after: {os.getloadavg()}")
    (out / "classify_bench.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
