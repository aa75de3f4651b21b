"""One progress bar per phase, on stderr, only on a terminal, silenced by ``-q``.

A phase whose tasks each read one input shard counts the shards' bytes (known from the listing, so
counting costs nothing); other phases (reduce partitions, a single task) count tasks. Both executors
update the bar as tasks finish, in whatever order they finish.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tqdm import tqdm


def progress_enabled(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


class PhaseProgress:
    """The bar of one phase: ``weights[i]`` bytes for task ``i`` when given, else one task per task."""

    def __init__(self, description: str, tasks: int, weights: Sequence[int] | None, *, quiet: bool) -> None:
        if weights is not None and len(weights) != tasks:
            raise ValueError(f"{len(weights)} weights for {tasks} tasks")
        self._weights = weights
        disable = not progress_enabled(quiet)
        if weights is None:
            self._bar = tqdm(total=tasks, desc=description, unit="task", disable=disable, leave=False)
        else:
            self._bar = tqdm(
                total=sum(weights),
                desc=description,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=disable,
                leave=False,
            )

    def done(self, task: int) -> None:
        """Task number ``task`` (its position in the phase) finished."""
        self._bar.update(1 if self._weights is None else self._weights[task])

    def close(self) -> None:
        self._bar.close()
