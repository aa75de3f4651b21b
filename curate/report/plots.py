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
    # The axis spans the data and the bounds near it; a bound far outside (max_words = 100000 for
    # documents of a few hundred words) would squeeze every bar into one, so it is named at the edge.
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    span = (high - low) or 1.0
    near = [v for _, v in thresholds or [] if low - 3 * span <= v <= high + 3 * span]
    left, right = min([low, *near]) - 0.05 * span, max([high, *near]) + 0.05 * span
    axes.set_xlim(left, right)
    for row, (name, value) in enumerate(thresholds or []):
        # One line of text each, stepped down, so that bounds close together stay readable.
        height = axes.get_ylim()[1] * (0.95 - 0.1 * row)
        if left <= value <= right:
            axes.axvline(value, color="#c44e52", linestyle="--", linewidth=2)
            # Written away from the nearer edge, so that it stays inside the plot.
            if value > (left + right) / 2:
                axes.text(value, height, f"{name} = {value:g} ", color="#c44e52", va="top", ha="right")
            else:
                axes.text(value, height, f" {name} = {value:g}", color="#c44e52", va="top")
        elif value > right:
            axes.text(right, height, f"{name} = {value:g} \u2192", color="#c44e52", va="top", ha="right")
        else:
            axes.text(left, height, f"\u2190 {name} = {value:g}", color="#c44e52", va="top", ha="left")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("documents" if not integer else "clusters")
    return _svg(figure)
