"""Executors run the tasks of a phase: ``local`` (a process pool, nothing to start) or ``ray``.

A task is a top-level function and one picklable argument; it writes its own outputs and
completion marker and returns a small stats dict. Both executors return results in task
order, so the runner's output never depends on completion order or worker count.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from tqdm import tqdm

from curate.errors import UsageError
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


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class Executor(Protocol):
    name: str

    def map(self, fn: TaskFn, tasks: Sequence[Any], *, description: str) -> list[dict[str, Any]]: ...

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

    def map(self, fn: TaskFn, tasks: Sequence[Any], *, description: str) -> list[dict[str, Any]]:
        bar = tqdm(total=len(tasks), desc=description, disable=not progress_enabled(self.quiet), leave=False)
        try:
            if self.workers == 1 or len(tasks) <= 1:
                results = []
                for task in tasks:
                    results.append(run_task(fn, task))
                    bar.update()
                return results
            pool = self._get_pool()
            futures: dict[Future[dict[str, Any]], int] = {
                pool.submit(run_task, fn, task): i for i, task in enumerate(tasks)
            }
            ordered: list[dict[str, Any] | None] = [None] * len(tasks)
            try:
                for future in as_completed(futures):
                    ordered[futures[future]] = future.result()
                    bar.update()
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
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(
                    num_cpus=max(1, workers),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    configure_logging=False,
                )
                self._started_here = True
        self._remote_cache: dict[TaskFn, Any] = {}

    def map(self, fn: TaskFn, tasks: Sequence[Any], *, description: str) -> list[dict[str, Any]]:
        ray = self._ray
        remote = self._remote_cache.get(fn)
        if remote is None:
            remote = ray.remote(max_retries=0)(run_task)
            self._remote_cache[fn] = remote
        refs = [remote.remote(fn, task) for task in tasks]
        bar = tqdm(total=len(refs), desc=description, disable=not progress_enabled(self.quiet), leave=False)
        try:
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                ray.get(ready)  # raise the first task error promptly
                bar.update(len(ready))
            results: list[dict[str, Any]] = ray.get(refs)
            return results
        except ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
            raise (getattr(exc, "cause", None) or cause) from None
        finally:
            bar.close()

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(name: str, workers: int, ray_address: str | None, *, quiet: bool) -> Executor:
    if name == "local":
        return LocalExecutor(workers, quiet=quiet, pool=os.environ.get("CURATE_LOCAL_POOL", "thread"))
    if name == "ray":
        return RayExecutor(workers, ray_address, quiet=quiet)
    raise UsageError(f"unknown executor {name!r} (local, ray)")
