"""The stage contract: every stage curate runs is a map stage or a global stage.

A **map stage** is one vectorised method over an Arrow batch, :meth:`MapStage.apply`, that
returns a :class:`MapResult`: keep or drop per row with a reason code, columns added to (or
replacing columns of) the kept rows and of the rejected rows, an optional rewritten text
column, and counters. It declares the columns it reads, the pip extra it needs (checked when
it is built) and the resources it wants; heavy state (a model, a table of frequent lines) is
loaded by :meth:`MapStage.setup`, once per worker process, and shared by every shard that
worker runs. Whether a filter drops or only annotates is a field of the stage. Consecutive map
stages run fused, one pass per shard (``curate.pipelines.map_runner``).

A **global stage** needs every shard before it can decide anything (dedup). It is a list of
:class:`Phase` values — name, kind (a map over shards, a reduce over partitions, or a single
task), the task function and which tasks — followed by an *apply* map stage that writes the
output from the decisions. The runner, not the task, names each task's completion marker,
writes it, and quarantines bad shards (``curate.pipelines.phases``).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from curate.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from curate.io.discovery import InputShard
    from curate.io.readers import ReadOptions


@dataclass(frozen=True)
class Resources:
    """What one task of a stage wants from its worker. ``batch_rows``: rows per batch read
    (None: the reader's default); ``gpus`` and ``cpus`` are passed to Ray as ``num_gpus`` /
    ``num_cpus`` (the local executor runs one task per worker and ignores them)."""

    gpus: float = 0.0
    cpus: float = 1.0
    batch_rows: int | None = None


@dataclass(frozen=True)
class BatchContext:
    """What a map stage may know besides the batch. ``first_row`` is the position of the
    batch's first row in its input shard, meaningful only to a *positional* stage (which the
    runner always places first in its fused group, reading the shard as written); ``state``
    is what :meth:`MapStage.setup` returned in this worker, ``shard_state`` what
    :meth:`MapStage.begin_shard` returned for this shard."""

    shard: InputShard
    first_row: int
    read: ReadOptions
    state: Any = None
    shard_state: Any = None


def reasons_from_rules(rules: list[tuple[str, np.ndarray]], n: int) -> tuple[np.ndarray, pa.Array]:
    """Rules given in order as (reason code, fails-per-row mask): a row is dropped with the
    code of the first rule it fails. Returns the keep mask and the reasons (null where kept)."""
    reason_index = np.full(n, -1, dtype=np.int64)
    for i, (_, fails) in enumerate(rules):
        first = (reason_index < 0) & np.asarray(fails, dtype=bool)
        reason_index[first] = i
    codes = pa.array([code for code, _ in rules] or [""], pa.string())
    reasons = codes.take(pa.array(reason_index, mask=reason_index < 0)) if n else pa.array([], pa.string())
    return reason_index < 0, reasons


@dataclass(frozen=True)
class MapResult:
    """Row-aligned outcome of a map stage over one batch.

    ``keep``: bool per row (None: every row kept). ``reasons``: per row, null where kept (a
    kept row may carry a reason too: it is *flagged*, counted but not dropped). ``texts``: the
    new text of every row; kept rows are written with it, dropped rows as they came.
    ``columns``: added to the kept rows (same-named columns are replaced, and move to the
    end). ``reject_columns``: added to the dropped rows. ``counters``: batch totals of
    anything worth counting (``counted:<name>``); ``changes``: totals of what a modifier
    changed (``changed:<kind>``).
    """

    keep: np.ndarray | None = None
    reasons: pa.Array | None = None
    texts: pa.Array | None = None
    columns: dict[str, pa.Array] = field(default_factory=dict)
    reject_columns: dict[str, pa.Array] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)


def check_extra(owner: str, extra: str | None, modules: tuple[str, ...]) -> None:
    """A usage error naming ``pip install 'curate[EXTRA]'`` when a module the stage needs is
    missing. Called when the stage is built, before any work starts."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        install = f"pip install 'curate[{extra}]'" if extra else f"pip install {' '.join(missing)}"
        raise UsageError(f"{owner} needs {', '.join(missing)}, which is not installed: {install}")


# One state per (worker process, stage): threads of a process share it.
_WORKER_STATE: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


class StageBase:
    """What every stage declares, map or global: its command path (``curate GROUP NAME``), the
    pip extra it needs (checked when it is built), the columns it reads and removes, and the
    files whose content decides its output (word lists, blocklists, models: fingerprinted)."""

    name: ClassVar[str] = ""
    group: ClassVar[str] = "filter"
    summary: ClassVar[str] = ""
    extra: ClassVar[str | None] = None  # the pip extra it needs: curate[EXTRA]
    extra_modules: ClassVar[tuple[str, ...]] = ()  # what that extra installs, checked at build time
    # A *source* stage reads input files no other stage reads (``"warc"``: web archives) through
    # its own :meth:`MapStage.source_batches`; it can only be the first stage of a run.
    source: ClassVar[str | None] = None

    def check_installed(self) -> None:
        check_extra(f"{self.group} {self.name}", self.extra, self.extra_modules)

    def reads(self, read: ReadOptions) -> tuple[str, ...]:
        """Input columns this stage needs (validated before a pipeline runs)."""
        return (read.text_column,)

    def removes(self) -> tuple[str, ...]:
        """Columns this stage removes from what it keeps (none of curate's stages do)."""
        return ()

    def files(self) -> tuple[str, ...]:
        """Files whose content decides the output (word lists, blocklists, models)."""
        return ()


def text_requirement(read: ReadOptions, stages: list[StageBase]) -> ReadOptions:
    """The read options with ``text_required`` only when a stage reads the text column (image
    stages do not: their inputs have no text)."""
    needed = any(read.text_column in stage.reads(read) for stage in stages)
    return read if needed == read.text_required else replace(read, text_required=needed)


class MapStage(StageBase):
    """Base of every map stage (filters, modifiers, the apply phases of global stages).

    Subclasses are frozen dataclasses (their fields are their options) or plain classes
    built by a global stage. ``name`` is the command name, ``group`` the command group
    (``curate GROUP NAME``).
    """

    resources: ClassVar[Resources] = Resources()
    # Needs row positions in the shard it reads (dedup decisions): first of its fused group.
    positional: ClassVar[bool] = False
    # Drops nothing; reasons are counted as flagged and statistics added as columns.
    annotate: bool = False

    @property
    def stage_label(self) -> str:
        """The ``_stage`` of its rejects, e.g. ``filter_c4``."""
        return f"{self.group}_{self.name.replace('-', '_')}"

    def setup_key(self) -> str:
        """Which stages share one :meth:`setup` result in a worker."""
        return f"{type(self).__module__}.{type(self).__qualname__}:{self!r}"

    def setup(self) -> Any:
        """Load heavy state once per worker; what it returns reaches :meth:`apply`."""
        return None

    def begin_shard(self, shard: InputShard, state: Any) -> Any:
        """Per-shard state (e.g. that shard's dedup decisions)."""
        return None

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        raise NotImplementedError

    def source_batches(self, shard: InputShard, read: ReadOptions) -> Iterator[pa.RecordBatch]:
        """A source stage's rows of one input file (its ``source_schema``, in file order)."""
        raise NotImplementedError

    def source_schema(self, read: ReadOptions) -> pa.Schema:
        """The schema every input file of a source stage is read as."""
        raise NotImplementedError

    def worker_state(self) -> Any:
        key = self.setup_key()
        with _WORKER_LOCK:
            if key not in _WORKER_STATE:
                _WORKER_STATE[key] = self.setup()
            return _WORKER_STATE[key]


def forget_worker_state() -> None:
    """Drop every stage's per-worker state (tests, and a long-lived process between runs)."""
    with _WORKER_LOCK:
        _WORKER_STATE.clear()


PhaseKind = Literal["map", "reduce", "single"]
TaskFn = Callable[[Any, int], tuple[dict[str, Any], list["Path"]]]


@dataclass(frozen=True)
class Phase:
    """One phase of a global stage, as data.

    ``kind``: ``map`` (one task per active input shard, keyed ``sNNNNN``), ``reduce`` (one
    per partition, keyed ``<prefix>NNNN``) or ``single`` (one task keyed ``key``). ``fn(plan,
    index)`` computes and writes its files and returns (stats, files written); the runner
    writes the marker. ``count(plan)`` is the number of partitions of a reduce.
    ``quarantine``: this phase is the first read of each shard, so with ``--on-error skip`` a
    bad shard is quarantined here and leaves the plan. ``when(plan)``: run it at all?
    """

    name: str
    kind: PhaseKind
    fn: TaskFn
    count: Callable[[Any], int] | None = None
    prefix: str = "p"
    key: str = "all"
    quarantine: bool = False
    when: Callable[[Any], bool] | None = None

    def task_indices(self, plan: Any) -> list[tuple[str, int]]:
        if self.kind == "map":
            return [(f"s{s.index:05d}", s.index) for s in plan.active_shards]
        if self.kind == "reduce":
            assert self.count is not None, f"reduce phase {self.name} needs count"
            return [(f"{self.prefix}{p:04d}", p) for p in range(self.count(plan))]
        return [(self.key, 0)]


class GlobalStage(StageBase):
    """Base of every global stage (dedup): phases as data, then an apply map stage.

    A subclass holds its frozen config and says how to size its plan, which phases to run
    and which map stage applies the decisions; the runner runs the phases (markers,
    quarantine), then the apply stage fused with whatever map stages follow it.
    """

    group: ClassVar[str] = "dedup"
    # The name of the last phase, the apply map stage that writes the output.
    apply_phase: ClassVar[str] = "filter"

    @property
    def stage_label(self) -> str:
        raise NotImplementedError

    def fingerprint_fields(self) -> dict[str, object]:
        raise NotImplementedError

    def check_input(self, unified: pa.Schema | None, shards: list[InputShard]) -> None:
        """Refuse an input that lacks what this stage needs, before any work."""

    def after_phase(self, name: str, stats: dict[str, dict[str, Any]]) -> None:
        """Checks once a phase is done (its stats by task key); raise to stop the run."""

    def make_plan(self, base: dict[str, Any], input_bytes: int) -> Any:
        """The plan its tasks share, from the ShardPlan fields in ``base``."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def apply_stage(self, plan: Any) -> MapStage:
        raise NotImplementedError

    def counters(self, plan: Any, stats: dict[str, dict[str, dict[str, Any]]], apply: dict[str, Any]) -> dict[str, Any]:
        """The manifest's counters from every phase's stats and the apply stage's tally."""
        raise NotImplementedError

    def manifest_fields(self, plan: Any, stats: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        """Top-level manifest fields besides the counters."""
        return {}
