"""``pii``: redact e-mail addresses, IP addresses and phone numbers (a modifier: no row is dropped).

Every pattern is a regular expression run by polars (the Rust ``regex`` crate) over the whole
text column, so there is no Python loop over documents. That engine has no look-around, so a
pattern that must not touch its neighbours (an IP inside ``1.2.3.4.5``) captures one or two
characters of context on each side and writes them back. Two matches sharing one separator
(``1.1.1.1,2.2.2.2``) then compete for it, so those patterns run a second pass over the rows
where a match may have been hidden that way; the counts of both passes add up to the
redactions. (After the first pass a token is the neighbour, so a number written straight after
another with nothing between, ``555-123-4567(555) 123-4567``, is redacted as well.) Each
pattern only searches the rows that contain a cheap necessary literal (``@``, ``::``, ``+1``...)
and only rewrites the rows where it matched.

What is matched (ASCII digits and letters only, so Arabic-Indic or full-width digits and
non-Latin scripts are never redacted):

* **email**: ``local@domain.tld`` with a local part of ``A-Z a-z 0-9 . _ % + -`` starting with
  a letter, digit or ``_``; one or more domain labels (letters, digits, inner ``-``) and a
  top-level label of 2-63 letters. Not matched: ``@handle``, ``user@localhost``, ``pkg@1.2.3``,
  quoted or non-ASCII local parts, ``user@[10.0.0.1]`` (its IP is redacted as an IP). A file
  name such as ``icon@2x.png`` does look like an address and is redacted.
* **ip**: IPv4 as four decimal octets 0-255 without leading zeros (``256.1.1.1``, ``01.2.3.4``
  and ``999.1.1.1`` are not addresses), not preceded by a letter, digit, ``_`` or ``.`` and not
  followed by a letter, digit, ``_`` or a ``.`` plus letter or digit: ``1.2.3.4.5`` and
  ``v1.2.3.4`` are left alone, a four-part version ``1.2.3.4`` is an address. IPv6 in full
  (8 groups), compressed with ``::`` and with an IPv4 tail (``::ffff:192.0.2.1``), not next to a
  letter, digit, ``_``, ``:`` or ``.``. Compressed forms of one or two groups must contain a
  digit (``fe80::1``, ``::1``, ``2001::``) so that code such as ``Abc::def`` is not an address,
  and ``::`` alone never is. A zone (``%eth0``), port or brackets around the address are kept.
* **phone**: international ``+CC`` numbers with 8-15 digits in all, digits separated by at most
  one of space, ``.``, ``-`` or a parenthesis (``+1 (555) 123-4567``, ``+44 20 7946 0958``,
  ``+447801259231``); North American ``555-123-4567``, ``555.123.4567``, ``(555) 123-4567``,
  ``(555) 123 4567``, ``1-800-555-1234`` (area code 2-9xx; without parentheses the groups are
  separated by ``-`` or ``.``: spaces alone would make ``998 999 1000`` in a run of numbers a
  phone); national numbers with a trunk ``0``: 11 digits written together (``09061701461``) or
  10-11 digits with a separator after a first group of 2-5 digits (``020 7946 0958``,
  ``0800 1956669``, ``01 23 45 67 89``, ``(020) 7946 0958``). Not preceded by a letter, digit,
  ``_``, ``+``, ``.``, ``,``, ``/`` or ``-`` (unless the ``-`` follows a letter:
  ``sms-08718727870``); not followed by a letter, digit or ``_``, nor by one of ``. , / : -``
  and a digit. So dates (``2024-01-02``, ``01.02.2024``), times, prices (``1,299.99``), ISBNs
  (``978-0-306-40615-7``, ``0-306-40615-2``), versions and digit runs without a ``+`` or a
  trunk ``0`` (order numbers, timestamps) are not phones; an 11-digit number starting with 0
  (an Italian VAT number) does look like one and is redacted. Not matched either: 7-digit
  local numbers (``555-1234``), international numbers written without ``+``
  (``447801259231``), numbers glued to letters (``08452810075over``), and 10-digit national
  numbers written without a separator (``0306406152`` is as often an ISBN-10).

Each kind's count per row goes to the manifest as ``changed:<kind>``. With ``--column-name``
a ``list<string>`` column lists the kind of every redaction in the row, grouped by kind in
the order email, ip, phone (``["email", "phone", "phone"]``); empty when nothing was redacted.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import UsageError
from curate.filters.base import Modification, TextModifier
from curate.filters.registry import register

if TYPE_CHECKING:
    import polars as pl

KINDS = ("email", "ip", "phone")

# Character classes are spelled out in ASCII: ``\d`` and ``\w`` are Unicode in this engine.
_WORD = "0-9A-Za-z_"

EMAIL = r"[A-Za-z0-9_][A-Za-z0-9._%+\-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"


def _ipv6() -> str:
    h = "[0-9A-Fa-f]{1,4}"
    # A group of 1-4 hex digits with at least one decimal digit.
    hd = "(?:[0-9][0-9A-Fa-f]{0,3}|[A-Fa-f][0-9][0-9A-Fa-f]{0,2}|[A-Fa-f]{2}[0-9][0-9A-Fa-f]?|[A-Fa-f]{3}[0-9])"

    def groups(n: int) -> str:
        return "" if n == 0 else f"{h}(?::{h}){{{n - 1}}}"

    forms = [f"(?:{h}:){{7}}{h}", f"(?:{h}:){{6}}{IPV4}"]
    # Compressed: `left::right` with left + right <= 7 groups, at least 3 unless one has a digit.
    for left in range(8):
        lo = max(0, 3 - left)
        if 7 - left >= lo:
            right = "" if 7 - left == 0 else f"(?:{h}(?::{h}){{{max(lo - 1, 0)},{6 - left}}})"
            right = right + ("?" if lo == 0 and right else "")
            forms.append(f"{groups(left)}::{right}")
        # With an IPv4 tail (two groups' worth): left + right <= 5.
        if left <= 5:
            right4 = f"(?:{h}:){{0,{5 - left}}}" if left < 5 else ""
            forms.append(f"{groups(left)}::{right4}{IPV4}")
    # One or two groups in all: only with a decimal digit somewhere.
    forms += [f"{hd}::", f"::{hd}", f"{hd}::{h}", f"{h}::{hd}", f"{hd}:{h}::", f"{h}:{hd}::"]
    forms += [f"::{hd}:{h}", f"::{h}:{hd}"]
    return "(?:" + "|".join(forms) + ")"


IPV6 = _ipv6()

# Context kept around a match, written back by the replacement: (before)address(after).
_IP4_BEFORE = rf"(^|[^{_WORD}.])"
_IP6_BEFORE = rf"(^|[^{_WORD}:.])"
_IP4_AFTER = rf"($|[^{_WORD}.]|\.(?:$|[^{_WORD}]))"
_IP6_AFTER = rf"($|[^{_WORD}:.]|\.(?:$|[^{_WORD}]))"
_PHONE_BEFORE = rf"(^|[^{_WORD}+\-.,/]|[A-Za-z]-)"
_PHONE_AFTER = rf"($|[^{_WORD}.,/:\-]|[.,/:\-](?:$|[^0-9]))"

_SEP = r"[ .\-]"
PHONE_INTERNATIONAL = rf"\+[1-9](?:(?:{_SEP}|{_SEP}?\(|\){_SEP}?)?[0-9]){{7,14}}"
# Spaces alone do not separate the groups: `998 999 1000` is a run of numbers, not a phone.
PHONE_NORTH_AMERICAN = r"(?:1[ .\-]?)?(?:\([2-9][0-9]{2}\) ?[0-9]{3}[ .\-]|[2-9][0-9]{2}[.\-][0-9]{3}[.\-])[0-9]{4}"


def _phone_national(parenthesised: bool) -> str:
    # The trunk 0 is written once in front of the alternatives so that the engine can look
    # for it as a literal (an alternation of whole patterns would scan at DFA speed).
    forms = [] if parenthesised else [r"[0-9]{10}"]
    for first in range(2, 6):  # digits in the first group, trunk 0 included
        rest = rf"[0-9](?:{_SEP}?[0-9]){{{9 - first},{10 - first}}}"
        forms.append(rf"[0-9]{{{first - 1}}}\) ?{rest}" if parenthesised else rf"[0-9]{{{first - 1}}}{_SEP}{rest}")
    return (r"\(0" if parenthesised else "0") + f"(?:{'|'.join(forms)})"


PHONE_NATIONAL = _phone_national(parenthesised=False)
PHONE_NATIONAL_PARENTHESISED = _phone_national(parenthesised=True)


@dataclass(frozen=True)
class _Pattern:
    """One regular expression of a kind. ``prefilter`` is a cheap expression every match
    contains: only rows containing it are searched with ``regex``. ``context`` patterns
    capture (before)(after) and run twice (see the module docstring)."""

    kind: str
    regex: str
    prefilter: str
    context: bool
    literal_prefilter: bool = False


# Applied in this order: an IPv6 address with an IPv4 tail is one IPv6 address, and a
# +CC number is not split into a national one.
PATTERNS = (
    _Pattern("email", EMAIL, "@", context=False, literal_prefilter=True),
    _Pattern("ip", _IP6_BEFORE + IPV6 + _IP6_AFTER, r"::|:[0-9A-Fa-f]{1,4}:", context=True),
    _Pattern("ip", _IP4_BEFORE + IPV4 + _IP4_AFTER, r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]", context=True),
    _Pattern("phone", _PHONE_BEFORE + PHONE_INTERNATIONAL + _PHONE_AFTER, r"\+[1-9]", context=True),
    _Pattern("phone", _PHONE_BEFORE + PHONE_NATIONAL + _PHONE_AFTER, r"0[0-9]", context=True),
    _Pattern("phone", _PHONE_BEFORE + PHONE_NATIONAL_PARENTHESISED + _PHONE_AFTER, r"\(0[0-9]", context=True),
    _Pattern(
        "phone",
        _PHONE_BEFORE + PHONE_NORTH_AMERICAN + _PHONE_AFTER,
        r"[0-9]{3}[.\-)] ?[0-9]{3}[ .\-][0-9]{4}",
        context=True,
    ),
)


@register
@dataclass(frozen=True)
class PiiRedactor(TextModifier):
    """Redact e-mail addresses, IPv4/IPv6 addresses and phone numbers with replacement tokens.

    Never drops a row. Counts per kind go to the manifest as changed:<kind>. See the README
    section "Filters: pii and url" for exactly what each kind matches.
    """

    name = "pii"
    summary = "Redact e-mail addresses, IP addresses and phone numbers."

    kinds: str = field(
        default="email,ip,phone", metadata={"help": "Comma-separated kinds to redact: email, ip, phone."}
    )
    email_token: str = field(default="<EMAIL>", metadata={"help": "Replacement for an e-mail address."})
    ip_token: str = field(default="<IP_ADDRESS>", metadata={"help": "Replacement for an IPv4 or IPv6 address."})
    phone_token: str = field(default="<PHONE>", metadata={"help": "Replacement for a phone number."})
    column_name: str = field(
        default="",
        metadata={"help": "Add a list<string> column of this name with the kind of every redaction in the row."},
    )

    def __post_init__(self) -> None:
        self.selected_kinds()

    def selected_kinds(self) -> tuple[str, ...]:
        """The kinds to redact, in the fixed order email, ip, phone. Raises UsageError on an unknown kind."""
        chosen = {k.strip().lower() for k in self.kinds.split(",") if k.strip()}
        for kind in chosen - set(KINDS):
            near = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise UsageError(f"--kinds: unknown kind {kind!r}{hint}; choose from {', '.join(KINDS)}")
        if not chosen:
            raise UsageError(f"--kinds: choose at least one of {', '.join(KINDS)}")
        return tuple(k for k in KINDS if k in chosen)

    def token(self, kind: str) -> str:
        return {"email": self.email_token, "ip": self.ip_token, "phone": self.phone_token}[kind]

    def modify(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Modification:
        import polars as pl

        n = len(texts)
        kinds = self.selected_kinds()
        counts = {kind: np.zeros(n, dtype=np.int64) for kind in kinds}
        rewritten = _Rewritten(pl.Series("text", texts, dtype=pl.String) if n else pl.Series("text", [], pl.String))
        for pattern in PATTERNS:
            if pattern.kind in kinds:
                rewritten.redact(pattern, self.token(pattern.kind), counts[pattern.kind])
        columns: dict[str, pa.Array] = {}
        if self.column_name:
            columns[self.column_name] = _kind_lists(counts, n)
        return Modification(texts=rewritten.merged(texts), counts=counts, columns=columns)


class _Rewritten:
    """The texts of a batch as the original column plus the current text of the rows some
    pattern rewrote, so that each pattern copies only the rows it can match, and the column
    is put together once at the end."""

    def __init__(self, original: pl.Series) -> None:
        import polars as pl

        self.original = original
        self.touched = np.zeros(len(original), dtype=bool)
        self.rows = np.zeros(0, dtype=np.int64)
        self.values = pl.Series("text", [], dtype=pl.String)

    def candidates(self, pattern: _Pattern) -> tuple[np.ndarray, pl.Series]:
        """Rows whose current text contains the prefilter, and those texts."""
        import polars as pl

        in_original = self.original.str.contains(pattern.prefilter, literal=pattern.literal_prefilter)
        fresh = np.flatnonzero(in_original.fill_null(False).to_numpy() & ~self.touched)
        in_rewritten = self.values.str.contains(pattern.prefilter, literal=pattern.literal_prefilter).to_numpy()
        rows = np.concatenate([fresh, self.rows[in_rewritten]])
        return rows, pl.concat([self.original.gather(fresh), self.values.filter(pl.Series(in_rewritten))])

    def update(self, rows: np.ndarray, values: pl.Series) -> None:
        import polars as pl

        kept = ~np.isin(self.rows, rows)
        self.rows = np.concatenate([self.rows[kept], rows])
        self.values = pl.concat([self.values.filter(pl.Series(kept)), values])
        self.touched[rows] = True

    def redact(self, pattern: _Pattern, token: str, counts: np.ndarray) -> None:
        """Replace every match of ``pattern`` by ``token``; add the replacements per row to ``counts``."""
        import polars as pl

        rows, values = self.candidates(pattern)
        # `$` starts a group reference in a replacement; a literal one is written `$$`.
        escaped = token.replace("$", "$$")
        replacement = f"${{1}}{escaped}${{2}}" if pattern.context else escaped
        # A match the first pass could not reach had its `before` context taken by the `after`
        # context of the match in front of it, so it starts at most three characters after a token.
        after_token = pl.escape_regex(token) + "(?s:.){0,3}[0-9A-Fa-f:+(]"
        for _ in range(2 if pattern.context else 1):
            if len(rows) == 0:
                return
            found = values.str.count_matches(pattern.regex).to_numpy()
            hit = found > 0
            rows, values = rows[hit], values.filter(pl.Series(hit))
            counts[rows] += found[hit]
            values = values.str.replace_all(pattern.regex, replacement)
            self.update(rows, values)
            again = values.str.contains(after_token).to_numpy()
            rows, values = rows[again], values.filter(pl.Series(again))

    def merged(self, texts: pa.Array) -> pa.Array:
        """``texts`` with the rewritten rows replaced."""
        if len(self.rows) == 0:
            return texts
        order = np.argsort(self.rows)
        values = self.values.gather(order).to_arrow().cast(pa.large_string())
        return pc.replace_with_mask(texts.cast(pa.large_string()), pa.array(self.touched), values)


def _kind_lists(counts: dict[str, np.ndarray], n: int) -> pa.Array:
    """list<string> per row: each kind repeated as many times as it was redacted there."""
    import polars as pl

    if n == 0:
        return pa.array([], pa.list_(pa.string()))
    frame = pl.DataFrame({kind: counts[kind] for kind in counts})
    lists = frame.select(
        pl.concat_list([pl.lit(kind, pl.String).repeat_by(pl.col(kind)) for kind in counts]).alias("kinds")
    )
    return lists.get_column("kinds").to_arrow().cast(pa.list_(pa.string()))
