"""Describing registered backbones and heads for listings (plain dicts; the CLI formats them)."""

from __future__ import annotations

from typing import Any

from runner import registry
from runner.features import keras_home


def backbone_rows(code: list[str] | None = None) -> list[dict[str, Any]]:
    for path in code or []:
        registry.load_code(path)
    rows = []
    for entry, spec in registry.backbones.status():
        row: dict[str, Any] = {"name": entry.name, "source": entry.source, "status": "ok"}
        if spec is None:
            row.update(status="broken", reason=entry.broken)
        else:
            wfile = spec.weights_file(spec.default_size) if spec.weights_file else None
            row.update(
                family=spec.family,
                default_size=spec.default_size,
                min_size=spec.min_size,
                feature_shape=list(spec.feature_shape(spec.default_size)),
                params=spec.params,
                preprocess=spec.preprocess,
                weights_file=wfile,
                weights_url=spec.weights_url(spec.default_size) if spec.weights_url else None,
                weights_cached=bool(wfile and (keras_home() / "models" / wfile).is_file()),
                licence=spec.licence,
                description=spec.description,
            )
        rows.append(row)
    return rows


def head_rows(code: list[str] | None = None) -> list[dict[str, Any]]:
    for path in code or []:
        registry.load_code(path)
    rows = []
    for entry, head in registry.heads.status():
        row: dict[str, Any] = {"name": entry.name, "source": entry.source, "status": "ok"}
        if head is None:
            row.update(status="broken", reason=entry.broken)
        else:
            row.update(description=head.description, cls=f"{type(head).__module__}.{type(head).__qualname__}")
        rows.append(row)
    return rows
