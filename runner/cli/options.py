"""Typer options from a config dataclass: each field of :class:`runner.SearchConfig` (or ``FinetuneConfig``) is one
``--option`` with the field's default and help text, so an option is declared once, where it is validated."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Annotated, Any

import typer


def config_params(config_cls: type) -> list[inspect.Parameter]:
    """One keyword-only parameter per field, annotated with its ``typer.Option``."""
    hints = typing.get_type_hints(config_cls)
    params = []
    for f in fields(config_cls):
        cli = dict(f.metadata.get("cli", {}))
        kind = cli.pop("type", hints[f.name])
        decls = cli.pop("decls", ())
        default = None if f.default in ((), MISSING) else f.default
        option = typer.Option(*decls, help=f.metadata.get("help", ""), **cli)
        annotation = Annotated[kind, option]
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    return params


def with_options(config_cls: type, before: list[inspect.Parameter], after: list[inspect.Parameter]) -> Callable:
    """Decorator: the command's signature becomes ``before + the config's options + after``; the command receives
    the config's fields as keywords (``**options``) beside its own parameters."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__signature__ = inspect.Signature([*before, *config_params(config_cls), *after])  # type: ignore[attr-defined]
        return fn

    return wrap


JSON = inspect.Parameter(
    "as_json",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of a summary.")],
)
