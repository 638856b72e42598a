"""``runner gc``: reclaim the disk that registered model versions take (``runner cache clear`` does the cache)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

EXAMPLES = (
    "Examples:\n\n  runner gc --keep-last 3            # every registered model keeps its 3 newest versions\n\n"
    "  runner gc --keep-last 1 --dry-run  # only say what would go\n\n"
    "  runner cache clear --unused-days 30"
)


def gc(
    keep_last: Annotated[int, typer.Option(help="Versions of each registered model to keep (the newest).")] = 3,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be removed.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow store (default: ./mlruns/mlflow.db).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete old registered model versions with their logged models and artifacts, keeping the newest N."""
    from runner.tracking.gc import collect

    r = collect(keep_last, tracking_uri, dry_run)
    if as_json:
        typer.echo(
            json.dumps({"removed": r.removed, "kept": r.kept, "mb": round(r.bytes / 1e6, 1), "dry_run": dry_run})
        )
        return
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {len(r.removed)} model version(s), {r.bytes / 1e6:.1f} MB; kept {len(r.kept)}")
    for ref in r.removed:
        typer.echo(f"  {ref}")
