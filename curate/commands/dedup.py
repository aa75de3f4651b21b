"""``curate dedup``: near-duplicate (MinHash-LSH) removal. ``curate dedup IN OUT`` runs minhash."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from curate.commands.options import _option, input_options, run_options
from curate.errors import ExitCode


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
@input_options
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
@_option(
    "--keep",
    default="first",
    show_default=True,
    help="Survivor of each cluster: first, longest, shortest, max:COL, min:COL (ties broken by id).",
)
@_option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check each member's exact Jaccard against its cluster's survivor before removing it.",
)
@_option("--cluster-columns", is_flag=True, help="Add dup_cluster / dup_cluster_size columns to kept rows.")
@run_options
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
    from curate.io.readers import ReadOptions
    from curate.pipelines.runner import RunOptions

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
    read = ReadOptions(
        text_column=params["text_column"],
        id_column=params["id_column"] or "id",
        id_column_explicit=params["id_column"] is not None,
    )
    config = MinHashConfig(
        read=read,
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
    )
    options = RunOptions(
        executor=params["executor"],
        workers=params["workers"],
        ray_address=params["ray_address"],
        overwrite=params["overwrite"],
        skip_bad_shards=params["on_error"] == "skip",
        quiet=app.quiet,
        keep_work=params["keep_work"],
    )
    output = Path(params["output"])
    summary = run_minhash(config, params["input_location"], output, options)
    manifest = summary.manifest
    counters = manifest["counters"]
    result = {
        "stage": "dedup minhash",
        "input": params["input_location"],
        "output": str(output),
        "rows_in": manifest["rows_in"],
        "rows_kept": manifest["rows_out"],
        "rows_removed": manifest["rows_rejected"],
        "clusters": counters["clusters"],
        "seconds": manifest["seconds"],
        "bands": bands,
        "rows": rows,
        "threshold": threshold,
        "quarantined": summary.quarantined,
        "already_done": summary.reused,
    }
    if params["as_json"]:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        share = 100.0 * result["rows_removed"] / result["rows_in"] if result["rows_in"] else 0.0
        done = " (already done)" if summary.reused else ""
        click.echo(
            f"dedup minhash: {result['rows_in']} in, {result['rows_kept']} kept, {result['rows_removed']} removed "
            f"({share:.2f}%), {result['clusters']} clusters, {bands}x{rows} bands, {result['seconds']:.2f} s "
            f"-> {output}{done}"
        )
    if result["rows_in"] and not result["rows_kept"]:
        app.notice("curate: warning: every document was removed")
    if summary.quarantined:
        for item in summary.quarantined:
            app.notice(f"curate: quarantined {item['path']}: {item['error']}")
        sys.exit(ExitCode.BAD_INPUT)
