"""Training fastText supervised classifiers from datasets, with a held-out evaluation.

``train``: one label per row from a column. ``train_quality``: the DCLM recipe, documents
of a positive dataset labelled ``hq`` and of a negative one ``cc``, the larger class
subsampled (seeded) to the size of the smaller, so that the classes are balanced. Both
write every training line through :func:`curate.classify.text.prepared_lines` (the same
preprocessing ``classify score`` and the filters apply), split off a held-out fraction with
a seeded generator, write the lines to temporary files under ``<model dir>/_work/``
(fastText trains from a file), train, save the model atomically and write
``<MODEL>.report.json``: per-label precision, recall and F1 on the held-out rows, accuracy
and macro F1, the options and the model's SHA-256.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.classify.model_file import LABEL_PREFIX, inspect_model
from curate.classify.text import DEFAULT_MAX_CHARS, prepared_lines
from curate.errors import UsageError
from curate.io.columns import text_values
from curate.io.discovery import discover_inputs
from curate.io.readers import ReadOptions, read_batches

POSITIVE_LABEL = "hq"
NEGATIVE_LABEL = "cc"
LOSSES = ("softmax", "ns", "hs", "ova")


def import_fasttext() -> Any:
    """fastText's Python module, for training (``curate[classify]``)."""
    try:
        import fasttext
    except ImportError as exc:
        raise UsageError("curate classify train needs fastText: pip install 'curate[classify]'") from exc
    # fastText's Python wrapper prints a warning on every load_model; nothing to warn about here.
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext


@dataclass(frozen=True)
class TrainOptions:
    """fastText's supervised options (its defaults, except where a comment says)."""

    epoch: int = 5
    lr: float = 0.1
    word_ngrams: int = 1
    dim: int = 100
    min_count: int = 1
    minn: int = 0
    maxn: int = 0
    bucket: int = 2_000_000
    loss: str = "softmax"
    threads: int = 1  # 1: a seeded run gives the same model every time (fastText's own default is 12)
    seed: int = 0
    holdout: float = 0.1
    max_chars: int = DEFAULT_MAX_CHARS

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise UsageError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not 0.0 <= self.holdout < 1.0:
            raise UsageError(f"--holdout must be in [0, 1), got {self.holdout}")
        for name in ("epoch", "dim", "min_count", "threads", "bucket"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")


def _texts_and_labels(location: str, read: ReadOptions, label_column: str | None) -> Iterator[tuple[pa.Array, Any]]:
    shards, _ = discover_inputs(location)
    columns = [read.text_column] + ([label_column] if label_column else [])
    for shard in shards:
        for batch in read_batches(shard, read, columns=columns):
            if label_column is not None and label_column not in batch.schema.names:
                raise UsageError(f"{shard.path}: no label column {label_column!r} (columns: {batch.schema.names})")
            yield text_values(batch, read.text_column), batch.column(label_column) if label_column else None


def _labelled(lines: pa.Array, labels: pa.Array) -> pa.Array:
    prefix = pa.scalar(LABEL_PREFIX, pa.large_string())
    with_prefix = pc.binary_join_element_wise(prefix, labels.cast(pa.large_string()), pa.scalar("", pa.large_string()))
    return pc.binary_join_element_wise(with_prefix, lines, pa.scalar(" ", pa.large_string()))


def _write_lines(handle: Any, lines: pa.Array) -> None:
    if len(lines):
        handle.write("\n".join(lines.to_pylist()))
        handle.write("\n")


@dataclass
class _Split:
    train: Path
    valid: Path
    counts: dict[str, dict[str, int]]


def _split_rows(
    batches: Iterator[tuple[pa.Array, pa.Array]], work: Path, options: TrainOptions, skipped: dict[str, int]
) -> _Split:
    """Write labelled lines to ``train.txt`` / ``valid.txt``: a row goes to the held-out file
    with probability ``holdout`` (one seeded generator, rows in input order)."""
    rng = np.random.default_rng(options.seed)
    counts: dict[str, dict[str, int]] = {"train": {}, "valid": {}}
    train, valid = work / "train.txt", work / "valid.txt"
    # newline="\n": a "\r" inside a document stays a word separator, never a line end.
    with (
        train.open("w", encoding="utf-8", newline="\n") as train_file,
        valid.open("w", encoding="utf-8", newline="\n") as valid_file,
    ):
        for texts, labels in batches:
            lines, empty = prepared_lines(texts, options.max_chars)
            label_text = pc.utf8_trim_whitespace(labels.cast(pa.large_string()))
            bad = pc.match_substring_regex(label_text, r"\s")
            if pc.any(pc.fill_null(bad, False)).as_py():
                example = label_text.filter(pc.fill_null(bad, False))[0].as_py()
                raise UsageError(f"label {example!r} holds whitespace: fastText labels are single words")
            null_label = np.asarray(pc.is_null(label_text).to_numpy(zero_copy_only=False), dtype=bool) | np.asarray(
                pc.equal(pc.fill_null(label_text, ""), "").to_numpy(zero_copy_only=False), dtype=bool
            )
            usable = ~empty & ~null_label
            skipped["empty_text"] += int((empty & ~null_label).sum())
            skipped["no_label"] += int(null_label.sum())
            held = rng.random(len(lines)) < options.holdout
            for part, handle, mask in (("train", train_file, usable & ~held), ("valid", valid_file, usable & held)):
                chosen = pa.array(mask)
                picked = label_text.filter(chosen)
                for item in picked.value_counts().to_pylist():
                    counts[part][item["values"]] = counts[part].get(item["values"], 0) + item["counts"]
                _write_lines(handle, _labelled(lines.filter(chosen), picked))
    return _Split(train, valid, counts)


def evaluate(model: Any, valid: Path) -> dict[str, Any]:
    """Per-label precision / recall / F1 of the top label on the held-out lines, accuracy, macro F1."""
    truth: list[str] = []
    texts: list[str] = []
    with valid.open(encoding="utf-8", newline="\n") as handle:
        for line in handle:
            label, _, text = line.rstrip("\n").partition(" ")
            truth.append(label.removeprefix(LABEL_PREFIX))
            texts.append(text + "\n")
    if not texts:
        return {"rows": 0}
    found, _ = model.f.multilinePredict(texts, 1, 0.0, "replace")
    predicted = np.array([row[0].removeprefix(LABEL_PREFIX) if row else "" for row in found])
    actual = np.array(truth)
    per_label = {}
    for label in sorted(set(truth)):
        tp = int(((predicted == label) & (actual == label)).sum())
        fp = int(((predicted == label) & (actual != label)).sum())
        fn = int(((predicted != label) & (actual == label)).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"support": tp + fn, "precision": precision, "recall": recall, "f1": f1}
    return {
        "rows": len(truth),
        "accuracy": float((predicted == actual).mean()),
        "macro_f1": float(np.mean([v["f1"] for v in per_label.values()])),
        "labels": per_label,
    }


def _fit(split: _Split, model_path: Path, work: Path, options: TrainOptions) -> tuple[Any, str]:
    fasttext = import_fasttext()
    if split.train.stat().st_size == 0:
        raise UsageError("no training rows (every row empty, unlabelled or held out)")
    temporary = work / "model.bin"
    # fastText trains in a spawned process of its own: a second train_supervised in one process
    # fails with "Encountered NaN." whatever the data (fasttext-numpy2 0.10: the first call
    # leaves state behind), and a process is also where its threads belong.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            pool.submit(train_to_file, str(split.train), str(temporary), options).result()
        except RuntimeError as exc:  # "Encountered NaN.": the learning rate is too high for these data
            raise UsageError(f"fastText training failed ({exc}): try a lower --lr than {options.lr}") from exc
    model_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, model_path)
    return fasttext.load_model(str(model_path)), inspect_model(model_path).sha256


def train_to_file(train: str, output: str, options: TrainOptions) -> None:
    """Train on the lines of ``train`` and save the model to ``output`` (in a worker process)."""
    fasttext = import_fasttext()
    # Training does not depend on warning filters; under -W error a warning raised inside
    # fastText's loop would also surface as "Encountered NaN.".
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        model = fasttext.train_supervised(
            input=train,
            epoch=options.epoch,
            lr=options.lr,
            wordNgrams=options.word_ngrams,
            dim=options.dim,
            minCount=options.min_count,
            minn=options.minn,
            maxn=options.maxn,
            bucket=options.bucket,
            loss=options.loss,
            thread=options.threads,
            seed=options.seed,
            verbose=0,
        )
    model.save_model(output)


def report_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".report.json")


def _work_dir(model_path: Path) -> Path:
    work = model_path.parent / "_work" / f"classify-train-{model_path.name}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    return work


def _finish(
    model_path: Path, work: Path, split: _Split, options: TrainOptions, extra: dict[str, Any]
) -> dict[str, Any]:
    try:
        model, digest = _fit(split, model_path, work, options)
        evaluation = evaluate(model, split.valid)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with_parent = work.parent
        if with_parent.name == "_work" and not any(with_parent.iterdir()):
            with_parent.rmdir()
    report = {
        "model": str(model_path),
        "sha256": digest,
        "labels": sorted(set(split.counts["train"]) | set(split.counts["valid"])),
        "rows": split.counts,
        **extra,
        "options": asdict(options),
        "holdout": evaluation,
    }
    report_path(model_path).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


def train(
    location: str, model_path: Path, label_column: str, read: ReadOptions, options: TrainOptions
) -> dict[str, Any]:
    """Train on ``location`` (a dataset, directory, glob or file) with labels from ``label_column``."""
    options.validate()
    work = _work_dir(model_path)
    skipped = {"empty_text": 0, "no_label": 0}
    try:
        split = _split_rows(_texts_and_labels(location, read, label_column), work, options, skipped)  # type: ignore[arg-type]
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _finish(model_path, work, split, options, {"label_column": label_column, "skipped": skipped})


def _class_texts(location: str, read: ReadOptions, max_chars: int) -> tuple[pa.Array, int]:
    """The non-empty prepared lines of one class, and how many empty documents were left out."""
    chunks = []
    empty_rows = 0
    for texts, _ in _texts_and_labels(location, read, None):
        lines, empty = prepared_lines(texts, max_chars)
        chunks.append(lines.filter(pa.array(~empty)))
        empty_rows += int(empty.sum())
    joined = pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string())
    return joined, empty_rows


def train_quality(
    positive: str, negative: str, model_path: Path, read: ReadOptions, options: TrainOptions
) -> dict[str, Any]:
    """The DCLM recipe: ``hq`` (positive) against ``cc`` (negative), balanced by subsampling the
    larger class without replacement (seeded), then the same split, training and report."""
    options.validate()
    rng = np.random.default_rng(options.seed)
    good, good_empty = _class_texts(positive, read, options.max_chars)
    bad, bad_empty = _class_texts(negative, read, options.max_chars)
    size = min(len(good), len(bad))
    if size == 0:
        raise UsageError(f"a class has no non-empty documents ({len(good)} positive, {len(bad)} negative)")

    def sample(lines: pa.Array) -> pa.Array:
        chosen = np.sort(rng.choice(len(lines), size=size, replace=False))
        return lines.take(pa.array(chosen))

    texts = pa.concat_arrays([sample(good), sample(bad)])
    labels = pa.array([POSITIVE_LABEL] * size + [NEGATIVE_LABEL] * size, pa.large_string())
    order = pa.array(rng.permutation(2 * size))
    work = _work_dir(model_path)
    skipped = {"empty_text": 0, "no_label": 0}
    try:
        split = _split_rows(iter([(texts.take(order), labels.take(order))]), work, options, skipped)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    extra = {
        "positive": positive,
        "negative": negative,
        "available": {POSITIVE_LABEL: len(good), NEGATIVE_LABEL: len(bad)},
        "per_class": size,
        "skipped": {"empty_text": good_empty + bad_empty},
        "preprocessing": "curate.classify.text.prepared_lines (whitespace runs to one space, --max-chars)",
    }
    return _finish(model_path, work, split, options, extra)
