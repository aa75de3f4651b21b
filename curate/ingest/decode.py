"""Turning an HTML payload into text: the charset from the HTTP header, then the page's meta
tag, then detection; and telling binary content served as ``text/html`` apart.

Each claim is tried strictly, in that order: a charset a page claims wrongly (bytes that do
not decode) is counted and the next source is tried. When nothing decodes cleanly the page is
decoded with replacement characters, and dropped as a bad encoding when more than 1% of its
characters had to be replaced.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.IGNORECASE)
_HTML_LANG = re.compile(r"<html\b[^>]{0,500}?\blang\s*=\s*[\"']?\s*([A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*)", re.I)
_SNIFF_BYTES = 4096
_BAD_FRACTION = 0.01
# Bytes no text page holds (NUL and the C0 controls besides tab, newline, form feed, return, escape).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BINARY_FRACTION = 0.05


@dataclass(frozen=True)
class Decoded:
    """``text`` (None: not decodable), the ``charset`` used, whether a claimed charset was
    wrong, and a drop reason (``binary_content``, ``bad_encoding``)."""

    text: str | None
    charset: str | None
    claim_was_wrong: bool = False
    reason: str | None = None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def looks_binary(payload: bytes) -> bool:
    head = payload[:_SNIFF_BYTES]
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 has NULs but is text
        return False
    controls = len(head) - len(head.translate(None, _CONTROL))
    return b"\x00" in head or controls / len(head) > _BINARY_FRACTION


def _detect(payload: bytes) -> str | None:
    try:
        from resiliparse.parse.encoding import detect_encoding
    except ImportError:
        return None
    return _codec(detect_encoding(payload[: 1 << 16]))


def decode_html(payload: bytes, http_charset: str | None) -> Decoded:
    if looks_binary(payload):
        return Decoded(None, None, reason="binary_content")
    if payload.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif payload.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = []
    claimed = [_codec(http_charset)]
    meta = _META_CHARSET.search(payload[:_SNIFF_BYTES])
    claimed.append(_codec(meta.group(1).decode("ascii", "replace")) if meta else None)
    candidates += [c for c in claimed if c]
    wrong = False
    tried: set[str] = set()
    for step in range(len(candidates) + 2):
        # The claims in order, then detection (only when a claim failed or none was made), then UTF-8.
        if step < len(candidates):
            charset = candidates[step]
        else:
            charset = _detect(payload) if step == len(candidates) else "utf-8"
        if charset is None or charset in tried:
            continue
        tried.add(charset)
        try:
            return Decoded(payload.decode(charset), charset, wrong)
        except (UnicodeDecodeError, LookupError):
            if charset in claimed:
                wrong = True
    best = next((c for c in [_detect(payload), *candidates] if c), "utf-8")
    text = payload.decode(best, errors="replace")
    replaced = text.count("\ufffd") - payload.decode(best, errors="ignore").count("\ufffd")
    if replaced > _BAD_FRACTION * max(1, len(text)):
        return Decoded(None, best, wrong, reason="bad_encoding")
    return Decoded(text, best, True)


def html_lang(text: str) -> str | None:
    found = _HTML_LANG.search(text[: _SNIFF_BYTES * 4])
    return found.group(1).lower().replace("_", "-") if found else None
