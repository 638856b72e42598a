"""Declaring an option once: a dataclass field with its default and CLI help, read by the CLI to build its
options (:func:`runner.cli.options.command`). Imports nothing."""

from __future__ import annotations

from dataclasses import field
from typing import Any, TypeVar

C = TypeVar("C")


def option(default: Any, help: str, **cli: Any) -> Any:
    """A config field with its ``--help`` text. ``cli`` holds Typer settings where the CLI differs: ``decls``
    (the flag names, e.g. ``("--unfreeze",)``), ``type`` (the type the CLI parses), ``envvar``."""
    return field(default=default, metadata={"help": help, "cli": cli})


def config_of(cls: type[C], given: Any, options: dict[str, Any], what: str, first: str | None = None) -> C:
    """The API's two forms: a config object, or its fields as keywords (``given``, if not None and not a config,
    is the ``first`` field, e.g. ``runner.search("train/", trials=30)``). Both at once is a TypeError."""
    if isinstance(given, cls):
        if options:
            raise TypeError(f"{what}() takes a {cls.__name__} or keyword options, not both (got {sorted(options)})")
        return given
    if given is not None:
        if first is None:
            raise TypeError(f"{what}() takes a {cls.__name__} or keyword options, got {type(given).__name__}")
        options = {first: given, **options}
    return cls(**options)
