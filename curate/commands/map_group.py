"""A command group of registered map stages outside ``filter`` (``hash``, ``embed``): its commands
are built from the registry when asked for, so ``curate --help`` imports none of them."""

from __future__ import annotations

from typing import Any

import click


class MapStageGroup(click.Group):
    def __init__(self, *args: Any, stage_group: str, reporter: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage_group = stage_group
        self.reporter = reporter

    def list_commands(self, ctx: click.Context) -> list[str]:
        from curate.pipelines.registry import group_names

        return sorted(group_names(self.stage_group))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from curate.commands.stage_command import make_stage_command
        from curate.pipelines.registry import entry

        found = entry(self.stage_group, cmd_name)
        return None if found is None else make_stage_command(found, self.reporter, short_help=found.summary)
