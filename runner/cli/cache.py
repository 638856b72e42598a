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


def _weights(identity: str) -> str:
    """What tells entries of one backbone apart: imagenet, the seed of random weights, or a weights file's hash."""
    if identity.startswith("imagenet:"):
        return "imagenet"
    if identity.startswith("file:"):
        return identity[:13]
    return identity.replace("random:", "random ")


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
            "weights": _weights(e.meta.get("parts", {}).get("weights", "")),
            "view": e.meta.get("view"),
            "mb": round(e.size_bytes() / 1e6, 1),
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(e.meta.get("created", 0))),
            "last_used": time.strftime("%Y-%m-%d %H:%M", time.localtime(e.path.stat().st_mtime)),
        }
        for e in cache.entries()
    ]
    total = round(sum(r["mb"] for r in rows), 1)
    if as_json:
        typer.echo(json.dumps({"dir": str(cache.root), "entries": rows, "total_mb": total}))
        return
    typer.echo(f"cache: {cache.root} ({len(rows)} entries, {total} MB)")
    if rows:
        head = f"{'key':34}{'backbone':18}{'size':>5}{'images':>7}{'weights':>16}{'view':>5}{'MB':>8}"
        typer.echo(f"{head}  {'last used':17}dataset")
    for r in rows:
        view = "-" if r["view"] is None else str(r["view"])
        cells = f"{r['key']:34}{r['backbone']!s:18}{r['size']!s:>5}{r['images']!s:>7}{r['weights']:>16}{view:>5}"
        typer.echo(f"{cells}{r['mb']:>8}  {r['last_used']:17}{r['dataset']}")


@app.command(
    "clear", epilog="Examples:\n\n  runner cache clear 092c6e136fbc5de3234e7600ce748f58\n\n  runner cache clear --all"
)
def clear(
    keys: Annotated[list[str] | None, typer.Argument(help="Keys to remove (from `runner cache list`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Remove every entry.")] = False,
    unused_days: Annotated[
        float | None, typer.Option(help="Remove the entries no search or audit used for this many days.")
    ] = None,
    cache_dir: CacheDir = None,
) -> None:
    """Remove cache entries (they are recomputed when needed)."""
    if unused_days is not None:
        keys = FeatureCache(cache_dir).unused(unused_days)
        if not keys:
            typer.echo(f"no cache entry unused for {unused_days:g} days")
            return
    if not keys and not all_:
        raise RunnerError(
            "nothing to clear",
            received="no keys",
            expected="one or more keys, or --all",
            fix="run `runner cache list` and pass keys, or pass --unused-days N or --all",
        )
    cache = FeatureCache(cache_dir)
    n = cache.clear(None if all_ else list(keys or []))
    typer.echo(f"removed {n} cache entr{'y' if n == 1 else 'ies'} from {cache.root}")
