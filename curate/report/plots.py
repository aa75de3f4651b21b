"""The report's plots: matplotlib (the ``report`` extra, imported on first use), drawn to
inline SVG so that the page needs no network and no other file."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from curate.errors import UsageError


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError("curate report draws with matplotlib: pip install 'curate[report]'") from exc
    plt.rcParams.update({"svg.hashsalt": "curate", "svg.fonttype": "none"})  # same bytes, real text
    return plt


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    _pyplot().close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def funnel(labels: list[str], rows_in: int, kept: list[int]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 0.6 * (len(labels) + 1) + 0.8))
    names = ["input", *labels]
    counts = [rows_in, *kept]
    bars = axes.barh(names[::-1], counts[::-1], color=["#4c72b0"] * len(labels) + ["#999999"])
    for bar, count in zip(bars, counts[::-1], strict=True):
        share = count / rows_in if rows_in else 0
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {count:,} ({share:.1%})", va="center")
    axes.set_xlabel("documents kept")
    axes.set_xlim(0, max(counts) * 1.25 if counts and max(counts) else 1)
    axes.set_title("Funnel: documents left after each stage")
    return _svg(figure)


def histogram(
    values: np.ndarray,
    title: str,
    xlabel: str,
    thresholds: list[tuple[str, float]] | None = None,
    *,
    integer: bool = False,
) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 3.2))
    if integer and len(values):
        edges = np.arange(values.min(), values.max() + 2) - 0.5
        axes.hist(values, bins=edges if len(edges) <= 60 else 40, color="#55a868")
    else:
        axes.hist(values, bins=40, color="#55a868")
    for name, value in thresholds or []:
        axes.axvline(value, color="#c44e52", linestyle="--", linewidth=2)
        axes.text(value, axes.get_ylim()[1] * 0.95, f" {name} = {value:g}", color="#c44e52", va="top")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("documents" if not integer else "clusters")
    return _svg(figure)
