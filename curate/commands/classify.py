"""``curate classify``: train fastText classifiers (``train``, ``train-quality``) and score
documents with one (``score``, a map stage like every filter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from curate.commands.options import _option, json_flag


def _score_report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    empty = counters.get("counted:empty", 0)
    return {"model": stage.model, "column_name": stage.column_name, "empty": empty}, f"{empty} empty, "


def _training_options(fn: Any) -> Any:
    from curate.classify.text import DEFAULT_MAX_CHARS

    decorators = [
        _option("--text-column", default="text", show_default=True, help="Column holding the document text."),
        _option("--epoch", type=click.IntRange(min=1), default=5, show_default=True, help="Training epochs."),
        _option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=0.1, show_default=True),
        _option("--word-ngrams", type=click.IntRange(min=1), default=None, help="Word n-gram length (wordNgrams)."),
        _option("--dim", type=click.IntRange(min=1), default=None, help="Vector dimension."),
        _option("--min-count", type=click.IntRange(min=1), default=1, show_default=True),
        _option("--minn", type=click.IntRange(min=0), default=None, help="Shortest character n-gram (0: none)."),
        _option("--maxn", type=click.IntRange(min=0), default=None, help="Longest character n-gram (0: none)."),
        _option(
            "--bucket",
            type=click.IntRange(min=1),
            default=2_000_000,
            show_default=True,
            help="Hash buckets for n-grams (the model holds bucket x dim floats).",
        ),
        _option("--loss", type=click.Choice(["softmax", "ns", "hs", "ova"]), default="softmax", show_default=True),
        _option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="1: reproducible."),
        _option("--seed", type=int, default=0, show_default=True, help="Seeds fastText and the held-out split."),
        _option("--holdout", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.1, show_default=True),
        _option(
            "--max-chars",
            type=click.IntRange(min=0),
            default=DEFAULT_MAX_CHARS,
            show_default=True,
            help="Train on the first N characters of each document, as score and the filters read them.",
        ),
        json_flag("Print the report as one JSON object."),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def _options(params: dict[str, Any], *, word_ngrams: int, dim: int, minn: int, maxn: int) -> Any:
    from curate.classify.train import TrainOptions

    return TrainOptions(
        epoch=params["epoch"],
        lr=params["lr"],
        word_ngrams=params["word_ngrams"] or word_ngrams,
        dim=params["dim"] or dim,
        min_count=params["min_count"],
        minn=minn if params["minn"] is None else params["minn"],
        maxn=maxn if params["maxn"] is None else params["maxn"],
        bucket=params["bucket"],
        loss=params["loss"],
        threads=params["threads"],
        seed=params["seed"],
        holdout=params["holdout"],
        max_chars=params["max_chars"],
    )


def _print_report(app: Any, report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    held = report["holdout"]
    rows = sum(report["rows"]["train"].values())
    if not held.get("rows"):
        click.echo(f"{report['model']}: trained on {rows} rows; no held-out rows")
        return
    click.echo(
        f"{report['model']}: trained on {rows} rows, {held['rows']} held out: accuracy {held['accuracy']:.4f}, "
        f"macro F1 {held['macro_f1']:.4f}"
    )
    click.echo(f"{'label':<16} {'support':>8} {'precision':>10} {'recall':>8} {'f1':>8}")
    for label, values in held["labels"].items():
        click.echo(
            f"{label:<16} {values['support']:>8} {values['precision']:>10.4f} {values['recall']:>8.4f} "
            f"{values['f1']:>8.4f}"
        )


class ClassifyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from curate.pipelines.registry import group_names

        return sorted([*group_names("classify"), "train", "train-quality"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in ("train", "train-quality"):
            return super().get_command(ctx, cmd_name)
        from curate.commands.stage_command import make_stage_command
        from curate.pipelines.registry import entry

        found = entry("classify", cmd_name)
        return None if found is None else make_stage_command(found, _score_report, short_help=found.summary)


@click.group(cls=ClassifyGroup)
def classify() -> None:
    """fastText classifiers: train one from labelled data, score documents with one (models by path only)."""


@classify.command("train")
@click.argument("input_location", metavar="IN")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@_option("--label-column", required=True, help="Column holding each row's label (one word, e.g. en).")
@_training_options
@click.pass_obj
def train_command(app: Any, input_location: str, model_path: Path, label_column: str, **params: Any) -> None:
    """Train a fastText supervised classifier on IN, labels from --label-column; write MODEL
    and MODEL.report.json (per-label precision / recall / F1 on the held-out rows).

    Text is prepared as score and the filters prepare it (whitespace runs become one space,
    cut to --max-chars). Defaults are fastText's (dim 100, no n-grams) unless given.
    """
    from curate.classify.train import import_fasttext, train
    from curate.io.readers import ReadOptions

    import_fasttext()
    options = _options(params, word_ngrams=1, dim=100, minn=0, maxn=0)
    report = train(input_location, model_path, label_column, ReadOptions(text_column=params["text_column"]), options)
    _print_report(app, report, params["as_json"])


@classify.command("train-quality")
@_option("--positive", required=True, help="Dataset of good documents (labelled hq).")
@_option("--negative", required=True, help="Dataset of other documents (labelled cc).")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False, path_type=Path))
@_training_options
@click.pass_obj
def train_quality_command(app: Any, positive: str, negative: str, model_path: Path, **params: Any) -> None:
    """Train a DCLM-style quality classifier: --positive documents labelled hq against --negative
    documents labelled cc, the larger class subsampled (seeded) to the size of the smaller.
    Word bigrams (--word-ngrams 2) by default, as DCLM's fastText classifier; the same text
    preparation as filter quality. Writes MODEL and MODEL.report.json."""
    from curate.classify.train import import_fasttext, train_quality
    from curate.io.readers import ReadOptions

    import_fasttext()
    options = _options(params, word_ngrams=2, dim=100, minn=0, maxn=0)
    report = train_quality(positive, negative, model_path, ReadOptions(text_column=params["text_column"]), options)
    _print_report(app, report, params["as_json"])
