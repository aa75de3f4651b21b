"""datatrove's ``WarcReader`` (+ ``Trafilatura``) on the WARC ``warc_bench.py`` builds, one task, one worker.

Runs inside ``bench/.venv-datatrove`` (datatrove is not a curate dependency)::

    bench/.venv-datatrove/bin/python bench/datatrove_warc.py --warc bench/out/warc/bench.warc.gz --out DIR

Prints one JSON line per configuration: documents written, wall and CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.readers import WarcReader
from datatrove.pipeline.writers import JsonlWriter


def run(name: str, steps: list[object], out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    cpu = _cpu()
    LocalPipelineExecutor(pipeline=steps, tasks=1, workers=1, logging_dir=str(out / "logs")).run()
    seconds = time.monotonic() - started
    cpu = _cpu() - cpu
    written = 0
    for path in (out / "docs").glob("*.jsonl.gz"):
        import gzip

        with gzip.open(path, "rt") as handle:
            written += sum(1 for _ in handle)
    print(json.dumps({"what": name, "documents": written, "seconds": seconds, "cpu_seconds": cpu}), flush=True)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (datatrove may fork workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warc", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    folder, pattern = str(args.warc.parent), args.warc.name
    run(
        "datatrove WarcReader",
        [WarcReader(folder, glob_pattern=pattern), JsonlWriter(str(args.out / "read" / "docs"))],
        args.out / "read",
    )
    run(
        "datatrove WarcReader + Trafilatura(favour_precision=True)",
        [
            WarcReader(folder, glob_pattern=pattern),
            Trafilatura(favour_precision=True),
            JsonlWriter(str(args.out / "trafilatura" / "docs")),
        ],
        args.out / "trafilatura",
    )


if __name__ == "__main__":
    main()
