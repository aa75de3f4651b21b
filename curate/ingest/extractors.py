"""Main-content extraction from decoded HTML, one function per extractor, imported lazily.

``resiliparse``: :func:`resiliparse.extract.html2text.extract_plain_text` with
``main_content=True`` (as DCLM). ``trafilatura``: :func:`trafilatura.extract` with FineWeb's
settings (``favor_precision``, no comments, ``deduplicate``).
"""

from __future__ import annotations

from collections.abc import Callable

Extractor = Callable[[str], str]

# extractor -> (the pip extra of curate that installs it, the module that extra provides)
EXTRACTORS: dict[str, tuple[str, str]] = {
    "resiliparse": ("warc", "resiliparse"),
    "trafilatura": ("trafilatura", "trafilatura"),
}


def _resiliparse() -> Extractor:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def extract(html: str) -> str:
        tree = HTMLTree.parse(html)
        return str(extract_plain_text(tree, main_content=True, alt_texts=False, links=False, form_fields=False))

    return extract


def _trafilatura() -> Extractor:
    import logging

    import trafilatura

    # trafilatura logs a warning per page it finds nothing in: counted by curate instead.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)

    def extract(html: str) -> str:
        text = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True)
        return text or ""

    return extract


def load_extractor(name: str) -> Extractor:
    if name == "resiliparse":
        return _resiliparse()
    if name == "trafilatura":
        return _trafilatura()
    raise ValueError(f"unknown extractor {name!r}")
