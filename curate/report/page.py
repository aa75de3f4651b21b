"""The report as one HTML page: the funnel, a table of counts, then one section per stage."""

from __future__ import annotations

import html
from pathlib import Path

from curate.report import plots
from curate.report.data import StageView

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f0f0f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
section { border-top: 2px solid #4c72b0; margin-top: 2em; } .doc { background: #f7f7f7; padding: 6px;
white-space: pre-wrap; font-size: 90%; margin: 4px 0; } .dup { border-left: 4px solid #55a868; }
figure { margin: 1em 0; } svg { max-width: 100%; height: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _counts_table(views: list[StageView]) -> str:
    rows = ["<tr><th>#</th><th>stage</th><th>output</th><th>in</th><th>kept</th><th>dropped</th><th>why</th></tr>"]
    for number, view in enumerate(views, 1):
        why = "<br>".join(f"{_e(reason)}: {count:,}" for reason, count in sorted(view.dropped.items()))
        flagged = "<br>".join(f"flagged {_e(reason)}: {count:,}" for reason, count in sorted(view.flagged.items()))
        rows.append(
            f"<tr><td>{number}</td><td>{_e(view.stage)}</td><td>{_e(view.output)}</td>"
            f"<td class=n>{view.rows_in:,}</td><td class=n>{view.rows_kept:,}</td>"
            f"<td class=n>{view.rows_removed:,}</td><td>{why}{'<br>' if why and flagged else ''}{flagged}</td></tr>"
        )
    return "<table id=counts>" + "".join(rows) + "</table>"


def _section(number: int, view: StageView) -> str:
    parts = [f"<section id=stage-{number}><h2>{number}. {_e(view.stage)}</h2><p>{_e(view.output)}</p>"]
    if len(view.cluster_sizes):
        parts.append(
            "<figure class=clusters>"
            + plots.histogram(view.cluster_sizes, "Duplicate cluster sizes", "documents per cluster", integer=True)
            + "</figure>"
        )
    if len(view.similarities):
        parts.append(
            "<figure class=similarity>"
            + plots.histogram(view.similarities, "Similarity of removed documents to their survivor", "similarity")
            + "</figure>"
        )
    for statistic in view.statistics:
        parts.append(
            f"<figure class=statistic data-column='{_e(statistic.column)}'>"
            + plots.histogram(statistic.values, statistic.column, statistic.column, statistic.thresholds)
            + "</figure>"
        )
    for reason, removed in sorted(view.samples.items()):
        parts.append(f"<h3>Removed: {_e(reason)} ({view.dropped.get(reason, 0):,} in all)</h3>")
        for doc in removed:
            parts.append(f"<div class=doc><b>{_e(doc.id)}</b>: {_e(doc.excerpt)}</div>")
            if doc.dup_of is not None:
                similarity = f" (similarity {doc.similarity:.3f})" if doc.similarity is not None else ""
                kept = _e(doc.dup_excerpt) if doc.dup_excerpt is not None else "<i>not in this output</i>"
                parts.append(f"<div class='doc dup'>duplicate of <b>{_e(doc.dup_of)}</b>{similarity}: {kept}</div>")
    parts.append("</section>")
    return "".join(parts)


def render(views: list[StageView], stopped: list[str]) -> str:
    first = views[0].rows_in if views else 0
    funnel = plots.funnel([f"{i}. {v.stage}" for i, v in enumerate(views, 1)], first, [v.rows_kept for v in views])
    notes = "".join(f"<li>{_e(note)}</li>" for note in stopped)
    body = (
        "<h1>curate report</h1>"
        f"<figure class=funnel>{funnel}</figure>"
        f"{_counts_table(views)}<ul class=notes>{notes}</ul>" + "".join(_section(i, v) for i, v in enumerate(views, 1))
    )
    return (
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>curate report</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def write(path: Path, page: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(path)
