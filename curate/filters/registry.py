"""Every filter and modifier by command name. Registering one is decorating its class with
``@register``; its module must be listed in ``MODULES`` so that it is imported on demand."""

from __future__ import annotations

import importlib

from curate.filters.base import TextStage

# Imported lazily, only when a filter command runs or is listed.
MODULES = (
    "curate.filters.rules.gopher_quality",
    "curate.filters.rules.gopher_repetition",
    "curate.filters.rules.c4",
    "curate.filters.rules.fineweb",
    "curate.filters.rules.url",
    "curate.filters.rules.pii",
    "curate.classify.stages",
)

_REGISTRY: dict[str, type[TextStage]] = {}


def register(cls: type[TextStage]) -> type[TextStage]:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two text stages named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[TextStage]]:
    for module in MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return dict(sorted(_REGISTRY.items()))
