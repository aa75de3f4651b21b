"""``curate dedup``: near-duplicate (MinHash-LSH) removal. ``curate dedup IN OUT`` runs minhash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from curate.commands.options import (
    _option,
    execution_options,
    input_arguments,
    read_options,
    report,
    run_options,
    survivor_options,
)


class DefaultCommandGroup(click.Group):
    """A group that runs ``default_command`` when its first argument names no command,
    so ``curate dedup in/ out/`` means ``curate dedup minhash in/ out/``."""

    default_command = "minhash"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultCommandGroup)
def dedup() -> None:
    """Remove duplicate and near-duplicate documents (default method: minhash)."""


@dedup.command()
@input_arguments
@_option(
    "--threshold",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="Jaccard similarity at or above which documents are duplicates.",
)
@_option("--num-perm", type=click.IntRange(1, 1024), default=128, show_default=True, help="MinHash permutations.")
@_option("--ngram", type=click.IntRange(min=1), default=5, show_default=True, help="Shingle size (words or chars).")
@_option("--shingle", type=click.Choice(["word", "char"]), default="word", show_default=True, help="Shingle unit.")
@_option("--bands", type=click.IntRange(min=1), default=None, help="LSH bands (default: chosen from --threshold).")
@_option("--rows", type=click.IntRange(min=1), default=None, help="Rows per band (default: chosen from --threshold).")
@_option("--seed", type=int, default=1, show_default=True, help="Seed of the MinHash permutations.")
@survivor_options
@_option(
    "--survivors",
    type=click.Choice(["cover", "keep-rule"]),
    default="cover",
    show_default=True,
    help="cover: keep as few documents as a greedy cover of each cluster's similarity graph finds "
    "(--keep only breaks ties in coverage, so the survivor is the cluster's centre); keep-rule: the member "
    "--keep ranks best always survives and the others join the first survivor they match (keeps more "
    "documents; prefer it when ranking by e.g. --keep max:quality_score matters more than count).",
)
@_option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check each member's exact Jaccard against its cluster's survivor before removing it.",
)
@execution_options
@click.pass_obj
def minhash(app: Any, **params: Any) -> None:
    """MinHash-LSH near-duplicate removal: IN (shard directory, glob or file) to OUT.

    Kept rows go to OUT/part-*.parquet unchanged; removed rows go to
    OUT/_rejects/part-*.parquet with dup_of (the id of the kept survivor), similarity,
    _stage and _reason. Prints a one-line summary (or JSON with --json).
    """
    from curate.dedup.keep import KeepRule
    from curate.dedup.lsh_params import UNVERIFIED_WEIGHTS, VERIFIED_WEIGHTS, optimal_bands
    from curate.dedup.minhash.config import MinHashConfig
    from curate.dedup.minhash.stage import run_minhash
    from curate.errors import UsageError

    bands, rows = params["bands"], params["rows"]
    threshold, num_perm = params["threshold"], params["num_perm"]
    if (bands is None) != (rows is None):
        raise UsageError("give both --bands and --rows, or neither (then they are chosen from --threshold)")
    if bands is None:
        weights = VERIFIED_WEIGHTS if params["verify"] else UNVERIFIED_WEIGHTS
        choice = optimal_bands(threshold, num_perm, *weights)
        bands, rows = choice.bands, choice.rows
        app.notice(
            f"curate: LSH {bands} bands x {rows} rows for threshold {threshold} "
            f"(P(candidate | J={threshold}) = {choice.candidate_probability(threshold):.3f})"
        )
    config = MinHashConfig(
        read=read_options(params),
        threshold=threshold,
        num_perm=num_perm,
        ngram=params["ngram"],
        shingle=params["shingle"],
        bands=bands,
        rows=rows,
        seed=params["seed"],
        keep=KeepRule.parse(params["keep"]),
        verify=params["verify"],
        cluster_columns=params["cluster_columns"],
        survivors=params["survivors"],
    )
    summary = run_minhash(config, params["input_location"], Path(params["output"]), run_options(params, app))
    report(
        app,
        "dedup minhash",
        params,
        summary,
        {"bands": bands, "rows": rows, "threshold": threshold},
        f"{bands}x{rows} bands, ",
    )


@dedup.command()
@input_arguments
@_option(
    "--on",
    default="text",
    show_default=True,
    help="What must be identical: 'text' (the text column), 'url' (normalised URLs) or any column name.",
)
@_option(
    "--normalize",
    type=click.Choice(["none", "basic", "aggressive"]),
    default="basic",
    show_default=True,
    help="none: bytes as they are; basic: NFC, CRLF->LF, trailing whitespace; aggressive: NFKC, case folding, "
    "punctuation and whitespace folded (as minhash).",
)
@survivor_options
@execution_options
@click.pass_obj
def exact(app: Any, **params: Any) -> None:
    """Exact duplicate removal by a 128-bit hash (xxh3-128) of the normalised text, URL or column.

    Same output contract as minhash: kept rows in OUT/part-*.parquet, removed rows in
    OUT/_rejects/ with dup_of (the kept survivor's id) and _reason exact:duplicate_<on>.
    """
    from curate.dedup.exact.config import ExactConfig
    from curate.dedup.exact.stage import run_exact
    from curate.dedup.keep import KeepRule

    config = ExactConfig(
        read=read_options(params),
        on=params["on"],
        normalize=params["normalize"],
        keep=KeepRule.parse(params["keep"]),
        cluster_columns=params["cluster_columns"],
    )
    summary = run_exact(config, params["input_location"], Path(params["output"]), run_options(params, app))
    report(app, "dedup exact", params, summary, {"on": config.on, "normalize": config.normalize}, "")


@dedup.command()
@input_arguments
@_option(
    "--min-count",
    type=click.IntRange(min=2),
    default=3,
    show_default=True,
    help="Remove every occurrence of a line (paragraph) seen at least this many times in the dataset.",
)
@_option(
    "--unit",
    type=click.Choice(["line", "paragraph", "sentences3"]),
    default="line",
    show_default=True,
    help="What repeats: lines, paragraphs, or (C4) spans of three sentences, removed sentence by sentence.",
)
@_option("--keep-first", is_flag=True, help="Keep each frequent line's first occurrence (input order).")
@_option(
    "--min-words",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="A document left with fewer words after removal goes to _rejects (lines:too_short).",
)
@_option("--approx", is_flag=True, help="Count with a count-min sketch (bounded memory, may overcount).")
@_option("--sketch-width", type=int, default=1 << 22, show_default=True, help="Counters per sketch row (power of 2).")
@_option("--sketch-depth", type=click.IntRange(1, 16), default=4, show_default=True, help="Sketch rows.")
@execution_options
@click.pass_obj
def lines(app: Any, **params: Any) -> None:
    """Remove lines (or paragraphs) repeated across the dataset: navigation, banners, footers.

    Counts every normalised line over all shards (exactly, through hash partitions, or with
    --approx in a count-min sketch), removes those seen --min-count times or more from each
    text, and adds <unit>s_removed / chars_removed columns. Documents left too short go to
    OUT/_rejects/ unchanged with _reason lines:too_short.
    """
    from curate.dedup.lines.config import REMOVED_COLUMNS, LinesConfig, SketchShape
    from curate.dedup.lines.stage import run_lines

    config = LinesConfig(
        read=read_options(params),
        unit=params["unit"],
        min_count=params["min_count"],
        keep_first=params["keep_first"],
        min_words=params["min_words"],
        approx=params["approx"],
        sketch=SketchShape(width=params["sketch_width"], depth=params["sketch_depth"]),
    )
    if config.approx:
        shape = config.sketch
        app.notice(
            f"curate: count-min sketch {shape.depth} x {shape.width} ({shape.bytes / 2**20:.2f} MiB): counts exceed "
            f"the truth by more than {shape.epsilon:.2e} x (lines in the dataset) with probability <= {shape.delta:.3f}"
        )
    summary = run_lines(config, params["input_location"], Path(params["output"]), run_options(params, app))
    counters = summary.manifest["counters"]
    column = REMOVED_COLUMNS[config.unit]
    removed = counters[column]
    extra = {"unit": config.unit, "min_count": config.min_count, column: removed}
    if config.approx:
        extra["sketch"] = counters["sketch"]
    report(app, "dedup lines", params, summary, extra, f"{removed} {column.replace('_', ' ')}, ")
