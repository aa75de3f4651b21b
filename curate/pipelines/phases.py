"""Running the phases of a stage: the runner, not the task, names and writes completion markers.

A task function computes and writes its files and returns (stats, files written). Wrapped
in a :class:`PhaseTask`, it runs on a worker; the wrapper then writes the marker
``OUT.curate/work/markers/<phase>/<key>.json`` recording the stats and the files' sizes, so that a
resumed run skips it only while every file is intact. In a phase that is a shard's first
read, a :class:`~curate.errors.BadInputError` quarantines the shard under ``--on-error
skip`` (marked done, so a resumed run does not retry it) instead of failing the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curate.errors import BadInputError
from curate.pipelines.runner import StageRun
from curate.pipelines.stage import Phase, TaskFn
from curate.pipelines.workspace import Workspace


@dataclass(frozen=True)
class PhaseTask:
    """One task of a phase with what its marker needs. Picklable (process pools, Ray)."""

    workspace: Workspace
    phase: str
    key: str
    fn: TaskFn
    plan: Any
    index: int
    quarantine: bool


def run_phase_task(task: PhaseTask) -> dict[str, Any]:
    try:
        stats, outputs = task.fn(task.plan, task.index)
    except BadInputError as exc:
        if not (task.quarantine and task.plan.skip_bad_shards):
            raise
        stats, outputs = {"quarantined": str(exc)}, []
    task.workspace.mark_done(task.phase, task.key, stats, outputs)
    return stats


def run_phase(run: StageRun, phase: Phase, plan: Any, *, marker_phase: str | None = None) -> dict[str, dict[str, Any]]:
    """Run the tasks of ``phase`` whose markers are missing (markers under the run's workspace,
    in ``marker_phase``, default the phase's name); return every task's stats by key."""
    assert run.workspace is not None
    name = marker_phase or phase.name
    indices = phase.task_indices(plan)
    tasks = [
        (key, PhaseTask(run.workspace, name, key, phase.fn, plan, index, phase.quarantine)) for key, index in indices
    ]
    # A map phase's task reads one input shard: its progress counts the shards' bytes (known from the listing).
    weights = None
    if phase.kind == "map":
        sizes = {shard.index: shard.size for shard in plan.active_shards}
        weights = [sizes[index] for _, index in indices]
    return run.run_phase(name, run_phase_task, tasks, weights)


def quarantined_shards(stats_by_task: dict[str, dict[str, Any]]) -> dict[int, str]:
    """Shard index -> error, from the stats of a map phase (keys ``sNNNNN``)."""
    return {int(key[1:]): stats["quarantined"] for key, stats in stats_by_task.items() if "quarantined" in stats}
