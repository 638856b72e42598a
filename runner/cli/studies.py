"""``runner studies list|show``: the Optuna studies in a storage, with their best trial."""

from __future__ import annotations

import json
from typing import Annotated

import typer

app = typer.Typer(help="List the studies in an Optuna storage, or show one.", no_args_is_help=True)
Storage = Annotated[
    str | None,
    typer.Option(help="Optuna storage URL (default: optuna.db next to the MLflow store, as `runner search` uses)."),
]
TrackingUri = Annotated[str | None, typer.Option(help="MLflow URI whose default storage to read.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _storage(storage: str | None, tracking_uri: str | None) -> object:
    from runner import tracking
    from runner.errors import RunnerError
    from runner.searching import study

    if storage is None:
        root = tracking.local_root(tracking.tracking_uri(tracking_uri, create=False))
        if not (root / "optuna.db").is_file():  # reading never creates a storage
            raise RunnerError(
                "no Optuna storage here",
                received=str(root.resolve() / "optuna.db"),
                expected="the storage `runner search` wrote (mlruns/optuna.db in the folder it ran in)",
                fix="run from the folder of the search, or pass --storage URL",
            )
        storage = f"sqlite:///{(root / 'optuna.db').resolve()}"
    return study.storage(storage)


def _counts(c: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in sorted(c.items())) or "none"


@app.command("list", epilog="Examples:\n\n  runner studies list\n\n  runner studies list --storage journal:///s.log")
def list_(storage: Storage = None, tracking_uri: TrackingUri = None, as_json: AsJson = False) -> None:
    """Every study: name, trials by state, best value and trial, start time."""
    from runner.searching.reports import summaries

    rows = summaries(_storage(storage, tracking_uri))
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    typer.echo(f"{len(rows)} stud{'y' if len(rows) == 1 else 'ies'}")
    for r in rows:
        best = "-" if r["best_value"] is None else f"{r['best_value']:.4f} (trial {r['best_trial']})"
        typer.echo(f"{r['study']:44} {r['direction']:9} best {best:22} {_counts(r['trials'])}  {r['started']}")


@app.command("show", epilog="Examples:\n\n  runner studies show train-vgg16-20261130-101500 --json")
def show(
    name: Annotated[str, typer.Argument(help="Study name (from `runner studies list`).")],
    storage: Storage = None,
    tracking_uri: TrackingUri = None,
    top: Annotated[int, typer.Option(help="How many of the best trials to list.")] = 10,
    as_json: AsJson = False,
) -> None:
    """One study: counts, best trial (parameters and metrics), registered model, the top trials."""
    from runner.searching.reports import describe

    d = describe(_storage(storage, tracking_uri), name, top)
    if as_json:
        typer.echo(json.dumps(d, default=str))
        return
    typer.echo(f"study       {d['study']} ({d['direction']}), started {d['started']}")
    typer.echo(f"trials      {_counts(d['trials'])}")
    typer.echo(f"parent run  {d['parent_run_id']}")
    if d["best"]:
        c = d["best"]["choice"] or {}
        typer.echo(
            f"best trial  #{d['best']['trial']} value {d['best_value']:.4f}: {c.get('backbone')} + "
            f"{c.get('head')} {c.get('params')}"
        )
        typer.echo(f"metrics     {d['best']['metrics']}")
    if d["model"]:
        typer.echo(f"model       models:/{d['model'].get('name')}/{d['model'].get('version')}")
    for t in d["top"]:
        typer.echo(f"  trial {t['trial']:>4}  {t['value']:.4f}  {t['params']}")
