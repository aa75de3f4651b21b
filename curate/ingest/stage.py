"""``curate ingest warc``: web-archive records in, one text row per HTML page kept.

A *source* stage (``source = "warc"``): its input shards are WARC, ARC or WET files, read by
:mod:`curate.ingest.warc_reader` as one row per record, and it is the map stage that decides
each row: records that are not HTML responses, HTTP errors, truncated, too large, binary,
undecodable or with no main text go to ``OUT.curate/rejects/`` with their reason (``ingest:...``) and
without their payload; the others get their charset decoded, their main text extracted and
the columns ``id, url, date, text, content_type, charset, html_lang`` (and ``html`` with
``--keep-html``). Records in = kept + rejected, per file, as for every stage.

Extraction is a call into the extractor per page (no extractor works on a whole batch);
everything around it stays columnar.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.errors import UsageError
from curate.ingest.decode import decode_html, html_lang
from curate.ingest.extractors import EXTRACTORS, load_extractor
from curate.ingest.formats import INTERNAL_COLUMNS, warc_read_schema
from curate.io.read_options import ReadOptions
from curate.pipelines.options import option
from curate.pipelines.stage import BatchContext, MapResult, MapStage, Resources, check_extra

if TYPE_CHECKING:
    from curate.io.discovery import InputShard

ALGORITHM_VERSION = 1
# Chosen by bench/warc_bench.py (bench/README.md): trafilatura's main text is the closer to the
# gold text on both benchmarks (token F1 0.969 vs 0.923 on Zyte's); resiliparse is 12x faster.
DEFAULT_EXTRACTOR = "trafilatura"
DEFAULT_MAX_HTML_BYTES = 5 << 20


def _check_text_column(read: ReadOptions) -> None:
    """--text-column names the column this stage writes, and it writes top-level columns only."""
    if "." in read.text_column:
        raise UsageError(
            f"ingest warc writes the text as a top-level column: --text-column {read.text_column!r} "
            "(a struct field) is not supported here"
        )


@dataclass(frozen=True)
class IngestWarc(MapStage):
    """WARC / ARC / WET files to text shards, main content extracted.

    IN: a WARC/ARC/WET file, a directory of them or a glob (.warc, .warc.gz, .arc, .arc.gz,
    .wet, .wet.gz; per-record gzip). One task per file. Kept: HTML responses (2xx) with main
    text, and WET text records. Everything else is counted in the manifest and written to
    OUT.curate/rejects/ (without its payload) with _reason ingest:not_response, ingest:non_html,
    ingest:http_status, ingest:truncated_record, ingest:corrupt_record, ingest:too_large,
    ingest:binary_content, ingest:bad_encoding, ingest:bad_content_encoding or ingest:no_text.
    """

    name: ClassVar[str] = "warc"
    group: ClassVar[str] = "ingest"
    summary: ClassVar[str] = "WARC / ARC / WET files to text shards, main content extracted."
    source: ClassVar[str | None] = "warc"
    resources: ClassVar[Resources] = Resources(batch_rows=256)

    extractor: str = option(
        DEFAULT_EXTRACTOR,
        "Main-text extractor: trafilatura (closest to the gold text) or resiliparse (12x faster).",
        choices=tuple(EXTRACTORS),
    )
    keep_html: bool = option(False, "Also keep the decoded HTML, as column html.", flag=True)
    max_html_bytes: int = option(
        DEFAULT_MAX_HTML_BYTES,
        "Larger payloads are not read nor extracted (ingest:too_large).",
        min=1,
    )
    min_text_chars: int = option(1, "Pages whose main text is shorter are dropped (ingest:no_text).", min=0)

    def __post_init__(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise UsageError(f"unknown extractor {self.extractor!r} (choose from {', '.join(EXTRACTORS)})")

    def check_installed(self) -> None:
        extra, module = EXTRACTORS[self.extractor]
        check_extra(f"ingest warc --extractor {self.extractor}", extra, (module,))
        check_extra("ingest warc", "warc", ("warcio",))

    def config(self) -> dict[str, Any]:
        """What the fingerprint covers: the options, the reader's version and the extractor's
        package version (a new extractor release may extract other text)."""
        from importlib.metadata import version

        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["algorithm_version"] = ALGORITHM_VERSION
        values["extractor_version"] = version(EXTRACTORS[self.extractor][1])
        values["reader_version"] = version("warcio")
        return values

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        _check_text_column(read)  # asked before any work, by the command and by a pipeline
        return ()

    def removes(self) -> tuple[str, ...]:
        return INTERNAL_COLUMNS

    def setup(self) -> Any:
        return load_extractor(self.extractor)

    def source_schema(self, read: ReadOptions) -> pa.Schema:
        _check_text_column(read)
        return warc_read_schema(read.text_column)

    def source_batches(self, shard: InputShard, read: ReadOptions) -> Iterator[pa.RecordBatch]:
        from curate.ingest.warc_reader import RecordLimits, warc_batches

        rows = min(read.batch_rows, self.resources.batch_rows or read.batch_rows)
        return warc_batches(shard, read.text_column, rows, RecordLimits(self.max_html_bytes))

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        extract = context.state
        n = batch.num_rows
        read_reasons = batch.column("_read_reason").to_pylist()
        payloads = batch.column("_payload")
        charsets_claimed = batch.column("_http_charset").to_pylist()
        types = batch.column("_warc_type").to_pylist()
        reasons: list[str | None] = list(read_reasons)
        texts: list[str | None] = [None] * n
        charsets: list[str | None] = [None] * n
        langs: list[str | None] = [None] * n
        html: list[str | None] = [None] * n
        counted: Counter[str] = Counter()
        for i in range(n):
            if reasons[i] is not None:
                continue
            payload = payloads[i].as_py() or b""
            decoded = decode_html(payload, charsets_claimed[i])
            if decoded.claim_was_wrong:
                counted["charset_claimed_wrongly"] += 1
            if decoded.reason is not None or decoded.text is None:
                reasons[i] = f"ingest:{decoded.reason or 'bad_encoding'}"
                continue
            charsets[i] = decoded.charset
            if types[i] == "conversion":  # WET: the text is the payload
                text = decoded.text
            else:
                langs[i] = html_lang(decoded.text)
                text = extract(decoded.text)
                if self.keep_html:
                    html[i] = decoded.text
            if len(text.strip()) < max(1, self.min_text_chars):
                reasons[i] = "ingest:no_text"
                continue
            texts[i] = text
        keep = np.array([r is None for r in reasons], dtype=bool)
        columns: dict[str, pa.Array] = {
            "charset": pa.array(charsets, pa.string()),
            "html_lang": pa.array(langs, pa.string()),
        }
        if self.keep_html:
            columns["html"] = pa.array(html, pa.large_string())
        return MapResult(
            keep=keep,
            reasons=pa.array(reasons, pa.string()),
            texts=pa.array(texts, pa.large_string()),
            columns=columns,
            reject_columns={
                "warc_type": batch.column("_warc_type"),
                "http_status": batch.column("_http_status"),
                "warc_offset": batch.column("_offset"),
            },
            counters=dict(counted),
        )
