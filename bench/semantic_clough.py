"""SemDeDup on real text with labels: ``curate embed text`` then ``curate dedup semantic`` on the
Clough & Stevenson corpus (``../shared/data/clough-stevenson-plagiarism``: 5 source texts, 95
answers labelled cut / light / heavy / non), for several eps. Prints, per label, how many answers
end in their source's group (recall), how many independent answers (non) are grouped with
anything (false positives), and embedding throughput (texts/s per CPU second).

    python bench/semantic_clough.py [--out bench/out/semantic] [--clusters 5]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import SHARED

from curate.io.layout import rejects_dir

CLOUGH = SHARED / "clough-stevenson-plagiarism"
CATEGORIES = ("cut", "light", "heavy", "non")


def rows() -> list[dict[str, str]]:
    found = []
    with (CLOUGH / "file_information.csv").open(encoding="utf-8") as handle:
        for entry in csv.DictReader(handle):
            raw = (CLOUGH / entry["File"]).read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252")
            found.append({"id": entry["File"], "text": text, "task": entry["Task"], "category": entry["Category"]})
    return found


def curate(*args: str) -> dict:
    command = [sys.executable, "-m", "curate", *args, "--overwrite", "--json"]
    done = subprocess.run(command, check=True, capture_output=True)
    return json.loads(done.stdout)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/out/semantic"))
    parser.add_argument("--clusters", default="5")
    args = parser.parse_args()
    if not CLOUGH.is_dir():
        raise SystemExit(f"{CLOUGH}: the shared corpus is missing")
    data = rows()
    (args.out / "in").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(data), args.out / "in" / "part-0.parquet")
    started, cpu = time.perf_counter(), children_cpu()
    curate("embed", "text", str(args.out / "in"), str(args.out / "emb"))
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    rate = len(data) / cpu
    print(f"embed text: {len(data)} texts in {wall:.1f} s wall, {cpu:.1f} CPU s ({rate:.1f} texts per CPU s)")
    label = {r["id"]: (r["task"], r["category"]) for r in data}
    totals = {c: sum(v[1] == c for v in label.values()) for c in CATEGORIES}
    columns = " | ".join(f"{c} with source" for c in CATEGORIES)
    print(f"\n| eps | removed | {columns} | non grouped | mixed-task groups |")
    print("| --- | --- | " + " | ".join("---" for _ in CATEGORIES) + " | --- | --- |")
    for eps in ("0.02", "0.05", "0.1", "0.15", "0.2"):
        out = args.out / f"eps{eps}"
        report = curate("dedup", "semantic", str(args.out / "emb"), str(out), "--eps", eps, "--clusters", args.clusters)
        group = {r["id"]: r["id"] for r in pq.read_table(out).select(["id"]).to_pylist()}
        for r in pq.read_table(rejects_dir(out)).select(["id", "dup_of"]).to_pylist():
            group[r["id"]] = r["dup_of"]
        members: dict[str, list[str]] = {}
        for doc, leader in group.items():
            members.setdefault(leader, []).append(doc)
        size = {doc: len(members[leader]) for doc, leader in group.items()}
        mixed = sum(len({label[d][0] for d in docs}) > 1 for docs in members.values())
        found = {
            c: sum(group[d] == group[f"orig_task{label[d][0]}.txt"] for d in label if label[d][1] == c)
            for c in CATEGORIES
        }
        non_grouped = sum(size[d] > 1 for d in label if label[d][1] == "non")
        cells = " | ".join(f"{found[c]}/{totals[c]}" for c in CATEGORIES)
        print(f"| {eps} | {report['rows_removed']} | {cells} | {non_grouped}/{totals['non']} | {mixed} |")


if __name__ == "__main__":
    main()
