"""``curate run``: a pipeline equals the shell chain of its single commands, byte for byte (kept
shards and every stage's rejects), on the bundled sample of real Gutenberg text; local equals
Ray; a SIGKILLed run resumes shard by shard to the same bytes; bad pipelines are refused
before anything runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import UsageError
from curate.filters.base import TextFilter, Verdict
from curate.filters.registry import register
from curate.io.layout import INTERMEDIATE, WORK, manifest_path, rejects_dir, state_dir, work_dir
from curate.io.readers import ReadOptions
from tests.conftest import invoke

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample"
RECIPE = Path(__file__).resolve().parents[1] / "examples" / "fineweb.yaml"

# (command path, options as CLI flags, the same options as YAML)
CHAIN = [
    ("filter gopher-quality", [], {}),
    ("filter c4", [], {}),
    ("filter fineweb", ["--max-short-lines-fraction", "0.5"], {"max-short-lines-fraction": 0.5}),
    ("dedup exact", [], {}),
    ("dedup minhash", ["--threshold", "0.7", "--keep", "longest"], {"threshold": 0.7, "keep": "longest"}),
    ("filter pii", ["--column-name", "pii"], {"column_name": "pii"}),
    ("dedup lines", ["--min-count", "2"], {"min-count": 2}),
    ("filter gopher-repetition", ["--annotate"], {"annotate": True}),
]


@register
@dataclass(frozen=True)
class DropsUrlForTest(TextFilter):
    """Keeps every row, and says it removes the url column (a test of the pipeline's column check)."""

    name = "test-drops-url"
    summary = "test filter"

    def removes(self) -> tuple[str, ...]:
        return ("url",)

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        return Verdict.from_rules([], len(texts))


@register
@dataclass(frozen=True)
class NeedsExtraForTest(TextFilter):
    """Needs a module no one has installed (a test of the extra check)."""

    name = "test-needs-extra"
    summary = "test filter"
    extra: ClassVar[str | None] = "nosuchextra"
    extra_modules: ClassVar[tuple[str, ...]] = ("curate_test_no_such_module",)

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        return Verdict.from_rules([], len(texts))


def write_pipeline(path: Path, stages: list[tuple[str, dict[str, object]]], **top: object) -> Path:
    import yaml

    document = {**top, "stages": [{name: options} for name, options in stages]}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


STATE = "OUT.curate/"


def files_of(root: Path) -> dict[str, bytes]:
    """Every published Parquet file of the output ``root`` by name: the kept shards in OUT, and
    ``OUT.curate/...`` for the rest (``work/`` is not published)."""
    found = {p.name: p for p in sorted(root.glob("*.parquet"))}
    state = state_dir(root)
    for path in sorted(state.rglob("*.parquet")):
        relative = path.relative_to(state).as_posix()
        if not relative.startswith(f"{WORK}/"):
            found[STATE + relative] = path
    return {name: path.read_bytes() for name, path in found.items()}


def _intermediates(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in files_of(root).items() if k.startswith(f"{STATE}{INTERMEDIATE}/")}


def shell_chain(tmp: Path, source: Path, chain: list[tuple[str, list[str], dict[str, object]]]) -> list[Path]:
    outputs = []
    previous = source
    for number, (command, flags, _) in enumerate(chain, start=1):
        out = tmp / f"c{number}"
        result = invoke(*command.split(), str(previous), str(out), "--workers", "2", *flags)
        assert result.exit_code == 0, (command, result.stderr)
        outputs.append(out)
        previous = out
    return outputs


def assert_same_as_chain(pipeline_out: Path, chain_outs: list[Path]) -> None:
    """Kept shards equal the last command's; stage k's rejects equal command k's rejects."""
    kept = {name: data for name, data in files_of(chain_outs[-1]).items() if not name.startswith(STATE)}
    assert kept == {name: data for name, data in files_of(pipeline_out).items() if not name.startswith(STATE)}
    manifest = json.loads(manifest_path(pipeline_out).read_text())
    for stage, out in zip(manifest["stages"], chain_outs, strict=True):
        chain_rejects = {p.name: p.read_bytes() for p in sorted(rejects_dir(out).glob("part-*.parquet"))}
        ours = state_dir(pipeline_out) / stage["rejects"]
        pipeline_rejects = {p.name: p.read_bytes() for p in sorted(ours.glob("part-*.parquet"))}
        assert pipeline_rejects == chain_rejects, stage["stage"]
        single = json.loads(manifest_path(out).read_text())
        assert (stage["rows_in"], stage["rows_removed"]) == (single["rows_in"], single["rows_removed"]), stage["stage"]
        single["counters"].pop("invalid_utf8_rows")
        stage["counters"].pop("invalid_utf8_rows", None)
        assert stage["counters"] == single["counters"], stage["stage"]


def test_pipeline_equals_the_shell_chain_byte_for_byte(tmp_path: Path) -> None:
    chain_outs = shell_chain(tmp_path, SAMPLE, CHAIN)
    recipe = write_pipeline(tmp_path / "p.yaml", [(name, yaml_options) for name, _, yaml_options in CHAIN])
    result = invoke("run", str(recipe), "--input", str(SAMPLE), "--output", str(tmp_path / "p"), "--json")
    assert result.exit_code == 0, result.stderr
    assert_same_as_chain(tmp_path / "p", chain_outs)
    manifest = json.loads(manifest_path(tmp_path / "p").read_text())
    assert manifest["rows_in"] == 3000 == manifest["rows_kept"] + manifest["rows_removed"]
    assert manifest["groups"] == [[1, 2, 3], [4], [5, 6], [7, 8]]
    # Every reject carries the stage that dropped it.
    for stage in manifest["stages"]:
        for path in (state_dir(tmp_path / "p") / stage["rejects"]).glob("*.parquet"):
            assert set(pq.read_table(path, columns=["_stage"]).column("_stage").to_pylist()) == {stage["label"]}
    again = invoke("run", str(recipe), "--input", str(SAMPLE), "--output", str(tmp_path / "p"), "--json")
    assert json.loads(again.stdout)["already_done"] is True

    # --keep-intermediate: what every stage but the last wrote, as the dataset its command wrote.
    kept = invoke("run", str(recipe), "--input", str(SAMPLE), "--output", str(tmp_path / "k"), "--keep-intermediate")
    assert kept.exit_code == 0, kept.stderr
    assert files_of(tmp_path / "k") == {**files_of(tmp_path / "p"), **_intermediates(tmp_path / "k")}
    for stage, out in zip(manifest["stages"][:-1], chain_outs, strict=False):
        ours = state_dir(tmp_path / "k") / INTERMEDIATE / f"{stage['position']:02d}-{stage['label']}"
        assert {p.name: p.read_bytes() for p in sorted(ours.glob("*.parquet"))} == {
            p.name: p.read_bytes() for p in sorted(out.glob("part-*.parquet"))
        }, stage["stage"]
        again = invoke("filter", "pii", str(ours), str(tmp_path / f"reread-{stage['position']}"))
        assert again.exit_code == 0, again.stderr


def test_the_example_recipe_runs_on_the_bundled_sample(tmp_path: Path) -> None:
    result = invoke("run", str(RECIPE), "--input", str(SAMPLE), "--output", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [s["stage"] for s in summary["stages"]] == [
        "filter gopher-quality",
        "filter c4",
        "filter fineweb",
        "dedup exact",
        "dedup minhash",
        "filter pii",
    ]
    assert summary["rows_in"] == 3000 and 0 < summary["rows_kept"] < 3000


def test_dry_run_prints_passes_and_barriers_and_runs_nothing(tmp_path: Path) -> None:
    result = invoke("run", str(RECIPE), "--input", str(SAMPLE), "--output", str(tmp_path / "out"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "pass 1: 1 filter gopher-quality, 2 filter c4, 3 filter fineweb" in result.stdout
    assert "barrier: 4 dedup exact" in result.stdout and "pass 3: 5 dedup minhash, 6 filter pii" in result.stdout
    assert not (tmp_path / "out").exists()


@pytest.mark.ray
def test_local_equals_ray(tmp_path: Path, ray_cluster: None) -> None:
    recipe = write_pipeline(tmp_path / "p.yaml", [(name, yaml_options) for name, _, yaml_options in CHAIN[2:6]])
    outputs = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        result = invoke("run", str(recipe), "--input", str(SAMPLE), "--output", str(out), "--executor", executor)
        assert result.exit_code == 0, result.stderr
        outputs[executor] = files_of(out)
    assert outputs["local"] == outputs["ray"]


def _many_shards(tmp: Path, count: int = 12) -> Path:
    table = pa.concat_tables([pq.read_table(p) for p in sorted(SAMPLE.glob("*.parquet"))])
    source = tmp / "many"
    source.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(table.num_rows), count)):
        pq.write_table(table.take(pa.array(rows)), source / f"part-{i:05d}.parquet")
    return source


def _command(recipe: Path, source: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "curate", "-q", "run", str(recipe), "--input", str(source), "--output", str(out)]


def _start(recipe: Path, source: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*_command(recipe, source, out), "--workers", "1", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after_marker(process: subprocess.Popen[str], marker: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before {marker} appeared: {process.stderr.read() if process.stderr else ''}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{marker} did not appear")
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if process.stderr is not None:
        process.stderr.close()


def test_sigkill_mid_pipeline_resumes_shard_by_shard_to_identical_output(tmp_path: Path) -> None:
    source = _many_shards(tmp_path)
    recipe = write_pipeline(tmp_path / "p.yaml", [(name, yaml_options) for name, _, yaml_options in CHAIN[:6]])
    reference = tmp_path / "reference"
    assert invoke("run", str(recipe), "--input", str(source), "--output", str(reference)).exit_code == 0

    out = tmp_path / "killed"
    process = _start(recipe, source, out)
    # Killed in the middle of the second fused pass (dedup exact's apply), after shard 3 of it.
    done_marker = work_dir(out) / "markers" / "g02.pass" / "s00003.json"
    _kill_after_marker(process, done_marker)
    assert not manifest_path(out).exists()
    first_pass = sorted((work_dir(out) / "markers" / "g01.pass").glob("*.json"))
    assert len(first_pass) == 12
    stamps = {p.name: p.stat().st_mtime_ns for p in first_pass}

    resumed = subprocess.run(
        [*_command(recipe, source, out), "--workers", "1", "--keep-work"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert files_of(out) == files_of(reference)
    # The shards finished before the kill were not redone.
    after = {p.name: p.stat().st_mtime_ns for p in sorted((work_dir(out) / "markers" / "g01.pass").glob("*.json"))}
    assert after == stamps


def test_pipeline_edited_between_a_killed_run_and_its_resume_is_refused(tmp_path: Path) -> None:
    source = _many_shards(tmp_path)
    stages = [(name, yaml_options) for name, _, yaml_options in CHAIN[:4]]
    recipe = write_pipeline(tmp_path / "p.yaml", stages)
    out = tmp_path / "out"
    process = _start(recipe, source, out)
    _kill_after_marker(process, work_dir(out) / "markers" / "g01.pass" / "s00002.json")
    write_pipeline(recipe, [*stages[:2], ("filter fineweb", {"max-short-lines-fraction": 0.9}), stages[3]])
    refused = invoke("run", str(recipe), "--input", str(source), "--output", str(out))
    assert refused.exit_code == 2
    assert "unfinished run with another configuration" in refused.stderr and "--overwrite" in refused.stderr
    accepted = invoke("run", str(recipe), "--input", str(source), "--output", str(out), "--overwrite", "--json")
    assert accepted.exit_code == 0, accepted.stderr
    assert json.loads(accepted.stdout)["stages"][2]["rows_in"] > 0


def _refused(tmp_path: Path, text: str, *extra: str) -> str:
    recipe = tmp_path / "p.yaml"
    recipe.write_text(text, encoding="utf-8")
    result = invoke("run", str(recipe), "--input", str(SAMPLE), "--output", str(tmp_path / "out"), *extra)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert not (tmp_path / "out").exists()
    assert "Traceback" not in result.stderr
    return result.stderr


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert "a pipeline is a mapping with a 'stages' list (this file is a list)" in _refused(
        tmp_path, "- filter c4: {}\n"
    )
    assert "this file is empty" in _refused(tmp_path, "")
    assert "not valid YAML" in _refused(tmp_path, "stages: [\n")


def test_unknown_stage_key_and_value_suggest_the_nearest(tmp_path: Path) -> None:
    assert "unknown stage 'filter gopher-qualty'; did you mean 'filter gopher-quality'?" in _refused(
        tmp_path, "stages:\n  - filter gopher-qualty: {}\n"
    )
    assert "unknown option 'treshold'; did you mean 'threshold'?" in _refused(
        tmp_path, "stages:\n  - dedup minhash: {treshold: 0.7}\n"
    )
    assert "unknown key 'stage'; did you mean 'stages'?" in _refused(tmp_path, "stage:\n  - filter c4: {}\n")
    assert "threshold: 1.5 is not in the range 0<x<1" in _refused(
        tmp_path, "stages:\n  - dedup minhash: {threshold: 1.5}\n"
    )
    assert "min-sentences: 'many' is not a valid integer" in _refused(
        tmp_path, "stages:\n  - filter c4: {min-sentences: many}\n"
    )
    assert "normalize: 'lots' is not one of" in _refused(tmp_path, "stages:\n  - dedup exact: {normalize: lots}\n")


def test_missing_file_and_absent_input(tmp_path: Path) -> None:
    assert "--bad-words-file" in _refused(tmp_path, "stages:\n  - filter c4: {bad-words-file: /nonexistent/words}\n")
    recipe = tmp_path / "p.yaml"
    recipe.write_text("stages:\n  - filter c4: {}\n", encoding="utf-8")
    result = invoke("run", str(recipe), "--input", str(tmp_path / "absent"), "--output", str(tmp_path / "out"))
    assert result.exit_code == 2 and "input not found" in result.stderr


def test_a_stage_twice_with_conflicting_options(tmp_path: Path) -> None:
    stderr = _refused(tmp_path, "stages:\n  - filter c4: {}\n  - dedup exact: {}\n  - filter c4: {min-sentences: 3}\n")
    assert "stage 3 (filter c4) repeats stage 1 with other options (min-sentences: 5 vs 3)" in stderr


def test_a_global_stage_reading_a_column_an_earlier_stage_removes(tmp_path: Path) -> None:
    stderr = _refused(tmp_path, "stages:\n  - filter test-drops-url: {}\n  - dedup exact: {on: url}\n")
    assert "stage 2 (dedup exact) reads column 'url', which stage 1 (filter test-drops-url) removes" in stderr
    assert "reads column 'title', which the input does not have" in _refused(
        tmp_path, "stages:\n  - dedup exact: {on: title}\n"
    )


def test_a_stage_whose_extra_is_not_installed(tmp_path: Path) -> None:
    stderr = _refused(tmp_path, "stages:\n  - filter test-needs-extra: {}\n")
    assert "pip install 'curate[nosuchextra]'" in stderr


def test_a_ray_address_that_does_not_answer(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    recipe = write_pipeline(tmp_path / "p.yaml", [("filter c4", {})])
    result = subprocess.run(
        [*_command(recipe, SAMPLE, tmp_path / "o"), "--executor", "ray", "--ray-address", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1, result.stderr
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_stages_lists_every_stage_with_its_options() -> None:
    result = invoke("stages", "--json")
    assert result.exit_code == 0, result.stderr
    listing = json.loads(result.stdout)
    assert {"dedup minhash", "dedup exact", "dedup lines", "filter c4", "filter pii"} <= set(listing)
    minhash = {o["name"]: o["default"] for o in listing["dedup minhash"]["options"]}
    assert minhash["threshold"] == "0.8" and minhash["keep"] == "first" and minhash["bands"] == "auto"
    assert "annotate" in {o["name"] for o in listing["filter c4"]["options"]}


def test_pipeline_options_come_from_the_same_definitions_as_the_cli() -> None:
    """No default written twice: the pipeline stage built from {} equals the command's defaults."""
    from curate.pipelines.pipeline import _stage_options
    from curate.pipelines.registry import all_entries

    read = ReadOptions()
    for path, entry in all_entries().items():
        if path.startswith("filter test-"):
            continue
        options = _stage_options(entry, {}, path)
        if path in ("filter lang", "filter quality", "classify score"):  # a model must be named
            with pytest.raises(UsageError, match="--model is required"):
                entry.build_stage(dict(options), read, lambda _: None)
            continue
        stage = entry.build_stage(dict(options), read, lambda _: None)
        assert stage is not None
    exact = all_entries()["dedup exact"].build_stage(
        _stage_options(all_entries()["dedup exact"], {}, "x"), read, lambda _: None
    )
    assert exact.config.normalize == "basic" and str(exact.config.keep) == "first"


def test_an_edited_word_list_is_never_answered_from_the_old_output(tmp_path: Path) -> None:
    """The fingerprint covers the content of the files a stage reads, not only their path."""
    words = tmp_path / "words.txt"
    words.write_text("zebra\n", encoding="utf-8")
    command = ["filter", "c4", str(SAMPLE), str(tmp_path / "out"), "--bad-words-file", str(words)]
    assert invoke(*command).exit_code == 0
    assert json.loads(invoke(*command, "--json").stdout)["already_done"] is True
    words.write_text("zebra\nthe\n", encoding="utf-8")
    refused = invoke(*command)
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr
    redone = invoke(*command, "--overwrite", "--json")
    assert json.loads(redone.stdout)["dropped"]["c4:bad_words"] > 0


@register
@dataclass(frozen=True)
class SetupCounterForTest(TextFilter):
    """Keeps everything; its setup() appends this process's id to --log-file (a test of setup once per worker)."""

    name = "test-setup-counter"
    summary = "test filter"
    log_file: str = field(default="", metadata={"help": "Where setup() records each call."})

    def setup(self) -> int:
        with open(self.log_file, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")
        return os.getpid()

    def evaluate(self, texts: pa.LargeStringArray, batch: pa.RecordBatch) -> Verdict:
        return Verdict.from_rules([], len(texts))


def _setup_calls(tmp_path: Path, *options: str) -> list[str]:
    from curate.pipelines.stage import forget_worker_state

    forget_worker_state()
    source = _many_shards(tmp_path, 8)
    log = tmp_path / "setup.log"
    recipe = write_pipeline(tmp_path / "p.yaml", [("filter test-setup-counter", {"log-file": str(log)})])
    result = invoke("run", str(recipe), "--input", str(source), "--output", str(tmp_path / "out"), *options)
    assert result.exit_code == 0, result.stderr
    assert pq.read_metadata(tmp_path / "out" / "part-00007.parquet").num_rows > 0
    return log.read_text(encoding="utf-8").split()


def test_setup_runs_once_per_worker_not_once_per_shard(tmp_path: Path) -> None:
    assert _setup_calls(tmp_path, "--workers", "2") == [str(os.getpid())]


@pytest.mark.ray
def test_setup_runs_once_per_ray_actor(tmp_path: Path, ray_cluster: None) -> None:
    calls = _setup_calls(tmp_path, "--executor", "ray", "--workers", "2")
    assert 1 <= len(calls) <= 2 and len(set(calls)) == len(calls)


def test_a_shard_emptied_before_a_barrier(tmp_path: Path) -> None:
    """A filter that drops every row of one shard leaves a zero-row shard for the dedup after it."""
    from tests.conftest import write_shard

    sentence = "The quick brown fox jumps over the lazy dog near the river bank today. "
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "a", "text": "short"}, {"id": "b", "text": "tiny"}])
    write_shard(tmp_path / "in" / "b.parquet", [{"id": c, "text": sentence * 8} for c in "cde"])
    chain = [
        ("filter gopher-quality", ["--min-words", "3"], {"min-words": 3}),
        ("dedup exact", [], {}),
        ("dedup minhash", [], {}),
    ]
    chain_outs = shell_chain(tmp_path, tmp_path / "in", chain)
    recipe = write_pipeline(tmp_path / "p.yaml", [(name, options) for name, _, options in chain])
    result = invoke("run", str(recipe), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "p"))
    assert result.exit_code == 0, result.stderr
    assert_same_as_chain(tmp_path / "p", chain_outs)
    assert pq.read_metadata(tmp_path / "p" / "part-00000.parquet").num_rows == 0


def _dolma_jsonl(shared_data: Path, tmp_path: Path) -> Path:
    source = tmp_path / "dolma"
    source.mkdir()
    for path in sorted((shared_data / "dolma-cc-samples").glob("CC-MAIN-*.jsonl.gz")):
        (source / path.name).write_bytes(path.read_bytes())
    return source


def test_jsonl_with_nested_columns_reads_the_same_every_time(shared_data: Path, tmp_path: Path) -> None:
    """Common Crawl JSONL (dolma) with a struct column of ~150 fields: the inferred field order
    must not depend on thread timing (it did: the same file gave other bytes one run in five)."""
    from curate.io.discovery import discover_inputs
    from curate.io.readers import read_batches

    shards, _ = discover_inputs(str(_dolma_jsonl(shared_data, tmp_path)))
    schemas = {str(next(iter(read_batches(shards[0], ReadOptions()))).schema) for _ in range(12)}
    assert len(schemas) == 1


def test_pipeline_equals_the_shell_chain_on_common_crawl_jsonl(shared_data: Path, tmp_path: Path) -> None:
    source = _dolma_jsonl(shared_data, tmp_path)
    chain_outs = shell_chain(tmp_path, source, CHAIN[:6])
    recipe = write_pipeline(tmp_path / "p.yaml", [(name, yaml_options) for name, _, yaml_options in CHAIN[:6]])
    result = invoke("run", str(recipe), "--input", str(source), "--output", str(tmp_path / "p"))
    assert result.exit_code == 0, result.stderr
    assert_same_as_chain(tmp_path / "p", chain_outs)


def test_a_list_column_added_mid_pass_is_seen_as_the_next_command_reads_it(tmp_path: Path) -> None:
    """pii adds a list<string> column; Parquet names list items 'element', Arrow 'item': the
    stage after it in the same fused pass must see (and write) what the chain's next command
    reads back."""
    chain = [("filter pii", ["--column-name", "pii"], {"column-name": "pii"}), ("filter c4", [], {})]
    chain_outs = shell_chain(tmp_path, SAMPLE, chain)
    recipe = write_pipeline(tmp_path / "p.yaml", [(name, options) for name, _, options in chain])
    result = invoke("run", str(recipe), "--input", str(SAMPLE), "--output", str(tmp_path / "p"))
    assert result.exit_code == 0, result.stderr
    assert_same_as_chain(tmp_path / "p", chain_outs)


def test_overwrite_removes_the_intermediate_datasets_of_the_run_it_replaces(tmp_path: Path) -> None:
    recipe = write_pipeline(tmp_path / "p.yaml", [("filter c4", {}), ("filter fineweb", {})])
    out = tmp_path / "out"
    command = ["run", str(recipe), "--input", str(SAMPLE), "--output", str(out)]
    assert invoke(*command, "--keep-intermediate").exit_code == 0
    assert sorted(p.name for p in (state_dir(out) / INTERMEDIATE).iterdir()) == ["01-filter_c4", "01-filter_c4.curate"]
    write_pipeline(recipe, [("filter c4", {}), ("filter fineweb", {"short-line-length": 20})])
    assert invoke(*command, "--overwrite").exit_code == 0
    assert not (state_dir(out) / INTERMEDIATE).exists()
