"""datatrove's side of ``bench/filters_bench.py``; runs inside ``bench/.venv-datatrove`` (datatrove, spaCy,
trafilatura), never imports curate.

``extract``: main text of HTML pages with trafilatura (the web text the filters are meant for), as JSONL
``{"id", "text"}``; pages come from a folder of ``*.html[.gz]`` or from a ``.tar.gz``.

``run``: datatrove's ``GopherQualityFilter``, ``GopherRepetitionFilter``, ``C4QualityFilter`` and
``FineWebQualityFilter`` over the documents of a Parquet file (``id``, ``set``, ``text``), one document at a
time as datatrove runs them; writes per filter the keep/drop decision and reason of every document and the
CPU seconds spent per set. ``--tokenizer whitespace`` gives the Gopher filters ``str.split()`` words (curate's
definition); ``spacy`` is datatrove's default for English (spaCy's rule-based tokenizer, no model). C4 and
FineWeb always use datatrove's default: their sentence and word counts are what curate's versions emulate.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

FILTERS = ("gopher-quality", "gopher-repetition", "c4", "fineweb")


def _pages(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_dir():
        for path in sorted(source.iterdir()):
            if path.name.endswith(".html.gz"):
                yield path.name.removesuffix(".html.gz"), gzip.decompress(path.read_bytes())
            elif path.name.endswith(".html"):
                yield path.name.removesuffix(".html"), path.read_bytes()
        return
    with tarfile.open(source) as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            if member.isfile() and member.name.endswith(".html"):
                handle = archive.extractfile(member)
                if handle is not None:
                    yield member.name, handle.read()


def extract(source: Path, out: Path) -> None:
    import trafilatura

    written = 0
    with out.open("w", encoding="utf-8") as sink:
        for name, raw in _pages(source):
            html = raw.decode("utf-8", errors="replace")
            text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True)
            if text:
                sink.write(json.dumps({"id": name, "text": text}, ensure_ascii=False) + "\n")
                written += 1
    print(f"extracted {written} pages from {source}", file=sys.stderr)


def _whitespace_tokenizer() -> object:
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Whitespace(WordTokenizer):
        """Words are ``str.split()`` tokens, as curate counts them."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            raise NotImplementedError("the Gopher filters only split words")

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            raise NotImplementedError("the Gopher filters only split words")

    return Whitespace("whitespace")


def _make(name: str, tokenizer: str) -> object:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.utils.typeshelper import Languages

    language = _whitespace_tokenizer() if tokenizer == "whitespace" else Languages.english
    if name == "gopher-quality":
        return GopherQualityFilter(language=language)
    if name == "gopher-repetition":
        return GopherRepetitionFilter(language=language)
    if name == "c4":
        return C4QualityFilter()
    if name == "fineweb":
        return FineWebQualityFilter()
    raise ValueError(name)


def run(data: Path, out: Path, filters: list[str], tokenizer: str) -> None:
    import pyarrow.parquet as pq
    from datatrove.data import Document

    table = pq.read_table(data, columns=["id", "set", "text"]).to_pydict()
    ids, sets, texts = table["id"], table["set"], table["text"]
    results: dict[str, object] = {}
    for name in filters:
        step = _make(name, tokenizer)
        keep: list[bool] = []
        reasons: list[str | None] = []
        seconds: dict[str, float] = {}
        for i, text in enumerate(texts):
            doc = Document(text=text or "", id=str(ids[i]))
            start = time.process_time()
            try:
                verdict = step.filter(doc)
            except Exception as error:  # a datatrove crash is a drop, reported with its reason
                verdict = (False, f"error:{type(error).__name__}")
            seconds[sets[i]] = seconds.get(sets[i], 0.0) + time.process_time() - start
            kept, reason = (verdict, None) if isinstance(verdict, bool) else (bool(verdict[0]), str(verdict[1]))
            keep.append(kept)
            reasons.append(None if kept else reason)
        results[name] = {"tokenizer": tokenizer, "keep": keep, "reasons": reasons, "seconds": seconds}
        words = tokenizer if name.startswith("gopher") else "spacy"
        print(f"datatrove {name} ({words} words): {sum(seconds.values()):.1f} s", file=sys.stderr)
    out.write_text(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("extract")
    ex.add_argument("source", type=Path)
    ex.add_argument("out", type=Path)
    rn = commands.add_parser("run")
    rn.add_argument("data", type=Path)
    rn.add_argument("out", type=Path)
    rn.add_argument("--filters", default=",".join(FILTERS))
    rn.add_argument("--tokenizer", choices=("whitespace", "spacy"), default="whitespace")
    args = parser.parse_args()
    if args.command == "extract":
        extract(args.source, args.out)
    else:
        run(args.data, args.out, [f for f in args.filters.split(",") if f], args.tokenizer)


if __name__ == "__main__":
    main()
