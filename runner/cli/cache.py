"""``runner cache list|clear``: the on-disk feature cache."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from runner.errors import RunnerError
from runner.features.cache import FeatureCache

app = typer.Typer(help="List or clear cached backbone features.", no_args_is_help=True)
CacheDir = Annotated[
    str | None, typer.Option(envvar="RUNNER_CACHE_DIR", help="Cache folder (default ~/.cache/runner).")
]


@app.command("list", epilog="Examples:\n\n  runner cache list\n\n  runner cache list --json")
def list_(
    cache_dir: CacheDir = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """List cache entries: key, backbone, image size, images, size on disk, when created."""
    cache = FeatureCache(cache_dir)
    rows = [
        {
            "key": e.key,
            "backbone": e.meta.get("backbone"),
            "size": e.meta.get("size"),
            "images": e.meta.get("n"),
            "dataset": e.meta.get("dataset"),
            "mb": round(e.size_bytes() / 1e6, 1),
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(e.meta.get("created", 0))),
        }
        for e in cache.entries()
    ]
    if as_json:
        typer.echo(json.dumps({"dir": str(cache.root), "entries": rows}))
        return
    typer.echo(f"cache: {cache.root} ({len(rows)} entries)")
    if rows:
        typer.echo(f"{'key':34}{'backbone':20}{'size':>5}{'images':>8}{'MB':>9}  {'created':17}dataset")
    for r in rows:
        cells = f"{r['key']:34}{r['backbone']!s:20}{r['size']!s:>5}{r['images']!s:>8}{r['mb']:>9}"
        typer.echo(f"{cells}  {r['created']:17}{r['dataset']}")


@app.command(
    "clear", epilog="Examples:\n\n  runner cache clear 092c6e136fbc5de3234e7600ce748f58\n\n  runner cache clear --all"
)
def clear(
    keys: Annotated[list[str] | None, typer.Argument(help="Keys to remove (from `runner cache list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every entry.")] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Remove cache entries (they are recomputed when needed)."""
    if not keys and not all_:
        raise RunnerError(
            "nothing to clear",
            received="no keys",
            expected="one or more keys, or --all",
            fix="run `runner cache list` and pass keys, or pass --all",
        )
    cache = FeatureCache(cache_dir)
    n = cache.clear(None if all_ else list(keys or []))
    typer.echo(f"removed {n} cache entr{'y' if n == 1 else 'ies'} from {cache.root}")
