"""Options every stage command shares: input columns, executors, error policy, output form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _option(*decls: str, **kwargs: Any) -> Callable[[F], F]:
    kwargs.setdefault("show_envvar", True)
    return click.option(*decls, **kwargs)


def input_options(fn: F) -> F:
    for decorator in reversed(
        [
            click.argument("input_location", metavar="IN"),
            click.argument("output", metavar="OUT", type=click.Path(file_okay=False)),
            _option("--text-column", default="text", show_default=True, help="Column holding the document text."),
            _option(
                "--id-column",
                default=None,
                help="Column holding a unique document id (any type; default 'id' if present, "
                "else ids are derived as '<file>#<row>').",
            ),
        ]
    ):
        fn = decorator(fn)
    return fn


def run_options(fn: F) -> F:
    for decorator in reversed(
        [
            _option(
                "--executor",
                type=click.Choice(["local", "ray"]),
                default="local",
                show_default=True,
                help="local: a process pool on this machine; ray: a Ray cluster (or a local Ray instance).",
            ),
            _option("--workers", type=click.IntRange(min=0), default=0, help="Parallel workers (0 = CPU count)."),
            _option("--ray-address", default=None, help="Ray cluster address (else RAY_ADDRESS, else local Ray)."),
            _option(
                "--on-error",
                type=click.Choice(["fail", "skip"]),
                default="fail",
                show_default=True,
                help="On a corrupt input shard: fail, or skip it (quarantined, listed in the manifest, exit 3).",
            ),
            _option("--overwrite", is_flag=True, help="Replace an output written with another configuration."),
            _option("--keep-work", is_flag=True, help="Keep intermediate files in OUT/_work after success."),
            _option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object."),
        ]
    ):
        fn = decorator(fn)
    return fn
