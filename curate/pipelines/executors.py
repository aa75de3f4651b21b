"""Executors run the tasks of a phase: ``local`` (threads of this process by default, or a
process pool with ``--pool process``; nothing to start) or ``ray``.

A task is a top-level function and one picklable argument; it writes its own outputs and
returns a small stats dict (the phase wrapper writes its marker). Both executors return
results in task order, so the runner's output never depends on completion order or worker
count.

On Ray, a phase's plan (shared by all its tasks) goes to the object store once, not pickled
into every task; tasks are retried when their worker is lost (a system failure), never when
they raise (a data error would fail again); a phase whose map stages have a ``setup()`` runs
on a pool of actors, one per worker, so heavy state loads once per actor; the stages'
resources (``num_gpus``, ``num_cpus``) are passed to Ray.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from curate.errors import CurateError, UsageError
from curate.pipelines.progress import PhaseProgress
from curate.pipelines.worker_lifetime import die_with_parent

log = logging.getLogger(__name__)

TaskFn = Callable[[Any], dict[str, Any]]


def run_task(fn: TaskFn, task: Any) -> dict[str, Any]:
    """Run one task, then hand the memory Arrow's allocator cached back to the system: its
    allocator keeps freed pages per thread, and across many shards that cache, not live
    data, would otherwise set the peak memory."""
    try:
        return fn(task)
    finally:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()


# A task whose worker died (node lost, out of memory) is resubmitted this many times; a task
# that raised is not (a deterministic data error would only fail again).
TRANSIENT_RETRIES = 3


def run_task_with_plan(fn: TaskFn, plan: Any, task: Any) -> dict[str, Any]:
    """A task whose plan travelled separately (once, through Ray's object store)."""
    return run_task(fn, dataclasses.replace(task, plan=plan))


class TaskActor:
    """A long-lived Ray worker: the stages' per-worker state (``setup()``) lives as long as it."""

    def run(self, fn: TaskFn, plan: Any, task: Any) -> dict[str, Any]:
        return run_task_with_plan(fn, plan, task)


def _shared_plan(tasks: Sequence[Any]) -> Any:
    """The one plan every task of the phase carries (phases.PhaseTask), or None."""
    if not tasks or not all(dataclasses.is_dataclass(t) and hasattr(t, "plan") for t in tasks):
        return None
    plan = tasks[0].plan
    return plan if all(t.plan is plan for t in tasks) else None


def _map_stages(plan: Any) -> tuple[Any, ...]:
    return tuple(getattr(plan, "stages", ()))


def _has_setup(plan: Any) -> bool:
    from curate.pipelines.stage import MapStage

    return any(type(stage).setup is not MapStage.setup for stage in _map_stages(plan))


def _resources(plan: Any) -> tuple[float, float]:
    stages = _map_stages(plan)
    gpus = max((stage.resources.gpus for stage in stages), default=0.0)
    cpus = max((stage.resources.cpus for stage in stages), default=1.0)
    return gpus, cpus


class Executor(Protocol):
    name: str

    def map(
        self, fn: TaskFn, tasks: Sequence[Any], *, description: str, weights: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Run every task; the phase's progress counts ``weights[i]`` bytes for task ``i`` (else tasks)."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """``workers`` parallel workers on this machine (the pool is made lazily and reused
    across phases); one worker or one task runs inline, with no pool at all.

    ``pool="thread"`` (the default) runs tasks on threads of this process: every hot path
    (the Rust kernel, Arrow and Parquet, polars) releases the GIL, so threads scale like
    processes without paying for spawning interpreters and re-importing Arrow in each.
    ``pool="process"`` isolates tasks in spawned processes instead.
    """

    name = "local"

    def __init__(self, workers: int, *, quiet: bool = False, pool: str = "thread") -> None:
        if pool not in ("thread", "process"):
            raise UsageError(f"unknown local pool {pool!r} (thread, process)")
        self.workers = max(1, workers)
        self.quiet = quiet
        self.pool_kind = pool
        self._pool: PoolExecutor | None = None

    def _get_pool(self) -> PoolExecutor:
        if self._pool is None:
            if self.pool_kind == "thread":
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="curate-worker")
            else:
                # spawn, not fork: forking a process that runs Arrow/polars thread pools can deadlock.
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=die_with_parent,
                    initargs=(os.getpid(),),
                )
        return self._pool

    def map(
        self, fn: TaskFn, tasks: Sequence[Any], *, description: str, weights: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        bar = PhaseProgress(description, len(tasks), weights, quiet=self.quiet)
        try:
            if self.workers == 1 or len(tasks) <= 1:
                results = []
                for i, task in enumerate(tasks):
                    results.append(run_task(fn, task))
                    bar.done(i)
                return results
            pool = self._get_pool()
            futures: dict[Future[dict[str, Any]], int] = {
                pool.submit(run_task, fn, task): i for i, task in enumerate(tasks)
            }
            ordered: list[dict[str, Any] | None] = [None] * len(tasks)
            try:
                for future in as_completed(futures):
                    ordered[futures[future]] = future.result()
                    bar.done(futures[future])
            except BaseException as exc:
                for future in futures:
                    future.cancel()
                if isinstance(exc, KeyboardInterrupt):
                    # Ctrl-C: do not wait for the running tasks (their writes are atomic).
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
                raise
            return [r for r in ordered if r is not None]
        finally:
            bar.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class RayExecutor:
    """The same tasks as Ray tasks. Connects to ``address`` (or ``RAY_ADDRESS``), else
    starts a local Ray instance for the run and stops it at the end."""

    name = "ray"

    def __init__(self, workers: int, address: str | None, *, quiet: bool = False) -> None:
        try:
            import ray
        except ImportError as exc:
            raise UsageError("--executor ray needs Ray: pip install 'curate[ray]'") from exc
        self._ray = ray
        self.quiet = quiet
        self._started_here = False
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            if address:
                try:
                    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
                except Exception as exc:  # Ray raises ConnectionError, AuthenticationError, RuntimeError...
                    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise CurateError(f"cannot join the Ray cluster at {address}: {message}") from exc
            else:
                ray.init(
                    num_cpus=max(1, workers),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    configure_logging=False,
                )
                self._started_here = True
        self.workers = max(1, workers)
        self._actors: list[Any] = []

    def _submit(self, fn: TaskFn, tasks: Sequence[Any]) -> list[Any]:
        """One object reference per task, in task order."""
        ray = self._ray
        plan = _shared_plan(tasks)
        if plan is None:
            remote = ray.remote(max_retries=TRANSIENT_RETRIES, retry_exceptions=False)(run_task)
            return [remote.remote(fn, task) for task in tasks]
        plan_ref = ray.put(plan)
        bare = [dataclasses.replace(task, plan=None) for task in tasks]
        gpus, cpus = _resources(plan)
        if _has_setup(plan):
            return self._submit_to_actors(fn, plan_ref, bare, gpus, cpus)
        options = {"max_retries": TRANSIENT_RETRIES, "retry_exceptions": False, "num_cpus": cpus}
        if gpus:
            options["num_gpus"] = gpus
        remote = ray.remote(**options)(run_task_with_plan)
        return [remote.remote(fn, plan_ref, task) for task in bare]

    def _submit_to_actors(self, fn: TaskFn, plan_ref: Any, tasks: list[Any], gpus: float, cpus: float) -> list[Any]:
        ray = self._ray
        options: dict[str, Any] = {"max_restarts": TRANSIENT_RETRIES, "max_task_retries": TRANSIENT_RETRIES}
        options["num_cpus"] = cpus
        if gpus:
            options["num_gpus"] = gpus
        actor_class = ray.remote(**options)(TaskActor)
        actors = [actor_class.remote() for _ in range(max(1, min(self.workers, len(tasks))))]
        self._actors = actors  # kept alive until the results are in
        return [actors[i % len(actors)].run.remote(fn, plan_ref, task) for i, task in enumerate(tasks)]

    def map(
        self, fn: TaskFn, tasks: Sequence[Any], *, description: str, weights: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        ray = self._ray
        refs = self._submit(fn, tasks)
        bar = PhaseProgress(description, len(refs), weights, quiet=self.quiet)
        position = {ref: i for i, ref in enumerate(refs)}
        try:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                ray.get(ready)  # raise the first task error promptly
                for ref in ready:
                    bar.done(position[ref])
            results: list[dict[str, Any]] = ray.get(refs)
            return results
        except ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
            raise (getattr(exc, "cause", None) or cause) from None
        finally:
            bar.close()
            for actor in self._actors:
                ray.kill(actor)
            self._actors = []

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(name: str, workers: int, ray_address: str | None, *, quiet: bool, pool: str = "thread") -> Executor:
    if name == "local":
        return LocalExecutor(workers, quiet=quiet, pool=pool)
    if name == "ray":
        return RayExecutor(workers, ray_address, quiet=quiet)
    raise UsageError(f"unknown executor {name!r} (local, ray)")
