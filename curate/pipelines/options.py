"""Options made from the fields of a stage's frozen config dataclass, for the CLI and for pipelines.

A field's default, type, range, choices and help are written once, on the field
(:func:`option`); the click option of ``curate GROUP NAME``, the key of a ``curate run``
stage and its validation all come from it. Only click is imported here (start-up stays fast).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

MISSING = dataclasses.MISSING


def option(
    default: Any = MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = MISSING,
    choices: tuple[str, ...] | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    flag: bool = False,
    show_default: bool = True,
    auto: Any = MISSING,
    parse: Callable[[str], Any] | None = None,
    cli: bool = True,
) -> Any:
    """A config field that is also an option.

    ``flag``: an on/off switch without ``--no-`` form; ``auto``: the field value meaning
    "chosen by the stage" (the option then defaults to nothing); ``parse``: turns the
    option's text into the field's value (its default is shown as ``str(default)``);
    ``cli=False``: a field that is not an option at all.
    """
    metadata = {
        "help": help,
        "choices": choices,
        "min": min,
        "max": max,
        "min_open": min_open,
        "max_open": max_open,
        "flag": flag,
        "show_default": show_default,
        "auto": auto,
        "parse": parse,
        "cli": cli,
    }
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def option_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of ``cls`` that are options (not ``read``, not run fields, not ``cli=False``)."""
    return [
        f
        for f in dataclasses.fields(cls)
        if f.name != "read" and not f.metadata.get("run_field") and f.metadata.get("cli", True)
    ]


def field_default(item: dataclasses.Field[Any]) -> Any:
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    return None


def _range_type(hint: Any, meta: typing.Mapping[str, Any]) -> click.ParamType | None:
    if meta.get("min") is None and meta.get("max") is None:
        return None
    kwargs = {"min": meta["min"], "max": meta["max"], "min_open": meta["min_open"], "max_open": meta["max_open"]}
    if hint is float:
        return click.FloatRange(**kwargs)
    if kwargs.pop("min_open") or kwargs.pop("max_open"):
        raise TypeError("open bounds are for float options")
    return click.IntRange(**kwargs)


def click_option(item: dataclasses.Field[Any], hint: Any) -> Callable[[Any], Any]:
    """The click option of one field (options show their ``CURATE_…`` variable in --help)."""
    name = "--" + item.name.replace("_", "-")
    meta = item.metadata
    help_text = meta.get("help", "")
    default = field_default(item)
    show_default = meta.get("show_default", True)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    def make(*decls: str, **kwargs: Any) -> Callable[[Any], Any]:
        kwargs.setdefault("show_envvar", True)
        return click.option(*decls, item.name, **kwargs)

    if meta.get("parse") is not None:
        return make(name, default=str(default), show_default=show_default, help=help_text)
    if hint is bool:
        if meta.get("flag"):
            return make(name, is_flag=True, help=help_text)
        return make(f"{name}/--no-{name[2:]}", default=default, show_default=True, help=help_text)
    if origin is tuple:
        return make(name, multiple=True, default=default, show_default=True, help=help_text + " (repeatable)")
    if meta.get("choices"):
        return make(name, type=click.Choice(list(meta["choices"])), default=default, show_default=True, help=help_text)
    if hint is int or hint is float or hint is str:
        kind = _range_type(hint, meta) or hint
        if meta.get("auto", MISSING) is not MISSING:
            return make(name, type=kind, default=None, help=help_text)
        return make(name, type=kind, default=default, show_default=show_default, help=help_text)
    if (origin is typing.Union or str(origin) == "<class 'types.UnionType'>") and str in args:
        return make(name, type=str, default=default, show_default=True, help=help_text)
    if Path in args or hint is Path:
        return make(name, type=click.Path(exists=True, dir_okay=False), default=default, help=help_text)
    raise TypeError(f"{item.name}: unsupported option type {hint!r}")


def click_options(cls: type) -> list[Callable[[Any], Any]]:
    hints = typing.get_type_hints(cls)
    return [click_option(item, hints[item.name]) for item in option_fields(cls)]


def field_values(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """The config's field values from parsed option values (popped from ``params``): lists
    become tuples, ``parse`` applied, an absent automatic option becomes its ``auto`` value."""
    values: dict[str, Any] = {}
    for item in option_fields(cls):
        value = params.pop(item.name)
        meta = item.metadata
        if isinstance(value, list):
            value = tuple(value)
        if value is None and meta.get("auto", MISSING) is not MISSING:
            value = meta["auto"]
        elif meta.get("parse") is not None and isinstance(value, str):
            value = meta["parse"](value)
        values[item.name] = value
    return values


def check_ranges(config: Any) -> None:
    """The ranges and choices of an option field, for a config built without click."""
    from curate.errors import UsageError

    for item in option_fields(type(config)):
        meta = item.metadata
        value = getattr(config, item.name)
        if meta.get("auto", MISSING) is not MISSING and value == meta["auto"]:
            continue
        option_name = "--" + item.name.replace("_", "-")
        if meta.get("choices") and value not in meta["choices"]:
            raise UsageError(f"{option_name} must be one of {', '.join(meta['choices'])}, got {value!r}")
        low, high = meta.get("min"), meta.get("max")
        if low is not None and (value < low or (meta["min_open"] and value == low)):
            raise UsageError(f"{option_name} must be {'>' if meta['min_open'] else '>='} {low}, got {value}")
        if high is not None and (value > high or (meta["max_open"] and value == high)):
            raise UsageError(f"{option_name} must be {'<' if meta['max_open'] else '<='} {high}, got {value}")
