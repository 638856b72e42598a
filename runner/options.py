"""Declaring an option once: a dataclass field with its default and CLI help, read by the CLI to build its
options (:func:`runner.cli.options.command`). Imports nothing."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def option(default: Any, help: str, **cli: Any) -> Any:
    """A config field with its ``--help`` text. ``cli`` holds Typer settings where the CLI differs: ``decls``
    (the flag names, e.g. ``("--unfreeze",)``), ``type`` (the type the CLI parses), ``envvar``."""
    return field(default=default, metadata={"help": help, "cli": cli})
