"""Main-content extraction from decoded HTML, one function per extractor, imported lazily.

``resiliparse``: :func:`resiliparse.extract.html2text.extract_plain_text` with
``main_content=True`` (as DCLM). ``trafilatura``: :func:`trafilatura.extract` with FineWeb's
settings (``favor_precision``, no comments) except ``deduplicate``: trafilatura's
deduplication is a cache of text segments shared by every page the process has extracted,
so a page's text would depend on which pages the same worker saw before (on the executor, the
worker count, a resumed run). Repeated text is curate's dedup stages' job.
"""

from __future__ import annotations

from collections.abc import Callable

Extractor = Callable[[str], str]

# extractor -> (the pip extra of curate that installs it, the module that extra provides)
# (curate[warc] installs both, with warcio, so that either works once it is installed)
EXTRACTORS: dict[str, tuple[str, str]] = {
    "trafilatura": ("warc", "trafilatura"),
    "resiliparse": ("warc", "resiliparse"),
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
        text = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=False)
        return text or ""

    return extract


def load_extractor(name: str) -> Extractor:
    if name == "resiliparse":
        return _resiliparse()
    if name == "trafilatura":
        return _trafilatura()
    raise ValueError(f"unknown extractor {name!r}")
