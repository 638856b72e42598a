"""Reclaiming disk: registered model versions beyond the newest N of each model are deleted, with their logged
models and (in a local store) their artifact folders. Every search registers a full end-to-end model (58 MB with
VGG16), so ./mlruns grows with every search until this runs."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from runner.errors import require
from runner.tracking.store import client, existing, tracking_uri


@dataclass
class Collected:
    removed: list[str] = field(default_factory=list)  # models:/NAME/VERSION
    kept: list[str] = field(default_factory=list)
    bytes: int = 0


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def collect(keep_last: int, uri: str | None = None, dry_run: bool = False) -> Collected:
    """Delete all but the newest ``keep_last`` versions of every registered model (``dry_run``: only say which)."""
    require(
        isinstance(keep_last, int) and keep_last >= 1,
        "bad --keep-last",
        keep_last,
        "an integer >= 1",
        "pass e.g. --keep-last 3",
    )
    cl = client(existing(tracking_uri(uri, create=False)))
    out = Collected()
    for model in cl.search_registered_models():
        versions = sorted(cl.search_model_versions(f"name='{model.name}'"), key=lambda v: -int(v.version))
        out.kept += [f"models:/{model.name}/{v.version}" for v in versions[:keep_last]]
        for v in versions[keep_last:]:
            model_id = v.source.rsplit("/", 1)[-1] if str(v.source).startswith("models:/m-") else None
            folder = None
            if model_id:
                location = urlparse(cl.get_logged_model(model_id).artifact_location)
                folder = Path(location.path) if location.scheme in ("file", "") else None
            out.bytes += _size(folder) if folder else 0
            out.removed.append(f"models:/{model.name}/{v.version}")
            if dry_run:
                continue
            cl.delete_model_version(model.name, v.version)
            if model_id:
                cl.delete_logged_model(model_id)
            if folder is not None and folder.is_dir():
                shutil.rmtree(folder)
    return out
