"""``url``: drop documents whose URL's domain is blocklisted or whose URL holds a banned substring.

The host is taken from the URL column with polars expressions over the whole batch: lower-cased,
scheme (``http://``, ``//``), user info (``user:pass@``), port, trailing dot and a leading
``www.`` removed; a URL without ``://`` is read as starting with its host (``example.com/a``).
A host is blocked when it or any parent domain is listed: ``example.com`` blocks
``ads.example.com`` but not ``badexample.com``. Membership is one hash join of every host and
each of its parent suffixes against the list, not a loop over rows.

Blocklists are text files in the UT1 ``domains`` format: one domain per line; blank lines,
``#`` comments (whole-line or after whitespace) are ignored; the last field of a hosts-file
line (``0.0.0.0 example.com``) is the domain; a leading ``*.``/``.`` or ``www.`` and a trailing
``.`` are dropped, so ``www.example.com`` blocks ``example.com`` too. Lines with a ``/``
(entries of UT1 ``urls`` files) name a page, not a domain, and are skipped with a warning.

Banned substrings are matched anywhere in the URL as given, ignoring ASCII case. There is no
default list: plain substrings drop innocent URLs (``sex`` is in ``essex.ac.uk``), so the
choice is left to whoever runs the filter.

A null or empty URL, or one without a parseable host (spaces, an empty label, a host longer
than 253 characters), is kept unless ``--drop-unparseable``. It is still given the reason
``url:missing_url`` or ``url:unparseable_url``, so ``--annotate`` counts it (``flagged:...``)
and its ``url_reason`` column shows it.

Statistics added by ``--annotate``: ``url_domain`` (the normalised host, null when there is
none) and ``url_reason`` (the reason code, null when the URL passes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from curate.errors import UsageError
from curate.filters.base import TextFilter, Verdict
from curate.filters.registry import register
from curate.io.columns import column_values, has_column
from curate.io.discovery import _resolve_filesystem
from curate.io.readers import ReadOptions

if TYPE_CHECKING:
    import polars as pl

log = logging.getLogger(__name__)

# A host is a run of dot-separated labels without whitespace or URL delimiters, or a bracketed IPv6.
_HOST = r"^(?:[^\s./\\@:\[\]?#%]+(?:\.[^\s./\\@:\[\]?#%]+)*|\[[0-9a-f:.]+\])$"
_MAX_HOST = 253  # the longest DNS name


def host_expression(url: pl.Expr) -> pl.Expr:
    """The normalised host of each URL in ``url`` (a string expression); "" when it has none."""
    import polars as pl

    lowered = url.str.strip_chars().str.to_lowercase()
    after_scheme = lowered.str.replace(r"^[a-z][a-z0-9+.\-]*://", "").str.replace(r"^//", "")
    authority = after_scheme.str.extract(r"^([^/?#\\]*)", 1)
    host_port = authority.str.replace(r"^.*@", "")
    host = (
        pl.when(host_port.str.starts_with("["))
        .then(host_port.str.extract(r"^(\[[^\]]*\])", 1))
        .otherwise(host_port.str.replace(r":[0-9]*$", ""))
    )
    return _strip_www(host.str.strip_chars_end("."))


def _strip_www(host: pl.Expr) -> pl.Expr:
    # Only when something with a dot is left: `www.com` stays a domain of its own.
    return host.str.replace(r"^www\.([^.]+\..+)$", "${1}")


def _read_bytes(path: str, option: str) -> bytes:
    filesystem, resolved = _resolve_filesystem(path)
    try:
        with filesystem.open_input_stream(resolved) as stream:
            return stream.read()
    except (OSError, pa.ArrowException) as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc})") from exc


def parse_domains(data: bytes) -> tuple[pl.Series, int]:
    """The distinct normalised domains of a blocklist file's bytes (UT1 format, see above),
    and the number of entries skipped because they name a page (``example.com/ads``)."""
    import polars as pl

    # utf-8-sig: a byte-order mark is not part of the first domain.
    lines = pl.Series("domain", data.decode("utf-8-sig", errors="replace").splitlines(), dtype=pl.String)
    entries = lines.str.replace(r"(^|\s)#.*$", "").str.extract(r"(\S+)\s*$", 1).str.to_lowercase().drop_nulls()
    with_path = entries.str.contains("/")
    domains = entries.filter(~with_path).str.replace(r"^\*?\.", "").str.strip_chars_end(".")
    domains = pl.select(_strip_www(pl.lit(domains))).to_series()
    return domains.filter(domains != "").unique().sort(), int(with_path.sum())


@lru_cache(maxsize=8)
def _blocklist(files: tuple[tuple[str, str], ...]) -> tuple[pl.Series, tuple[int, ...]]:
    """The union of the domains of ``files`` (path, sha256), read once per process, and the
    entries skipped in each file."""
    import polars as pl

    parsed = [parse_domains(_read_bytes(path, "--blocklist")) for path, _ in files]
    domains = pl.concat([d for d, _ in parsed]).unique() if parsed else pl.Series("domain", [], dtype=pl.String)
    return domains, tuple(skipped for _, skipped in parsed)


def _banned_lines(data: bytes) -> list[str]:
    """Non-blank lines that do not start with ``#``, stripped."""
    lines = (line.strip() for line in data.decode("utf-8-sig", errors="replace").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@register
@dataclass(frozen=True)
class UrlFilter(TextFilter):
    """Drop documents whose URL's domain (or a parent domain) is in a blocklist, or whose URL
    contains a banned substring.

    Blocklists are UT1-style files (one domain per line, # comments). Null, empty and
    unparseable URLs are kept unless --drop-unparseable. See the README section
    "Filters: pii and url".
    """

    name = "url"
    summary = "Drop documents from blocklisted domains or with banned substrings in their URL."

    url_column: str = field(default="url", metadata={"help": "Column holding the document's URL."})
    blocklist: tuple[str, ...] = field(
        default=(), metadata={"help": "Blocklist file, one domain per line (UT1 format); blocks subdomains too"}
    )
    banned_substring: tuple[str, ...] = field(
        default=(), metadata={"help": "Drop URLs containing this text (ASCII case ignored)"}
    )
    banned_substrings_file: tuple[str, ...] = field(
        default=(), metadata={"help": "File of banned substrings, one per line (# comments)"}
    )
    drop_unparseable: bool = field(
        default=False, metadata={"help": "Drop documents whose URL is null, empty or has no parseable host."}
    )

    def __post_init__(self) -> None:
        if not self.url_column:
            raise UsageError("--url-column must not be empty")
        if "" in self.banned_substring:
            raise UsageError("--banned-substring must not be empty (it would match every URL)")
        # Read the lists here: a missing file is a usage error before any work starts, and the
        # digests go into the config (the contents decide what is dropped). Worker threads
        # share the parsed lists; worker processes parse them once each.
        digests = {path: hashlib.sha256(_read_bytes(path, "--blocklist")).hexdigest() for path in self.blocklist}
        substrings = list(self.banned_substring)
        for path in self.banned_substrings_file:
            data = _read_bytes(path, "--banned-substrings-file")
            digests[path] = hashlib.sha256(data).hexdigest()
            substrings += _banned_lines(data)
        object.__setattr__(self, "_digests", digests)
        object.__setattr__(self, "_substrings", tuple(dict.fromkeys(substrings)))
        for path, skipped in zip(self.blocklist, self._lists()[1], strict=True):
            if skipped:
                log.warning("--blocklist %s: %d entries with a path skipped (domains only)", path, skipped)

    def banned_substrings(self) -> tuple[str, ...]:
        """The banned substrings of the options and files, without repeats."""
        substrings: tuple[str, ...] = self.__dict__["_substrings"]
        return substrings

    def domains(self) -> pl.Series:
        """The blocklisted domains, normalised."""
        return self._lists()[0]

    def _lists(self) -> tuple[pl.Series, tuple[int, ...]]:
        digests: dict[str, str] = self.__dict__["_digests"]
        return _blocklist(tuple((path, digests[path]) for path in self.blocklist))

    def files(self) -> tuple[str, ...]:
        return (*self.blocklist, *self.banned_substrings_file)

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        return (read.text_column, self.url_column)

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        import polars as pl

        if not has_column(batch.schema, self.url_column):
            raise UsageError(
                f"--url-column {self.url_column!r}: no such column (columns: {', '.join(batch.schema.names)})"
            )
        urls = column_values(batch, self.url_column)
        value_type = urls.type.value_type if pa.types.is_dictionary(urls.type) else urls.type
        if not (
            pa.types.is_string(value_type)
            or pa.types.is_large_string(value_type)
            or pa.types.is_string_view(value_type)
            or pa.types.is_null(value_type)
        ):
            raise UsageError(f"--url-column {self.url_column!r} has type {urls.type}, not a string")
        n = batch.num_rows
        url = pl.col("url")
        frame = pl.DataFrame([pl.Series("url", urls.cast(pa.large_string()), dtype=pl.String)]).with_columns(
            host=host_expression(url), missing=url.is_null() | (url.str.strip_chars() == "")
        )
        frame = frame.with_columns(
            valid=~pl.col("missing")
            & pl.col("host").str.contains(_HOST).fill_null(False)
            & (pl.col("host").str.len_bytes() <= _MAX_HOST)
        )
        missing = frame.get_column("missing").to_numpy()
        valid = frame.get_column("valid").to_numpy()
        blocked = _blocked(frame.get_column("host"), valid, self.domains())
        banned = np.zeros(n, dtype=bool)
        if self.banned_substrings():
            contains = url.str.contains_any(list(self.banned_substrings()), ascii_case_insensitive=True)
            banned = frame.select(contains.fill_null(False)).to_series().to_numpy()
        prefix = self.reason_prefix
        verdict = Verdict.from_rules(
            [
                (f"{prefix}:blocklisted_domain", blocked),
                (f"{prefix}:banned_substring", banned),
                (f"{prefix}:missing_url", missing),
                (f"{prefix}:unparseable_url", ~valid & ~missing),
            ],
            n,
        )
        domain = frame.select(pl.when(pl.col("valid")).then(pl.col("host"))).to_series()
        stats = {"url_domain": domain.to_arrow().cast(pa.string()), "url_reason": verdict.reasons}
        # Unless asked to drop them, rows without a usable URL are kept but keep their reason,
        # which --annotate counts.
        keep = verdict.keep if self.drop_unparseable else ~(blocked | banned)
        return dataclasses.replace(verdict, keep=keep, stats=stats)


def _blocked(hosts: pl.Series, valid: np.ndarray, domains: pl.Series) -> np.ndarray:
    """Per row: whether the host or one of its parent domains is in ``domains``."""
    import polars as pl

    blocked = np.zeros(len(hosts), dtype=bool)
    if len(domains) == 0 or not valid.any():
        return blocked
    rows = np.flatnonzero(valid)
    suffixes = hosts.gather(rows)
    candidate_rows, candidates = [], []
    # One round per label: `a.b.example.com`, `b.example.com`, `example.com`, `com`.
    while len(rows):
        candidate_rows.append(rows)
        candidates.append(suffixes)
        parent = suffixes.str.extract(r"^[^.]*\.(.+)$", 1)
        has_parent = parent.is_not_null().to_numpy()
        rows, suffixes = rows[has_parent], parent.filter(pl.Series(has_parent))
    listed = pl.concat(candidates).is_in(domains.implode()).to_numpy()
    blocked[np.concatenate(candidate_rows)[listed]] = True
    return blocked
