"""datatrove's side of ``bench/classify_bench.py``; runs inside ``bench/.venv-datatrove`` (datatrove is not
a curate dependency): ``FastTextClassifierFilter`` on the same documents with the same model file, one
document at a time (its normal mode), the text already in memory (no I/O timed). Its ``LanguageFilter``
cannot run offline: it downloads lid.176.bin from its own URL and takes no model path.

    bench/.venv-datatrove/bin/python bench/datatrove_classify.py SHARDS MODEL
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import FastTextClassifierFilter


def main() -> None:
    shards, model = Path(sys.argv[1]), sys.argv[2]
    texts = [t for f in sorted(shards.glob("part-*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    classifier = FastTextClassifierFilter(model, keep_labels=("en", 0.0), newline_replacement=" ")
    classifier.model  # noqa: B018 (loads the model outside the timing)
    start, cpu = time.perf_counter(), time.process_time()
    for doc in docs:
        classifier.filter(doc)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    print(
        f"  {'datatrove FastTextClassifierFilter':<34} {len(docs) / seconds:>9.0f} docs/s "
        f"{megabytes / seconds:>7.2f} MB/s  ({seconds:.3f} s)  | per CPU s: {len(docs) / cpu:>7.0f} docs "
        f"{megabytes / cpu:>6.2f} MB  ({cpu:.3f} CPU s)"
    )
    print("  datatrove LanguageFilter: not run (downloads lid.176.bin from its URL; no local model path)")


if __name__ == "__main__":
    main()
