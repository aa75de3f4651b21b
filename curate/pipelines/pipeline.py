"""A ``curate run`` pipeline file: parsed, checked and built before anything runs.

```yaml
input: data/crawl            # optional; --input overrides
output: data/clean           # optional; --output overrides
read: {text-column: text, id-column: id}
stages:
  - filter gopher-quality: {}
  - filter c4: {remove-lines: false}
  - dedup exact: {}
  - dedup minhash: {threshold: 0.8, keep: longest}
```

Each stage is the command path of ``curate GROUP NAME`` with that command's long option
names (dashes or underscores); values are checked by the same option definitions as the
command line (types, ranges, choices), and the stage is built as the command builds it
(missing files, missing extras). Relative paths are relative to the current directory, as on
the command line. Consecutive map stages form one fused pass; a global stage is a barrier
whose apply phase fuses with the map stages after it (:meth:`Pipeline.groups`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from curate.errors import UsageError
from curate.io.columns import top_level
from curate.io.layout import REJECTS
from curate.io.locations import check_output_location, scheme_of
from curate.pipelines.registry import StageEntry, all_entries

TOP_KEYS = ("input", "output", "read", "stages")
READ_KEYS = ("text_column", "id_column", "batch_rows")


@dataclass(frozen=True)
class PipelineStage:
    position: int  # 1-based, as listed
    entry: StageEntry
    options: dict[str, Any]  # every option's value, defaults filled in
    stage: Any  # the built MapStage or GlobalStage

    @property
    def path(self) -> str:
        return self.entry.path

    @property
    def is_global(self) -> bool:
        # The built stage decides: filter quality is a map stage, or global with --top-percent.
        from curate.pipelines.stage import GlobalStage

        return isinstance(self.stage, GlobalStage)

    @property
    def reject_dir(self) -> str:
        """Where this stage's rejects go in the pipeline's output."""
        return f"{REJECTS}/{self.position:02d}-{self.stage.stage_label}"


@dataclass(frozen=True)
class Group:
    """One fused pass: an optional global stage (a barrier) whose apply phase runs first,
    then the map stages after it."""

    barrier: PipelineStage | None
    maps: tuple[PipelineStage, ...]

    @property
    def members(self) -> tuple[PipelineStage, ...]:
        return ((self.barrier,) if self.barrier else ()) + self.maps


@dataclass(frozen=True)
class Pipeline:
    source: str
    input_location: str
    output: Path
    read: Any  # ReadOptions
    stages: tuple[PipelineStage, ...]
    # An object-store OUT (s3://, gs://): ``output`` is then its local staging copy, published
    # to this location once the run is done (curate.io.object_output).
    publish_to: str | None = None

    def groups(self) -> list[Group]:
        groups: list[Group] = []
        barrier: PipelineStage | None = None
        maps: list[PipelineStage] = []
        for item in self.stages:
            if item.is_global:
                if barrier is not None or maps:
                    groups.append(Group(barrier, tuple(maps)))
                barrier, maps = item, []
            else:
                maps.append(item)
        if barrier is not None or maps:
            groups.append(Group(barrier, tuple(maps)))
        return groups


def _fail(where: str, message: str) -> NoReturn:
    raise UsageError(f"{where}: {message}")


def _suggest(key: str, valid: list[str]) -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean {near[0]!r}?" if near else f" (valid: {', '.join(valid)})"


def _loader() -> Any:
    """YAML's safe loader with YAML 1.2 booleans: only true/false are booleans, so that a
    key such as ``on`` (``dedup exact: {on: url}``) or ``yes`` stays a string."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return Loader


def load_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())
    except OSError as exc:
        _fail(str(path), f"cannot read it ({exc.strerror or exc})")
    except yaml.YAMLError as exc:
        _fail(str(path), f"not valid YAML ({str(exc).splitlines()[0]})")
    if not isinstance(loaded, dict):
        kind = "empty" if loaded is None else f"a {type(loaded).__name__}"
        _fail(str(path), f"a pipeline is a mapping with a 'stages' list (this file is {kind})")
    return loaded


def _option_params(entry: StageEntry) -> dict[str, click.Option]:
    """The click options of a stage's command (the same objects validate pipeline values)."""
    from curate.pipelines.options import click_options

    def target() -> None: ...

    function: Any = target
    for decorator in click_options(entry.config_cls):
        function = decorator(function)
    params = {p.name: p for p in getattr(function, "__click_params__", []) if p.name}
    if entry.annotate:
        params["annotate"] = click.Option(["--annotate"], is_flag=True)
    return params


def _stage_options(entry: StageEntry, given: dict[str, Any], where: str) -> dict[str, Any]:
    params = _option_params(entry)
    values: dict[str, Any] = {}
    for raw_key, value in given.items():
        key = str(raw_key).replace("-", "_")
        if key not in params:
            shown = [name.replace("_", "-") for name in params]
            _fail(where, f"unknown option {raw_key!r}{_suggest(str(raw_key).replace('_', '-'), shown)}")
        values[key] = value
    context = click.Context(click.Command(entry.name))
    converted: dict[str, Any] = {}
    for name, param in params.items():
        try:
            if name in values:
                value = values[name]
                if param.multiple and not isinstance(value, list | tuple):
                    value = [value]
                if param.is_flag and not isinstance(value, bool):
                    raise click.BadParameter(f"{value!r} is not true or false")
                converted[name] = param.type_cast_value(context, value)
            else:
                converted[name] = param.get_default(context)
        except click.BadParameter as exc:
            _fail(where, f"{name.replace('_', '-')}: {exc.message}")
    return converted


def _read_options(given: Any, where: str) -> Any:
    from curate.io.readers import ReadOptions

    if given is None:
        given = {}
    if not isinstance(given, dict):
        _fail(where, "'read' must be a mapping such as {text-column: text, id-column: id}")
    values = {}
    for raw_key, value in given.items():
        key = str(raw_key).replace("-", "_")
        if key not in READ_KEYS:
            _fail(where, f"read: unknown key {raw_key!r}{_suggest(key, list(READ_KEYS))}")
        values[key] = value
    id_column = values.get("id_column")
    batch_rows = values.get("batch_rows", ReadOptions().batch_rows)
    if not isinstance(batch_rows, int) or batch_rows < 1:
        _fail(where, f"read: batch-rows must be a positive integer, got {batch_rows!r}")
    return ReadOptions(
        text_column=str(values.get("text_column", "text")),
        id_column=str(id_column) if id_column is not None else "id",
        id_column_explicit=id_column is not None,
        batch_rows=batch_rows,
    )


def _stage_items(raw: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(raw, list) or not raw:
        _fail(where, "'stages' must be a non-empty list, e.g. [{filter c4: {}}, {dedup minhash: {}}]")
    items = []
    for number, item in enumerate(raw, start=1):
        if isinstance(item, str):
            items.append((item, {}))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            _fail(where, f"stage {number} must be one 'GROUP NAME: {{options}}' entry, got {item!r}")
        ((path, options),) = item.items()
        if options is None:
            options = {}
        if not isinstance(options, dict):
            _fail(where, f"stage {number} ({path}): its options must be a mapping, got {options!r}")
        items.append((str(path), options))
    return items


def _check_columns(stages: list[PipelineStage], read: Any, input_columns: list[str] | None, where: str) -> None:
    """A stage reading a column an earlier stage removes, or that the input lacks, is refused."""
    removed_by: dict[str, PipelineStage] = {}
    for item in stages:
        for path in item.stage.reads(read):
            column = top_level(path, input_columns)  # metadata.url lives in metadata
            if column in removed_by:
                earlier = removed_by[column]
                _fail(
                    where,
                    f"stage {item.position} ({item.path}) reads column {path!r}, which stage "
                    f"{earlier.position} ({earlier.path}) removes",
                )
            if input_columns is not None and item.position == 1 and column not in input_columns:
                _fail(where, f"stage 1 ({item.path}) reads column {path!r}, which the input does not have")
        for column in item.stage.removes():
            removed_by[column] = item


def parse_pipeline(
    path: Path,
    *,
    input_location: str | None,
    output: str | None,
    notice: Callable[[str], None],
    check_input: bool = True,
) -> Pipeline:
    """Everything checked before any work: the file, every stage and option, files the
    stages read, installed extras, the input's existence and columns."""
    where = str(path)
    document = load_yaml(path)
    for key in document:
        if str(key) not in TOP_KEYS:
            _fail(where, f"unknown key {key!r}{_suggest(str(key), list(TOP_KEYS))}")
    read = _read_options(document.get("read"), where)
    entries = all_entries()
    built: list[PipelineStage] = []
    seen: dict[str, PipelineStage] = {}
    for position, (stage_path, given) in enumerate(_stage_items(document.get("stages"), where), start=1):
        stage_path = " ".join(stage_path.split())
        entry = entries.get(stage_path)
        if entry is None:
            _fail(where, f"stage {position}: unknown stage {stage_path!r}{_suggest(stage_path, list(entries))}")
        label = f"{where}: stage {position} ({stage_path})"
        options = _stage_options(entry, given, label)
        earlier = seen.get(stage_path)
        if earlier is not None and earlier.options != options:
            differ = sorted(k for k in options if options[k] != earlier.options.get(k))
            shown = ", ".join(f"{k.replace('_', '-')}: {earlier.options[k]!r} vs {options[k]!r}" for k in differ)
            _fail(
                where, f"stage {position} ({stage_path}) repeats stage {earlier.position} with other options ({shown})"
            )
        try:
            stage = entry.build_stage(dict(options), read, notice)
            stage.check_installed()
        except UsageError as exc:
            _fail(label, str(exc))
        item = PipelineStage(position, entry, options, stage)
        seen.setdefault(stage_path, item)
        built.append(item)
    from curate.pipelines.stage import text_requirement

    read = text_requirement(read, [item.stage for item in built])
    source_input = input_location or document.get("input")
    source_output = output or document.get("output")
    if not source_input:
        _fail(where, "no input: give --input or an 'input:' key")
    if not source_output:
        _fail(where, "no output: give --output or an 'output:' key")
    for item in built[1:]:
        if item.stage.source is not None:
            _fail(where, f"stage {item.position} ({item.path}) reads {item.stage.source} files: it must be stage 1")
    source = built[0].stage.source
    input_columns = None
    if check_input:
        input_columns = _input_columns(str(source_input), read, source)
    _check_columns(built, read, input_columns, where)
    location = check_output_location(str(source_output), object_store=True)
    if scheme_of(location) is None:
        return Pipeline(where, str(source_input), Path(location), read, tuple(built))
    from curate.io.object_output import staging_dir

    return Pipeline(where, str(source_input), staging_dir(location), read, tuple(built), publish_to=location)


def _input_columns(location: str, read: Any, source: str | None = None) -> list[str] | None:
    """The input's columns from its Parquet footers (None when it is JSONL: not known before reading)."""
    from curate.io.discovery import discover_inputs
    from curate.io.schema import check_input_schemas

    shards, _ = discover_inputs(location, source)
    if any(s.format != "parquet" for s in shards):
        return None
    report = check_input_schemas(shards, read, skip_bad=True)
    return None if report.unified is None else [*report.unified.names, read.id_column]
