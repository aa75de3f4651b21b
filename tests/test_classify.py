"""curate classify and the fastText filters, on small real models trained here from the shared
corpora (seeded, seconds): accuracy floors on held-out labels, the filters' verdicts against
fastText's own predictions, model files that are missing, cut short, random or changed."""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard
from tests.corpus import LINGUA_TO_UDHR, informal_documents, lingua_rows, prose_documents, udhr_paragraphs

fasttext = pytest.importorskip("fasttext")

LANGUAGES = list(LINGUA_TO_UDHR)
# A small model: 16 dimensions, character 2-4-grams in 200k buckets (13 MB), 25 epochs (~6 s).
SMALL = ["--dim", "16", "--minn", "2", "--maxn", "4", "--bucket", "200000"]
SMALL += ["--epoch", "25", "--lr", "0.5", "--seed", "1"]


@pytest.fixture(scope="module")
def lid(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A language-ID model of 12 languages trained on lingua's test sentences."""
    root = tmp_path_factory.mktemp("lid")
    write_shard(root / "train" / "part-0.parquet", lingua_rows(shared_data, LANGUAGES))
    model = root / "lid.bin"
    result = invoke("classify", "train", str(root / "train"), str(model), "--label-column", "language", *SMALL)
    assert result.exit_code == 0, result.output
    return model


def _fasttext_top(model: Path, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """fastText's own answer on the documented preparation, written here in plain Python: line
    breaks to spaces, the first 10,000 characters; nothing but fastText's separators is empty."""
    loaded = fasttext.load_model(str(model))
    labels, scores = [], []
    for text in texts:
        line = text.replace("\n", " ")[:10_000]
        if not line.strip(" \t\r\v\f\0"):
            labels.append("unknown")
            scores.append(0.0)
            continue
        label, score = loaded.predict(line)
        labels.append(label[0].removeprefix("__label__"))
        scores.append(min(1.0, float(score[0])))
    return labels, np.array(scores, dtype=np.float32)


def test_train_reports_per_label_scores_beside_the_model(lid: Path) -> None:
    report = json.loads(lid.with_name("lid.bin.report.json").read_text())
    held = report["holdout"]
    assert sorted(held["labels"]) == sorted(LANGUAGES)
    assert held["rows"] == sum(report["rows"]["valid"].values()) > 500
    assert held["accuracy"] >= 0.93, held
    assert min(v["f1"] for v in held["labels"].values()) >= 0.8, held
    assert report["sha256"] == __import__("hashlib").sha256(lid.read_bytes()).hexdigest()
    assert not (lid.parent / "_work").exists()  # the model directory, not an output


def test_lid_trained_on_lingua_identifies_udhr_paragraphs(lid: Path, shared_data: Path, tmp_path: Path) -> None:
    """A different source: UDHR paragraphs, labelled by their file's ISO 639-3 code."""
    rows = [
        {"id": f"{lang}-{i}", "text": text, "truth": lang}
        for lang, code in LINGUA_TO_UDHR.items()
        for i, text in enumerate(udhr_paragraphs(shared_data, code))
    ]
    write_shard(tmp_path / "in" / "part-0.parquet", rows)
    result = invoke("classify", "score", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(lid))
    assert result.exit_code == 0, result.output
    table = read_dir(tmp_path / "out")
    assert table.num_rows == len(rows)
    truth = np.array(table.column("truth").to_pylist())
    found = np.array(table.column("classifier_label").to_pylist())
    per_language = {lang: float((found[truth == lang] == lang).mean()) for lang in LANGUAGES}
    assert np.mean(list(per_language.values())) >= 0.95, per_language
    assert min(per_language.values()) >= 0.8, per_language
    expected, scores = _fasttext_top(lid, table.column("text").to_pylist())
    assert found.tolist() == expected
    np.testing.assert_allclose(table.column("classifier_score").to_numpy(), scores, rtol=1e-6)


def test_filter_lang_keeps_what_fasttext_says(lid: Path, shared_data: Path, tmp_path: Path) -> None:
    rows = lingua_rows(shared_data, ["en", "de", "fr", "nl"], kind="word-pairs")[::7]
    rows += [{"id": "empty", "text": "", "language": "en"}, {"id": "blank", "text": " \n\t\n ", "language": "en"}]
    rows += [{"id": "newlines", "text": "\n\n\n", "language": "en"}, {"id": "null", "text": None, "language": "en"}]
    write_shard(tmp_path / "in" / "part-0.parquet", rows)
    out = tmp_path / "out"
    result = invoke(
        "filter", "lang", str(tmp_path / "in"), str(out), "--model", str(lid), "--keep", "en,de", "--min-score", "0.6"
    )
    assert result.exit_code == 0, result.output
    labels, scores = _fasttext_top(lid, [str(r["text"] or "") for r in rows])
    expected = {}
    for row, label, score in zip(rows, labels, scores, strict=True):
        if label == "unknown":
            expected[row["id"]] = "lang:empty"
        elif label not in ("en", "de"):
            expected[row["id"]] = "lang:not_kept"
        elif score < np.float32(0.6):
            expected[row["id"]] = "lang:low_score"
        else:
            expected[row["id"]] = None
    kept = read_dir(out)
    rejects = read_dir(rejects_dir(out))
    assert sorted(kept.column("id").to_pylist()) == sorted(k for k, v in expected.items() if v is None)
    assert dict(zip(rejects.column("id").to_pylist(), rejects.column("_reason").to_pylist(), strict=True)) == {
        k: v for k, v in expected.items() if v is not None
    }
    for name in ("empty", "blank", "newlines", "null"):
        assert expected[name] == "lang:empty"
    assert set(kept.column("lang").to_pylist()) <= {"en", "de"}
    assert "lang_score" in rejects.schema.names
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["rows_in"] == len(rows) == manifest["rows_kept"] + manifest["rows_removed"]
    assert manifest["counters"]["dropped:lang:empty"] == 4
    assert Counter(v for v in expected.values() if v) == {
        k.removeprefix("dropped:"): v for k, v in manifest["counters"].items() if k.startswith("dropped:")
    }


def test_score_top_k_lists_and_a_ten_megabyte_document(lid: Path, tmp_path: Path) -> None:
    big = "Dies ist ein deutscher Satz über das Wetter.\n" * 240_000  # ~10.8 MB
    rows = [{"id": "big", "text": big}, {"id": "en", "text": "the weather is nice today and we go outside"}]
    rows.append({"id": "blank", "text": "   "})
    write_shard(tmp_path / "in" / "part-0.parquet", rows)
    for max_chars in ("10000", "0"):
        out = tmp_path / f"out{max_chars}"
        result = invoke(
            "classify", "score", str(tmp_path / "in"), str(out), "--model", str(lid), "--k", "3",
            "--column-name", "lid", "--max-chars", max_chars,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        table = read_dir(out).to_pylist()
        by_id = {row["id"]: row for row in table}
        assert by_id["big"]["lid_label"][0] == "de" and len(by_id["big"]["lid_label"]) == 3
        assert by_id["en"]["lid_label"][0] == "en"
        assert by_id["blank"]["lid_label"] == ["unknown"] and by_id["blank"]["lid_score"] == [0.0]
        assert all(s1 >= s2 for s1, s2 in itertools.pairwise(by_id["en"]["lid_score"]))


def test_a_language_the_model_lacks_is_refused_before_any_work(lid: Path, tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "part-0.parquet", [{"id": "a", "text": "hello"}])
    out = tmp_path / "out"
    result = invoke("filter", "lang", str(tmp_path / "in"), str(out), "--model", str(lid), "--keep", "en,xh")
    assert result.exit_code == 2
    assert "no label 'xh'" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("damage", ["missing", "truncated", "random", "header-only", "extra-bytes", "sha256"])
def test_bad_model_files_are_clear_errors(lid: Path, tmp_path: Path, damage: str) -> None:
    write_shard(tmp_path / "in" / "part-0.parquet", [{"id": "a", "text": "hello"}])
    data = lid.read_bytes()
    model = tmp_path / "model.bin"
    extra: list[str] = []
    if damage == "truncated":
        model.write_bytes(data[: len(data) // 2])  # fastText itself loads this without complaint
    elif damage == "random":
        model.write_bytes(np.random.default_rng(0).bytes(50_000))
    elif damage == "header-only":
        model.write_bytes(data[:200])
    elif damage == "extra-bytes":
        model.write_bytes(data + b"\0" * 8)
    elif damage == "sha256":
        shutil.copy(lid, model)
        extra = ["--model-sha256", "0" * 64]
    out = tmp_path / "out"
    result = invoke("filter", "lang", str(tmp_path / "in"), str(out), "--model", str(model), "--keep", "en", *extra)
    expected_code = 2 if damage in ("missing", "sha256") else 3
    assert result.exit_code == expected_code, result.output
    assert str(model) in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_model_changed_before_a_resume_is_refused(lid: Path, tmp_path: Path, shared_data: Path) -> None:
    """An unfinished run (its markers, no manifest) whose model then changes: refused, then --overwrite."""
    for shard in range(3):
        write_shard(tmp_path / "in" / f"part-{shard}.parquet", lingua_rows(shared_data, ["en", "fr"])[shard::3])
    model = tmp_path / "model.bin"
    shutil.copy(lid, model)
    out = tmp_path / "out"
    args = ["filter", "lang", str(tmp_path / "in"), str(out), "--model", str(model), "--keep", "en", "--keep-work"]
    assert invoke(*args).exit_code == 0
    first = read_dir(out)
    os.remove(manifest_path(out))  # as a run killed after its last shard leaves it
    assert invoke(*args).exit_code == 0  # same model: resumes from the markers
    assert read_dir(out).equals(first)
    os.remove(manifest_path(out))
    # Still a complete, valid model, with one output weight changed.
    data = bytearray(model.read_bytes())
    data[-4:] = np.float32(0.125).tobytes()
    model.write_bytes(bytes(data))
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "--overwrite" in result.stderr
    assert invoke(*args, "--overwrite").exit_code == 0


def test_setup_refuses_a_model_changed_after_the_stage_was_built(lid: Path, tmp_path: Path) -> None:
    from curate.classify.stages import LangFilter
    from curate.errors import BadInputError

    model = tmp_path / "model.bin"
    shutil.copy(lid, model)
    stage = LangFilter(model=str(model), keep="en")
    data = bytearray(model.read_bytes())
    data[-4:] = np.float32(0.125).tobytes()
    model.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match="changed since the run started"):
        stage.setup()


def test_lang_filter_in_a_pipeline_equals_the_chain(lid: Path, shared_data: Path, tmp_path: Path) -> None:
    for shard in range(2):
        write_shard(tmp_path / "in" / f"part-{shard}.parquet", lingua_rows(shared_data, ["en", "de", "fr"])[shard::2])
    (tmp_path / "p.yaml").write_text(
        f"stages:\n  - filter lang: {{model: {lid}, keep: 'en,de', min-score: 0.7}}\n"
        f"  - classify score: {{model: {lid}, column-name: again, k: 2}}\n  - filter gopher-quality: {{}}\n"
    )
    result = invoke("run", str(tmp_path / "p.yaml"), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    chain = [
        ["filter", "lang", str(tmp_path / "in"), str(tmp_path / "c1"), "--model", str(lid), "--keep", "en,de",
         "--min-score", "0.7"],
        ["classify", "score", str(tmp_path / "c1"), str(tmp_path / "c2"), "--model", str(lid), "--column-name",
         "again", "--k", "2"],
        ["filter", "gopher-quality", str(tmp_path / "c2"), str(tmp_path / "c3")],
    ]  # fmt: skip
    for args in chain:
        assert invoke(*args).exit_code == 0
    for shard in range(2):
        name = f"part-{shard:05d}.parquet"
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "c3" / name).read_bytes()
        assert (rejects_dir(tmp_path / "p") / "01-filter_lang" / name).read_bytes() == (
            rejects_dir(tmp_path / "c1") / name
        ).read_bytes()
    manifest = json.loads(manifest_path(tmp_path / "p").read_text())
    assert manifest["groups"] == [[1, 2, 3]]


def test_train_quality_separates_prose_from_informal_text(shared_data: Path, tmp_path: Path) -> None:
    prose = prose_documents(shared_data, books=20, per_book=40)
    informal = informal_documents(shared_data)
    write_shard(tmp_path / "good" / "part-0.parquet", [{"text": t} for t in prose])
    write_shard(tmp_path / "bad" / "part-0.parquet", [{"text": t} for t in informal])
    model = tmp_path / "quality.bin"
    result = invoke(
        "classify", "train-quality", "--positive", str(tmp_path / "good"), "--negative", str(tmp_path / "bad"),
        str(model), "--dim", "16", "--bucket", "200000", "--epoch", "10", "--holdout", "0.2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["per_class"] == min(len(prose), len(informal))
    assert report["rows"]["train"]["hq"] + report["rows"]["valid"]["hq"] == report["per_class"]
    assert report["rows"]["train"]["cc"] + report["rows"]["valid"]["cc"] == report["per_class"]
    assert report["holdout"]["accuracy"] >= 0.9, report["holdout"]
    # Other passages of the same books (never trained on), and SMS (5 % of them were, at most).
    more_prose = prose_documents(shared_data, books=20, per_book=40, skip=60, articles=False)
    assert len(more_prose) >= 100
    unseen = [{"id": f"p{i}", "text": t} for i, t in enumerate(more_prose)]
    unseen += [{"id": f"s{i}", "text": t} for i, t in enumerate(informal[:300])]
    write_shard(tmp_path / "mixed" / "part-0.parquet", unseen)
    out = tmp_path / "out"
    result = invoke("filter", "quality", str(tmp_path / "mixed"), str(out), "--model", str(model), "--min-score", "0.5")
    assert result.exit_code == 0, result.output
    kept = read_dir(out).column("id").to_pylist()
    prose_kept = sum(k.startswith("p") for k in kept) / len(more_prose)
    sms_kept = sum(k.startswith("s") for k in kept) / 300
    assert prose_kept >= 0.9 and sms_kept <= 0.1, (prose_kept, sms_kept)
    scores = pq.read_table(rejects_dir(out)).column("quality_score").to_numpy()
    assert (scores < 0.5).all()


@pytest.fixture(scope="module")
def quality(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    write_shard(root / "good" / "part-0.parquet", [{"text": t} for t in prose_documents(shared_data, 20, 40)])
    write_shard(root / "bad" / "part-0.parquet", [{"text": t} for t in informal_documents(shared_data)])
    model = root / "quality.bin"
    result = invoke(
        "classify", "train-quality", "--positive", str(root / "good"), "--negative", str(root / "bad"), str(model),
        "--dim", "16", "--bucket", "200000", "--epoch", "10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return model


def _hq_probability(model: Path, texts: list[str | None]) -> np.ndarray:
    """fastText's probability of __label__hq, NaN for an empty text (computed without curate)."""
    loaded = fasttext.load_model(str(model))
    values = []
    for text in texts:
        line = (text or "").replace("\n", " ")[:10_000]
        if not line.strip(" \t\r\v\f\0"):
            values.append(np.nan)
            continue
        labels, probabilities = loaded.predict(line, k=2)
        values.append(dict(zip(labels, probabilities, strict=True)).get("__label__hq", 0.0))
    return np.array(values, dtype=np.float32)


@pytest.mark.parametrize("percent", ["10", "33.3", "100"])
def test_top_percent_is_an_exact_cut_over_every_shard(
    quality: Path, shared_data: Path, tmp_path: Path, percent: str
) -> None:
    texts: list[str | None] = [*prose_documents(shared_data, 20, 10, skip=100, articles=False)]
    texts += [*informal_documents(shared_data)[::20], "", None, " \n "]
    rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
    for shard in range(3):
        write_shard(tmp_path / "in" / f"part-{shard}.parquet", rows[shard::3])
    out = tmp_path / "out"
    args = ["filter", "quality", str(tmp_path / "in"), str(out), "--model", str(quality), "--top-percent", percent]
    result = invoke(*args, "--workers", "2")
    assert result.exit_code == 0, result.output
    # Brute force: sort every non-empty score, the target-th highest is the cut, ties kept.
    ordered = [r for shard in range(3) for r in rows[shard::3]]
    scores = _hq_probability(quality, [r["text"] for r in ordered])
    present = np.sort(scores[~np.isnan(scores)])[::-1]
    target = int(np.ceil(len(present) * float(percent) / 100))
    threshold = present[target - 1]
    expected = {r["id"] for r, s in zip(ordered, scores, strict=True) if not np.isnan(s) and s >= threshold}
    kept = read_dir(out)
    assert set(kept.column("id").to_pylist()) == expected
    assert len(expected) >= target
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["top_percent"]["target"] == target
    assert manifest["top_percent"]["threshold"] == pytest.approx(float(threshold), rel=1e-6)
    assert manifest["counters"]["dropped:quality:empty"] == 3
    assert manifest["rows_in"] == len(rows) == manifest["rows_kept"] + manifest["rows_removed"]
    assert invoke(*args).exit_code == 0  # the same command again: nothing to do


def test_lang_then_top_percent_in_a_pipeline_equals_the_chain(
    lid: Path, quality: Path, shared_data: Path, tmp_path: Path
) -> None:
    texts = prose_documents(shared_data, 20, 5, skip=100, articles=False) + informal_documents(shared_data)[::40]
    texts += [r["text"] for r in lingua_rows(shared_data, ["de", "fr"])[::50]]  # type: ignore[misc]
    for shard in range(2):
        write_shard(tmp_path / "in" / f"part-{shard}.parquet", [{"text": t} for t in texts[shard::2]])
    (tmp_path / "p.yaml").write_text(
        f"stages:\n  - filter lang: {{model: {lid}, keep: en, min-score: 0.5}}\n"
        f"  - filter quality: {{model: {quality}, top-percent: 25}}\n  - filter gopher-repetition: {{}}\n"
    )
    result = invoke("run", str(tmp_path / "p.yaml"), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    chain = [
        ["filter", "lang", str(tmp_path / "in"), str(tmp_path / "c1"), "--model", str(lid), "--keep", "en",
         "--min-score", "0.5"],
        ["filter", "quality", str(tmp_path / "c1"), str(tmp_path / "c2"), "--model", str(quality), "--top-percent",
         "25"],
        ["filter", "gopher-repetition", str(tmp_path / "c2"), str(tmp_path / "c3")],
    ]  # fmt: skip
    for args in chain:
        assert invoke(*args).exit_code == 0
    manifest = json.loads(manifest_path(tmp_path / "p").read_text())
    assert manifest["groups"] == [[1], [2, 3]]
    outputs = sorted(p.name for p in (tmp_path / "c3").glob("part-*.parquet"))
    assert outputs == sorted(p.name for p in (tmp_path / "p").glob("part-*.parquet"))
    for name in outputs:
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "c3" / name).read_bytes()


def test_the_example_script_and_recipe(shared_data: Path, tmp_path: Path) -> None:
    """examples/train_lid.py trains the model; examples/fineweb-lid.yaml fuses it with the filters."""
    import subprocess
    import sys

    checkout = Path(__file__).resolve().parents[1]
    model = tmp_path / "lid.bin"
    script = str(checkout / "examples" / "train_lid.py")
    subprocess.run(
        [sys.executable, script, "--out", str(model), "--shared", str(shared_data)],
        check=True, capture_output=True, cwd=checkout,
    )  # fmt: skip
    recipe = (checkout / "examples" / "fineweb-lid.yaml").read_text().replace("examples/models/lid.bin", str(model))
    recipe = recipe.replace("input: examples/sample", f"input: {checkout / 'examples' / 'sample'}")
    (tmp_path / "recipe.yaml").write_text(recipe)
    result = invoke("run", str(tmp_path / "recipe.yaml"), "--output", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["groups"] == [[1, 2, 3, 4], [5], [6, 7]]
    lang = manifest["stages"][0]
    assert lang["stage"] == "filter lang" and lang["rows_in"] == 3000
    assert lang["dropped"]["lang:empty"] == 4  # the sample's four empty documents
    assert lang["rows_kept"] >= 2900  # the sample is English
    assert manifest["rows_in"] == manifest["rows_kept"] + manifest["rows_removed"]


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_processes_and_ray_actors_give_the_same_bytes(
    lid: Path, shared_data: Path, tmp_path: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    """setup() in spawned processes and in Ray actors: the model loads there, the output is the same."""
    for shard in range(3):
        write_shard(tmp_path / "in" / f"part-{shard}.parquet", lingua_rows(shared_data, ["en", "de", "nl"])[shard::3])
    base = ["filter", "lang", str(tmp_path / "in"), "--model", str(lid), "--keep", "en,nl", "--workers", "2"]
    assert invoke(*base[:3], str(tmp_path / "threads"), *base[3:]).exit_code == 0
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
        extra = ["--executor", "ray"]
    else:
        extra = ["--pool", "process"]
    result = invoke(*base[:3], str(tmp_path / "other"), *base[3:], *extra)
    assert result.exit_code == 0, result.output
    for shard in range(3):
        name = f"part-{shard:05d}.parquet"
        assert (tmp_path / "threads" / name).read_bytes() == (tmp_path / "other" / name).read_bytes()
        assert (rejects_dir(tmp_path / "threads") / name).read_bytes() == (
            rejects_dir(tmp_path / "other") / name
        ).read_bytes()


def test_scoring_needs_no_fasttext_and_training_names_the_extra(lid: Path, tmp_path: Path) -> None:
    """Prediction runs in curate's Rust extension: without fastText's Python module a model still
    scores; training (fastText's trainer, curate[classify]) names the extra."""
    import subprocess
    import sys

    write_shard(tmp_path / "in" / "part-0.parquet", [{"id": "a", "text": "hello"}])
    hide = "import sys; sys.modules['fasttext'] = None; from curate.cli import main; main(sys.argv[1:])"
    scoring = ["filter", "lang", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(lid), "--min-score", "0"]
    done = subprocess.run([sys.executable, "-c", hide, *scoring], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert read_dir(tmp_path / "out").num_rows == 1
    training = ["classify", "train", str(tmp_path / "in"), str(tmp_path / "m.bin"), "--label-column", "id"]
    done = subprocess.run([sys.executable, "-c", hide, *training], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "pip install 'curate[classify]'" in done.stderr
    assert not (tmp_path / "m.bin").exists()


def test_a_struct_text_field_is_scored_filtered_and_cut_like_a_top_level_one(
    lid: Path, quality: Path, tmp_path: Path
) -> None:
    """--text-column metadata.text: classify score, filter lang and filter quality --top-percent
    give what they give with the text as a top-level column, the struct kept as it was."""
    from tests.test_nested_text_column import _same_as_flat, _write

    nested_in, flat_in = _write(tmp_path)
    commands = [
        ["classify", "score", "--model", str(lid), "--column-name", "lang"],
        ["filter", "lang", "--model", str(lid), "--keep", "en", "--min-score", "0.9"],
        ["filter", "quality", "--model", str(quality), "--top-percent", "40"],
    ]
    for k, command in enumerate(commands):
        flat = invoke(*command[:2], str(flat_in), str(tmp_path / f"flat{k}"), *command[2:])
        assert flat.exit_code == 0, flat.output
        nested = invoke(
            *command[:2], str(nested_in), str(tmp_path / f"nested{k}"), *command[2:], "--text-column", "metadata.text"
        )
        assert nested.exit_code == 0, nested.output
        _same_as_flat(tmp_path / f"nested{k}", tmp_path / f"flat{k}", "part-*.parquet")
        if k:
            assert 0 < read_dir(tmp_path / f"nested{k}").num_rows < 600, command
            _same_as_flat(rejects_dir(tmp_path / f"nested{k}"), rejects_dir(tmp_path / f"flat{k}"), "*.parquet")
    model = tmp_path / "from-struct.bin"
    train = invoke(
        "classify", "train", str(nested_in), str(model), "--label-column", "n", "--text-column", "metadata.text", *SMALL
    )
    assert train.exit_code == 0, train.output
