"""Language ID: a small fastText model trained by ``curate classify train`` on lingua's test sentences,
evaluated on UDHR paragraphs (another source), beside the published lid.176 on the same paragraphs.

Languages: the 12 of ``tests/corpus.py`` (``LINGUA_TO_UDHR``: lingua's ISO 639-1 file names, the UDHR
file of each). A UDHR line of 40 characters or more is one test document. lid.176 (``--lid176 PATH``,
the published ``lid.176.ftz`` or ``.bin``; never downloaded) is scored twice: open set (its top label
among all 176, as a user running it sees it) and closed set (the most probable of the 12 languages,
the question our 12-label model answers). Per language: accuracy (recall), precision and F1.

    python bench/classify_eval.py [--lid176 lid.176.ftz] [--out bench/out/classify] [--dim 16 --epoch 25]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.shared_data import SHARED
from tests.corpus import LINGUA_TO_UDHR, lingua_rows, udhr_paragraphs


def scores(truth: list[str], found: list[str], languages: list[str]) -> dict[str, dict[str, float]]:
    actual, predicted = np.array(truth), np.array(found)
    table = {}
    for language in languages:
        tp = int(((predicted == language) & (actual == language)).sum())
        support = int((actual == language).sum())
        claimed = int((predicted == language).sum())
        recall = tp / support if support else 0.0
        precision = tp / claimed if claimed else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[language] = {"accuracy": recall, "precision": precision, "f1": f1, "support": support}
    return table


def lid176_labels(path: Path, texts: list[str], languages: list[str]) -> tuple[list[str], list[str]]:
    import fasttext

    model = fasttext.load_model(str(path))
    lines = [" ".join(t.split()) for t in texts]
    labels, probabilities = model.predict(lines, k=len(model.labels))
    open_set, closed_set = [], []
    for row_labels, row_probabilities in zip(labels, probabilities, strict=True):
        names = [label.removeprefix("__label__") for label in row_labels]
        open_set.append(names[0])
        by_name = dict(zip(names, row_probabilities, strict=True))
        closed_set.append(max(languages, key=lambda language: by_name.get(language, 0.0)))
    return open_set, closed_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lid176", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/out/classify"))
    parser.add_argument("--dim", default="16")
    parser.add_argument("--epoch", default="25")
    args = parser.parse_args()
    languages = list(LINGUA_TO_UDHR)
    args.out.mkdir(parents=True, exist_ok=True)
    train = args.out / "lingua"
    train.mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(lingua_rows(SHARED, languages)), train / "part-0.parquet")
    model = args.out / "lid-lingua.bin"
    curate = [sys.executable, "-m", "curate"]
    subprocess.run(
        [*curate, "classify", "train", str(train), str(model), "--label-column", "language", "--dim", args.dim,
         "--minn", "2", "--maxn", "4", "--bucket", "200000", "--epoch", args.epoch, "--lr", "0.5", "--seed", "1",
         "--json"],
        check=True, capture_output=True,
    )  # fmt: skip
    rows = [
        {"id": f"{lang}-{i}", "text": text, "truth": lang}
        for lang, code in LINGUA_TO_UDHR.items()
        for i, text in enumerate(udhr_paragraphs(SHARED, code))
    ]
    test = args.out / "udhr"
    test.mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), test / "part-0.parquet")
    scored = args.out / "udhr-scored"
    subprocess.run(
        [*curate, "classify", "score", str(test), str(scored), "--model", str(model), "--overwrite", "--json"],
        check=True, capture_output=True,
    )  # fmt: skip
    table = pq.read_table(scored)
    truth = table.column("truth").to_pylist()
    ours = table.column("classifier_label").to_pylist()
    results = {"ours (lingua-trained, 12 labels)": scores(truth, ours, languages)}
    if args.lid176 is not None:
        texts = table.column("text").to_pylist()
        open_set, closed_set = lid176_labels(args.lid176, texts, languages)
        results["lid.176 open set (176 labels)"] = scores(truth, open_set, languages)
        results["lid.176 closed set (these 12)"] = scores(truth, closed_set, languages)
    print(f"UDHR paragraphs: {len(rows)} in {len(languages)} languages ({len(rows) // len(languages)} each)")
    header = "language  " + "  ".join(f"{name[:30]:>30}" for name in results)
    print(header)
    for language in languages:
        cells = [f"acc {r[language]['accuracy']:.3f} F1 {r[language]['f1']:.3f}" for r in results.values()]
        print(f"{language:<9} " + "  ".join(f"{c:>30}" for c in cells))
    macro = [
        f"acc {np.mean([v['accuracy'] for v in r.values()]):.3f} F1 {np.mean([v['f1'] for v in r.values()]):.3f}"
        for r in results.values()
    ]
    print(f"{'macro':<9} " + "  ".join(f"{c:>30}" for c in macro))
    (args.out / "classify_eval.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
