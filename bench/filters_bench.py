"""Heuristic filters, curate against datatrove: throughput and per-document keep/drop agreement.

Rule sets: gopher-quality, gopher-repetition, c4, fineweb (each only if ``curate filter <name>`` exists). Both
tools judge the same documents in one run:

- ``cc``: the 697 Common Crawl documents of ``dolma-cc-samples`` (CC-MAIN-2019, plain-text extractions);
- ``articles-gold``: the 181 human-verified article bodies of ``article-extraction-benchmark``;
- ``articles-html`` and ``trafilatura-eval``: the main text that trafilatura extracts from the raw HTML of
  the same 181 pages and of the 1,032 multilingual pages of ``trafilatura-eval-html`` (boilerplate and all);
- ``gutenberg``: chapters of distinct Project Gutenberg books, for volume (``--gutenberg-mb``).

curate runs in this process (``evaluate`` on one Arrow array per set, as ``curate filter`` does per batch);
datatrove runs in ``bench/.venv-datatrove`` through ``bench/datatrove_filters.py``, one document at a time
(its normal mode). Throughput is text MB (UTF-8) per CPU second of the filtering alone (no I/O), i.e. MB/s
per core: both are single-threaded here. Agreement is the fraction of documents on which both keep or both
drop. The Gopher rule sets are compared twice: with datatrove given curate's words (``str.split()``, a custom
``WordTokenizer``), and with datatrove's default English tokenizer (spaCy). C4 and FineWeb use datatrove's
defaults (curate's versions emulate spaCy's sentence and token counts); curate's C4 runs with its bad-word
rule off, as datatrove's ``C4QualityFilter`` has none.

    python bench/filters_bench.py [--data bench/data/filters] [--out bench/out/filters] [--gutenberg-mb 12]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from shared_data import SHARED

BENCH = Path(__file__).resolve().parent
VENV_PYTHON = BENCH / ".venv-datatrove" / "bin" / "python"
RULE_SETS = ("gopher-quality", "gopher-repetition", "c4", "fineweb")
SETS = ("cc", "articles-gold", "articles-html", "trafilatura-eval", "gutenberg")


# -- the documents -----------------------------------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _extracted(name: str, source: Path, data: Path) -> list[dict]:
    """trafilatura's text of the HTML pages under ``source``, extracted once in the datatrove venv."""
    cache = data / f"{name}.jsonl"
    if not cache.exists():
        print(f"extracting the main text of {source} with trafilatura (once) ...", file=sys.stderr)
        partial = cache.with_suffix(".tmp")
        subprocess.run(
            [str(VENV_PYTHON), str(BENCH / "datatrove_filters.py"), "extract", str(source), str(partial)], check=True
        )
        partial.rename(cache)
    return _jsonl(cache)


def gutenberg_chapters(root: Path, megabytes: float) -> list[dict]:
    """Chapters (>= 500 words) of distinct books (one per content hash), licence header and footer removed,
    taken book by book across the sorted list until ``megabytes`` of text."""
    manifest = (root / "MANIFEST.tsv").read_text("utf-8").splitlines()[1:]
    books = {}
    for line in manifest:
        _, local, sha, _ = line.split("\t")
        books.setdefault(sha, local)
    paths = sorted(books.values())
    step = max(1, len(paths) // 40)
    chapters: list[dict] = []
    size = 0
    for local in paths[::step] + [p for i, p in enumerate(paths) if i % step]:
        text = (root / local).read_text("utf-8", errors="replace")
        start = re.search(r"\*\*\* ?START OF.*?\n", text)
        end = re.search(r"\*\*\* ?END OF", text)
        text = text[start.end() if start else 0 : end.start() if end else len(text)]
        parts = re.split(r"\n\s*(?:CHAPTER|Chapter|BOOK|Book)\s+[IVXLC\d]+\b[^\n]*\n", text)
        for i, part in enumerate(p.strip() for p in parts):
            if len(part.split()) >= 500:
                chapters.append({"id": f"{local}#{i}", "text": part})
                size += len(part.encode())
                if size >= megabytes * 1e6:
                    return chapters
    return chapters


def build(data: Path, gutenberg_mb: float) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"docs-gutenberg{gutenberg_mb:g}.parquet"
    if path.exists():
        return path
    cc = _jsonl(SHARED / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz")
    truth = json.loads((SHARED / "article-extraction-benchmark" / "ground-truth.json").read_text("utf-8"))
    sets = {
        "cc": [{"id": d["id"], "text": d["text"]} for d in cc],
        "articles-gold": [{"id": k, "text": v["articleBody"]} for k, v in sorted(truth.items())],
        "articles-html": _extracted("articles-html", SHARED / "article-extraction-benchmark" / "html", data),
        "trafilatura-eval": _extracted(
            "trafilatura-eval",
            SHARED / "trafilatura-eval-html" / "trafilatura-tests-eval-and-cache-html.tar.gz",
            data,
        ),
        "gutenberg": gutenberg_chapters(SHARED / "gutenberg-top-authors-subset", gutenberg_mb),
    }
    rows = [{"id": f"{name}/{d['id']}", "set": name, "text": d["text"]} for name in SETS for d in sets[name]]
    schema = pa.schema([("id", pa.string()), ("set", pa.string()), ("text", pa.large_string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


# -- running both tools ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    keep: np.ndarray
    reasons: list[str | None]
    seconds: dict[str, float]  # CPU seconds per set


def curate_stages() -> dict[str, object]:
    from curate.filters.registry import load_all

    registered = load_all()
    stages: dict[str, object] = {}
    for name in RULE_SETS:
        if name in registered:
            # datatrove's C4QualityFilter has no bad-word rule (that is its C4BadWordsFilter).
            stages[name] = registered[name](bad_words=False) if name == "c4" else registered[name]()
    return stages


def run_curate(stage: object, table: pa.Table, repeat: int) -> Outcome:
    sets = table.column("set").to_pylist()
    keep = np.zeros(table.num_rows, dtype=bool)
    reasons: list[str | None] = [None] * table.num_rows
    seconds: dict[str, float] = {}
    for name in SETS:
        rows = np.flatnonzero(np.asarray([s == name for s in sets]))
        if not len(rows):
            continue
        batch = table.take(pa.array(rows)).combine_chunks().to_batches()[0]
        texts = batch.column("text")
        best = float("inf")
        for _ in range(repeat):
            start = time.process_time()
            verdict = stage.evaluate(texts, batch)  # type: ignore[attr-defined]
            best = min(best, time.process_time() - start)
        seconds[name] = best
        keep[rows] = verdict.keep
        for row, reason in zip(rows, verdict.reasons.to_pylist(), strict=True):
            reasons[row] = reason
    return Outcome(keep, reasons, seconds)


def run_datatrove(docs: Path, out: Path, filters: list[str], tokenizer: str, reuse: bool) -> dict[str, Outcome]:
    target = out / f"datatrove-{tokenizer}.json"
    if not (reuse and target.exists()):
        command = [str(VENV_PYTHON), str(BENCH / "datatrove_filters.py"), "run", str(docs), str(target)]
        subprocess.run([*command, "--filters", ",".join(filters), "--tokenizer", tokenizer], check=True)
    raw = {name: r for name, r in json.loads(target.read_text()).items() if name in filters}
    return {name: Outcome(np.asarray(r["keep"], dtype=bool), r["reasons"], r["seconds"]) for name, r in raw.items()}


# -- why the tools disagree --------------------------------------------------------------------------------------

DELIBERATE = {
    "unspaced": "curate: scripts without spaces skip the word rules (--scripts-without-spaces skip)",
    "single_top": "datatrove: a 'top n-gram' that occurs once (no repetition) drops short documents",
    "dup_skip": "datatrove: skips n words after a duplicate n-gram (misses overlapping repeats)",
    "blank_lines": "datatrove: whitespace-only lines count as lines (and repeat)",
    "stop_word_punct": "curate: stop words match with punctuation stripped ('the,')",
    "empty_lines": "datatrove: blank lines count in the bullet / ellipsis line fractions",
    "spacy_punct_words": "datatrove + spaCy: punctuation tokens are words without a letter (alpha-word fraction)",
}


def cause(rule_set: str, spacy: bool, text: str, unspaced: bool, ours: str | None, theirs: str | None) -> str | None:
    """The deliberate difference behind a disagreement of the Gopher rule sets, if one explains it."""
    if unspaced:
        return "unspaced"
    if spacy and theirs == "gopher_below_alpha_threshold" and ours is None:
        return "spacy_punct_words"
    words = (text or "").split()
    if rule_set == "gopher-repetition":
        if theirs and theirs.startswith("top_") and ours is None:
            n = int(theirs.split("_")[1])
            grams = collections.Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
            if max(grams.values(), default=0) < 2:
                return "single_top"
        if (ours or "").startswith("gopher_repetition:dup_") and "gram" in (ours or "") and theirs is None:
            return "dup_skip"
        lines_rule = theirs in ("dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac")
        blank = any(line.strip() == "" and line != "" for line in re.split(r"\n+", text))
        if lines_rule and ours is None and blank:
            return "blank_lines"
    if rule_set == "gopher-quality":
        if theirs == "gopher_enough_stop_words" and ours is None:
            return "stop_word_punct"
        line_rule = ours in ("gopher_quality:ellipsis_lines", "gopher_quality:bullet_lines")
        if line_rule and theirs is None and any(not line.strip() for line in text.splitlines()):
            return "empty_lines"
    return None


# -- the report --------------------------------------------------------------------------------------------------


def report(
    table: pa.Table, results: dict[str, dict[str, Outcome]], missing: list[str], unspaced: np.ndarray
) -> tuple[str, dict]:
    sets = np.asarray(table.column("set").to_pylist())
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    sizes = np.asarray([len(t.encode()) if t else 0 for t in table.column("text").to_pylist()]) / 1e6
    total_mb = float(sizes.sum())
    counts = collections.Counter(sets.tolist())
    lines = [
        f"{table.num_rows} documents, {total_mb:.1f} MB: "
        + ", ".join(f"{name} {counts[name]} ({sizes[sets == name].sum():.1f} MB)" for name in SETS if counts[name]),
        "",
        "| rule set | datatrove words | curate MB/s/core | datatrove MB/s/core | ratio | agreement | disagree "
        "| of which deliberate | agreement but for those |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary: dict = {"documents": table.num_rows, "megabytes": total_mb, "rule_sets": {}}
    details: list[str] = []
    for name, by_tool in results.items():
        ours = by_tool["curate"]
        ours_speed = total_mb / max(sum(ours.seconds.values()), 1e-9)
        for label, theirs in by_tool.items():
            if label == "curate":
                continue
            theirs_speed = total_mb / max(sum(theirs.seconds.values()), 1e-9)
            agree = ours.keep == theirs.keep
            causes = (
                {
                    int(i): cause(
                        name, "spaCy" in label, texts[i] or "", bool(unspaced[i]), ours.reasons[i], theirs.reasons[i]
                    )
                    for i in np.flatnonzero(~agree)
                }
                if name.startswith("gopher")
                else {}
            )
            deliberate = sum(c is not None for c in causes.values())
            lines.append(
                f"| {name} | {label} | {ours_speed:.1f} | {theirs_speed:.2f} | {ours_speed / theirs_speed:.0f}x "
                f"| {agree.mean():.2%} | {int((~agree).sum())} | {deliberate} "
                f"| {(agree.sum() + deliberate) / len(agree):.2%} |"
            )
            per_set = {s: float(agree[sets == s].mean()) for s in SETS if counts[s]}
            summary["rule_sets"][f"{name} ({label})"] = {
                "curate_mb_s": ours_speed,
                "datatrove_mb_s": theirs_speed,
                "agreement": float(agree.mean()),
                "agreement_per_set": per_set,
                "disagreements": int((~agree).sum()),
                "deliberate": dict(collections.Counter(c for c in causes.values() if c)),
                "curate_kept": int(ours.keep.sum()),
                "datatrove_kept": int(theirs.keep.sum()),
            }
            details.append(
                f"\n### {name}, datatrove with {label} words: kept {int(ours.keep.sum())} (curate) vs "
                f"{int(theirs.keep.sum())} (datatrove) of {table.num_rows}; agreement per set: "
                + ", ".join(f"{s} {v:.1%}" for s, v in per_set.items())
            )
            pairs = collections.Counter(
                (ours.reasons[i] or "kept", theirs.reasons[i] or "kept") for i in np.flatnonzero(~agree)
            )
            for (a, b), n in pairs.most_common():
                details.append(f"- {n:4d} x curate {a} / datatrove {b}")
            for key, n in collections.Counter(c for c in causes.values() if c).most_common():
                details.append(f"- deliberate, {n:4d} x {DELIBERATE[key]}")
            unexplained = [i for i in np.flatnonzero(~agree) if causes.get(int(i)) is None]
            if unexplained:
                details.append(f"- not explained by a deliberate difference ({len(unexplained)}; the first 15):")
            for i in unexplained[:15]:
                details.append(
                    f"  - `{ids[i]}`: curate {ours.reasons[i] or 'kept'}, datatrove {theirs.reasons[i] or 'kept'}"
                )
    if "gopher-quality" in results and "gopher-repetition" in results:
        q, r = results["gopher-quality"], results["gopher-repetition"]
        ours_keep = q["curate"].keep & r["curate"].keep
        theirs_keep = q["whitespace"].keep & r["whitespace"].keep
        both = q["curate"].keep & q["whitespace"].keep
        repetition_agree = r["curate"].keep[both] == r["whitespace"].keep[both]
        lines.append("")
        pipeline = (ours_keep == theirs_keep).mean()
        lines.append(
            f"Gopher quality then repetition (whitespace words): the kept sets agree on {pipeline:.2%} of the "
            f"documents; on the {int(both.sum())} documents both keep for quality, repetition agrees on "
            f"{repetition_agree.mean():.2%} ({int((~repetition_agree).sum())} differ)."
        )
        summary["gopher_pipeline_agreement"] = float((ours_keep == theirs_keep).mean())
    combined = [by_tool["curate"] for name, by_tool in results.items()]
    if combined:
        seconds = sum(sum(o.seconds.values()) for o in combined)
        lines.append("")
        lines.append(
            f"curate, the {len(combined)} rule sets one after the other: {total_mb / seconds:.1f} MB/s per core "
            f"({seconds:.2f} CPU s for {total_mb:.1f} MB)"
        )
        summary["curate_all_rule_sets_mb_s"] = total_mb / seconds
    for name in missing:
        lines.append(f"{name}: not yet available (`curate filter {name}` does not exist)")
    return "\n".join(lines + details), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=BENCH / "data" / "filters")
    parser.add_argument("--out", type=Path, default=BENCH / "out" / "filters")
    parser.add_argument("--gutenberg-mb", type=float, default=12.0)
    parser.add_argument("--rule-sets", default=",".join(RULE_SETS))
    parser.add_argument("--repeat", type=int, default=3, help="curate: best of N timings per set")
    parser.add_argument("--no-spacy", action="store_true", help="skip datatrove's spaCy run of the Gopher filters")
    parser.add_argument(
        "--reuse-datatrove", action="store_true", help="reuse datatrove's results of the last run (same --data)"
    )
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"the shared corpora are missing at {SHARED}")
    if not VENV_PYTHON.exists():
        sys.exit(f"{VENV_PYTHON} is missing: create it with datatrove[processing], spacy and trafilatura")
    args.out.mkdir(parents=True, exist_ok=True)
    docs = build(args.data, args.gutenberg_mb)
    table = pq.read_table(docs)
    stages = curate_stages()
    wanted = [name for name in args.rule_sets.split(",") if name]
    missing = [name for name in wanted if name not in stages]
    present = [name for name in wanted if name in stages]
    results: dict[str, dict[str, Outcome]] = {name: {} for name in present}
    for name in present:
        results[name]["curate"] = run_curate(stages[name], table, args.repeat)
        print(f"curate {name}: {sum(results[name]['curate'].seconds.values()):.2f} s", file=sys.stderr)
    for name, outcome in run_datatrove(docs, args.out, present, "whitespace", args.reuse_datatrove).items():
        results[name]["whitespace" if name.startswith("gopher") else "default (spaCy)"] = outcome
    gophers = [name for name in present if name.startswith("gopher")]
    if gophers and not args.no_spacy:
        for name, outcome in run_datatrove(docs, args.out, gophers, "spacy", args.reuse_datatrove).items():
            results[name]["default (spaCy)"] = outcome
    from curate.filters.rules.gopher_quality import GopherQuality

    texts = table.column("text").combine_chunks()
    unspaced = np.asarray(GopherQuality().evaluate(texts, None).stats["gopher_unspaced_script"].to_pylist())
    text, summary = report(table, results, missing, unspaced)
    print(text)
    (args.out / "results.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
