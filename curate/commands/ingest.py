"""``curate ingest NAME IN OUT``: source stages, raw inputs (web archives) to text shards.

Each command is made from its registered stage (``INGEST_STAGES`` in
``curate.pipelines.registry``): its options are the fields of the stage's dataclass.
"""

from __future__ import annotations

from typing import Any

import click


def _report(stage: Any, summary: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    counters = summary.manifest["counters"]
    dropped = {k.removeprefix("dropped:"): v for k, v in counters.items() if k.startswith("dropped:")}
    return {"dropped": dropped}, f"{sum(dropped.values())} records not kept, "


class IngestGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        from curate.pipelines.registry import group_names

        return sorted(group_names("ingest"))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from curate.commands.stage_command import make_stage_command
        from curate.pipelines.registry import entry

        found = entry("ingest", cmd_name)
        return None if found is None else make_stage_command(found, _report, short_help=found.summary)


@click.group(cls=IngestGroup)
def ingest() -> None:
    """Raw sources to text shards: web archives (WARC, ARC, WET) with main-content extraction."""
