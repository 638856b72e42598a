"""``runner backbones list|show`` and ``runner heads list|show``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from runner.errors import RunnerError

backbones_app = typer.Typer(help="Registered backbones (built-in, plugins, --code files).", no_args_is_help=True)
heads_app = typer.Typer(help="Registered classifier heads.", no_args_is_help=True)
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Code = Annotated[list[str] | None, typer.Option(help="A .py file that registers backbones/heads (repeatable).")]


def _warn() -> None:
    """Plugins ignored because a built-in has their name: one warning line each (stderr, so --json stays clean)."""
    from runner.plugins.catalog import clashes

    for line in clashes():
        typer.echo(f"warning: {line}", err=True)


def _params(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def _one(rows: list[dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    for row in rows:
        if row["name"] == name:
            return row
    raise RunnerError(
        f"unknown {kind}",
        received=name,
        expected=f"one of {', '.join(r['name'] for r in rows)}",
        fix=f"see `runner {kind}s list`",
    )


@backbones_app.command("list", epilog="Examples:\n\n  runner backbones list\n\n  runner backbones list --json")
def backbones_list(as_json: Json = False, code: Code = None) -> None:
    """Name, default size, feature shape, parameters, source, and whether ImageNet weights are cached."""
    from runner.plugins.catalog import backbone_rows

    rows = backbone_rows(code)
    _warn()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'name':34}{'size':>5}  {'features':16}{'params':>8}  {'cached':7}source")
    for r in rows:
        if r["status"] != "ok":
            typer.echo(f"{r['name']:34}BROKEN  {r['reason']}  [{r['source']}]")
            continue
        shape = "x".join(str(d) for d in r["feature_shape"])
        cached = "yes" if r["weights_cached"] else ("n/a" if r["weights_file"] is None else "no")
        typer.echo(
            f"{r['name']:34}{r['default_size']:>5}  {shape:16}{_params(r['params']):>8}  {cached:7}{r['source']}"
        )


@backbones_app.command("show", epilog="Examples:\n\n  runner backbones show vgg16")
def backbones_show(name: str, as_json: Json = False, code: Code = None) -> None:
    """Everything known about one backbone."""
    from runner.plugins.catalog import backbone_rows

    row = _one(backbone_rows(code), name, "backbone")
    typer.echo(json.dumps(row) if as_json else "\n".join(f"{k:16}{v}" for k, v in row.items()))


@heads_app.command("list", epilog="Examples:\n\n  runner heads list")
def heads_list(as_json: Json = False, code: Code = None) -> None:
    """Registered heads with their source."""
    from runner.plugins.catalog import head_rows

    rows = head_rows(code)
    _warn()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        detail = r["description"] if r["status"] == "ok" else f"BROKEN  {r['reason']}"
        typer.echo(f"{r['name']:12}{detail}  [{r['source']}]")


@heads_app.command("show", epilog="Examples:\n\n  runner heads show mlp")
def heads_show(name: str, as_json: Json = False, code: Code = None) -> None:
    """Everything known about one head."""
    from runner.plugins.catalog import head_rows

    row = _one(head_rows(code), name, "head")
    typer.echo(json.dumps(row) if as_json else "\n".join(f"{k:16}{v}" for k, v in row.items()))
