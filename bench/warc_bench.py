"""``curate ingest warc``: extraction quality of every extractor, and reading / extraction speed.

Quality, on two corpora with ground truth (in ``../shared/data``):

* ``article-extraction-benchmark`` (Zyte, 181 pages, gold ``articleBody``): precision, recall
  and F1 as that benchmark's ``evaluate.py`` computes them: text split into ``\\w+`` tokens,
  per page TP / FP / FN over the multiset of token n-grams (n = 4, its "shingles"; also
  n = 1, plain tokens), precision and recall per page (1 when both sides are empty, 0 when
  the extractor returns nothing), averaged over pages, and F1 from the two averages.
* ``trafilatura-eval-html`` (1,032 multilingual pages): the share of must-contain snippets
  found (recall), of must-not-contain snippets absent, and precision / F1 over snippets, as
  trafilatura's own ``comparison.py`` counts them (a snippet is found if it is a substring).

Speed, per core (per CPU second of one process, one thread: the machine is shared, so wall
time also counts waiting): pages/s and MB/s of HTML per extractor on the pages above; reading
alone with warcio and with fastwarc; ``curate ingest warc --workers 1`` end to end (start-up
included) on a per-record-gzip WARC of all those pages; and datatrove's ``WarcReader`` (+
``Trafilatura``) on the same WARC when ``bench/.venv-datatrove`` exists (``datatrove_warc.py``).

    python bench/warc_bench.py [--quick] [--out bench/out/warc]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.shared_data import SHARED
from curate.ingest.decode import decode_html
from curate.ingest.extractors import load_extractor

ARTICLES = SHARED / "article-extraction-benchmark"
TRAFILATURA = SHARED / "trafilatura-eval-html"
_TOKEN = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


def _all_text() -> Callable[[str], str]:
    """A baseline, not offered: every text node of the page (resiliparse, no main-content rule)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return lambda html: str(extract_plain_text(HTMLTree.parse(html), main_content=False))


EXTRACTORS: dict[str, Callable[[], Callable[[str], str]]] = {
    "resiliparse": lambda: load_extractor("resiliparse"),
    "trafilatura": lambda: load_extractor("trafilatura"),
    "(all text, baseline)": _all_text,
}


def ngrams(text: str, n: int) -> Counter[str]:
    tokens = _TOKEN.findall(text or "")
    return Counter(" ".join(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def tp_fp_fn(gold: str, predicted: str, n: int) -> tuple[int, int, int]:
    truth, pred = ngrams(gold, n), ngrams(predicted, n)
    tp = sum((truth & pred).values())
    return tp, sum(pred.values()) - tp, sum(truth.values()) - tp


def precision(tp: int, fp: int, fn: int) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def recall(tp: int, fp: int, fn: int) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def load_articles() -> list[tuple[str, bytes]]:
    truth = json.loads((ARTICLES / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        pages.append((truth[key]["articleBody"], gzip.decompress((ARTICLES / "html" / f"{key}.html.gz").read_bytes())))
    return pages


def load_trafilatura_eval() -> list[tuple[dict[str, list[str]], bytes]]:
    entries = json.loads((TRAFILATURA / "evaldata.json").read_text(encoding="utf-8"))
    files: dict[str, bytes] = {}
    with tarfile.open(TRAFILATURA / "trafilatura-tests-eval-and-cache-html.tar.gz") as archive:
        for member in archive:
            if member.isfile():
                handle = archive.extractfile(member)
                assert handle is not None
                files[Path(member.name).name] = handle.read()
    return [(entry, files[entry["file"]]) for entry in entries.values() if entry.get("file") in files]


def timed_extract(extract: Callable[[str], str], pages: list[bytes]) -> tuple[list[str], float, int]:
    """Decode (as curate does) and extract each page; the seconds spent and the bytes seen."""
    texts = []
    started = time.process_time()
    for raw in pages:
        decoded = decode_html(raw, None)
        texts.append(extract(decoded.text) if decoded.text else "")
    return texts, time.process_time() - started, sum(len(p) for p in pages)


def quality(quick: bool) -> list[dict[str, object]]:
    articles = load_articles()
    evaluation = load_trafilatura_eval()
    if quick:
        articles, evaluation = articles[:40], evaluation[:150]
    rows = []
    for name, make in EXTRACTORS.items():
        extract = make()
        texts, seconds_a, bytes_a = timed_extract(extract, [html for _, html in articles])
        row: dict[str, object] = {"extractor": name}
        for n in (1, 4):
            counts = [tp_fp_fn(gold, text, n) for (gold, _), text in zip(articles, texts, strict=True)]
            p = statistics.mean(precision(*c) for c in counts)
            r = statistics.mean(recall(*c) for c in counts)
            row[f"zyte_n{n}"] = (p, r, f1(p, r))
        found = missed = leaked = absent = 0
        eval_texts, seconds_t, bytes_t = timed_extract(extract, [html for _, html in evaluation])
        for (entry, _), text in zip(evaluation, eval_texts, strict=True):
            for snippet in entry.get("with", []):
                found, missed = (found + 1, missed) if snippet in text else (found, missed + 1)
            for snippet in entry.get("without", []):
                leaked, absent = (leaked + 1, absent) if snippet in text else (leaked, absent + 1)
        p = found / max(1, found + leaked)
        r = found / max(1, found + missed)
        row["trafilatura_eval"] = (p, r, f1(p, r), (found + absent) / max(1, found + missed + leaked + absent))
        pages = len(articles) + len(evaluation)
        seconds = seconds_a + seconds_t
        row["pages_per_s"] = pages / seconds
        row["mb_per_s"] = (bytes_a + bytes_t) / seconds / 1e6
        rows.append(row)
        print(row, flush=True)
    return rows


def warc_record(number: int, url: str, body: bytes) -> bytes:
    http = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    headers = (
        f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{number:012d}>\r\n"
        f"WARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Target-URI: {url}\r\n"
        f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n"
    )
    return gzip.compress(headers.encode() + http + b"\r\n\r\n", compresslevel=6)


def build_warc(path: Path, pages: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for number, body in enumerate(pages):
            out.write(warc_record(number, f"http://bench.example/{number}", body))


def read_warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    count = 0
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type == "response":
                record.content_stream().read()
                count += 1
    return count


def read_fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    count = 0
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, record_types=WarcRecordType.response):
            record.reader.read()
            count += 1
    return count


DATATROVE_PYTHON = Path(__file__).resolve().parent / ".venv-datatrove" / "bin" / "python"


def _child(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _speed(what: str, pages: int, html_bytes: int, wall: float, cpu: float) -> dict[str, object]:
    """Per core = per CPU second (the machine is shared: wall time includes waiting)."""
    return {
        "what": what,
        "pages_per_s": pages / cpu,
        "mb_per_s": html_bytes / cpu / 1e6,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def reading(warc: Path, html_bytes: int, pages: int) -> list[dict[str, object]]:
    rows = []
    for name, read in (("warcio (curate's reader)", read_warcio), ("fastwarc", read_fastwarc)):
        started = time.process_time()
        count = read(warc)
        seconds = time.process_time() - started
        assert count == pages, (name, count, pages)
        rows.append(_speed(f"read only: {name}", pages, html_bytes, seconds, seconds))
    for extractor in ("resiliparse", "trafilatura"):
        out = warc.parent / f"out-{extractor}"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, "-m", "curate", "-q", "ingest", "warc", str(warc), str(out)]
        command += ["--extractor", extractor, "--workers", "1", "--json"]
        wall, cpu = _child(command)
        rows.append(_speed(f"curate ingest warc --extractor {extractor} --workers 1", pages, html_bytes, wall, cpu))
    if DATATROVE_PYTHON.exists():
        done = subprocess.run(
            [
                str(DATATROVE_PYTHON),
                str(Path(__file__).with_name("datatrove_warc.py")),
                "--warc",
                str(warc),
                "--out",
                str(warc.parent / "datatrove"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(f"datatrove failed: {done.stderr[-2000:]}")
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                item = json.loads(line)
                rows.append(_speed(item["what"], pages, html_bytes, item["seconds"], item["cpu_seconds"]))
    else:
        print(f"(datatrove: no {DATATROVE_PYTHON}; see bench/README.md)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a subset of the pages (a smoke run)")
    parser.add_argument("--speed-only", action="store_true", help="skip the quality part")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "warc")
    args = parser.parse_args()
    results = {"quality": [] if args.speed_only else quality(args.quick)}
    pages = [html for _, html in load_trafilatura_eval()] + [html for _, html in load_articles()]
    if args.quick:
        pages = pages[:200]
    warc = args.out / "bench.warc.gz"
    build_warc(warc, pages)
    html_bytes = sum(len(p) for p in pages)
    print(f"WARC: {len(pages)} pages, {html_bytes / 1e6:.1f} MB of HTML, {warc.stat().st_size / 1e6:.1f} MB gzipped")
    results["speed"] = reading(warc, html_bytes, len(pages))
    print()
    print(
        "| extractor | Zyte P / R / F1 (tokens) | Zyte P / R / F1 (4-gram shingles) "
        "| trafilatura-eval P / R / F1 / acc | pages/s | MB/s |"
    )
    print("|---|---|---|---|---|---|")
    for row in results["quality"]:
        z1, z4, te = row["zyte_n1"], row["zyte_n4"], row["trafilatura_eval"]
        cells = [
            " / ".join(f"{v:.3f}" for v in z1),
            " / ".join(f"{v:.3f}" for v in z4),
            " / ".join(f"{v:.3f}" for v in te),
            f"{row['pages_per_s']:.0f}",
            f"{row['mb_per_s']:.1f}",
        ]
        print(f"| {row['extractor']} | " + " | ".join(cells) + " |")
    print()
    print("| per core (per CPU second) | pages/s | MB/s of HTML | CPU s | wall s |")
    print("|---|---|---|---|---|")
    for row in results["speed"]:
        print(
            f"| {row['what']} | {row['pages_per_s']:.0f} | {row['mb_per_s']:.1f} "
            f"| {row['cpu_s']:.1f} | {row['wall_s']:.1f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
