"""Train the small language-ID model that ``examples/fineweb-lid.yaml`` uses (model files are not shipped).

It reads lingua's test sentences (``lingua-langid-testdata`` of the shared corpora: 1,000 web sentences in
each of 12 languages), writes them as a Parquet dataset with a ``language`` column, and runs
``curate classify train`` on it: 16 dimensions, character 2-4-grams, 25 epochs, seeded; about ten seconds,
a 13 MB model and ``lid.bin.report.json`` with per-language precision, recall and F1 on the held-out
rows. The shared corpora are looked up at ``$CURATE_SHARED_DATA``, else ``../shared/data`` beside the
checkout; nothing is downloaded. The bundled sample is English only, so it cannot train a language model.

    python examples/train_lid.py                 # writes examples/models/lid.bin
    curate run examples/fineweb-lid.yaml --output /tmp/curate-fineweb-lid
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CHECKOUT = Path(__file__).resolve().parents[1]
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "fi", "tr", "ru"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CHECKOUT / "examples" / "models" / "lid.bin")
    parser.add_argument("--shared", type=Path, default=None, help="The shared corpora directory.")
    args = parser.parse_args()
    shared = args.shared or Path(os.environ.get("CURATE_SHARED_DATA") or CHECKOUT.parent / "shared" / "data")
    sentences = shared / "lingua-langid-testdata" / "sentences"
    if not sentences.is_dir():
        sys.exit(f"train_lid.py: no {sentences}: give --shared DIR (the shared corpora)")
    rows = []
    for language in LANGUAGES:
        lines = (sentences / f"{language}.txt").read_text(encoding="utf-8").splitlines()
        rows += [{"id": f"{language}-{i}", "text": line, "language": language} for i, line in enumerate(lines)]
    data = args.out.parent / "lingua-sentences"
    data.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), data / "part-0.parquet")
    command = [sys.executable, "-m", "curate", "classify", "train", str(data), str(args.out)]
    command += ["--label-column", "language", "--dim", "16", "--minn", "2", "--maxn", "4", "--bucket", "200000"]
    command += ["--epoch", "25", "--lr", "0.5", "--seed", "1"]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
