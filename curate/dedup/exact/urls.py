"""URL normalisation for ``--on url``, as polars expressions (vectorised, no per-row Python).

Two URLs are the same document when they differ only in: scheme (http vs https), letter case
of the scheme and host, a leading ``www.``, a default port (:80, :443), a fragment (``#...``)
or a trailing slash of the path. The query string is kept: it often selects the content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

SCHEME = r"^[A-Za-z][A-Za-z0-9+.\-]*://"


def normalize_url_expr(column: pl.Expr) -> pl.Expr:
    import polars as pl

    url = column.str.strip_chars().str.replace(r"#.*$", "")
    scheme = url.str.extract(r"^([A-Za-z][A-Za-z0-9+.\-]*)://", 1).str.to_lowercase()
    rest = url.str.replace(SCHEME, "")
    authority = rest.str.extract(r"^([^/?]*)", 1).str.to_lowercase().str.replace(r"^www\.", "")
    authority = (
        pl.when(scheme == "http")
        .then(authority.str.replace(r":80$", ""))
        .when(scheme == "https")
        .then(authority.str.replace(r":443$", ""))
        .otherwise(authority)
    )
    path = rest.str.replace(r"^[^/?]*", "").str.replace(r"/+(\?|$)", "${1}")
    return authority + path


def normalize_urls(values: pa.Array) -> pa.Array:
    """Normalised URLs; nulls stay null (a null URL is never anyone's duplicate)."""
    import polars as pl

    frame = pl.from_arrow(pa.table({"url": values.cast(pa.large_string())}))
    assert isinstance(frame, pl.DataFrame)
    return frame.select(normalize_url_expr(pl.col("url"))).to_series().to_arrow()
