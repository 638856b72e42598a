"""Describing registered backbones and heads for listings (plain dicts; the CLI formats them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.plugins import registry
from runner.plugins.code import load_code
from runner.plugins.specs import BackboneSpec, Head, keras_home


def _rows(reg: registry.Registry, describe: Callable[[Any], dict[str, Any]], code: list[str] | None) -> list[dict]:
    """One row per entry: its description, or ``status: broken`` with the reason."""
    for path in code or []:
        load_code(path)
    rows = []
    for entry, item in reg.status():
        row: dict[str, Any] = {"name": entry.name, "source": entry.source, "status": "ok"}
        row.update(describe(item) if item is not None else {"status": "broken", "reason": entry.broken})
        rows.append(row)
    return rows


def _backbone(spec: BackboneSpec) -> dict[str, Any]:
    wfile = spec.weights_file(spec.default_size) if spec.weights_file else None
    return {
        "family": spec.family,
        "default_size": spec.default_size,
        "min_size": spec.min_size,
        "feature_shape": list(spec.feature_shape(spec.default_size)),
        "params": spec.params,
        "preprocess": spec.preprocess,
        "weights_file": wfile,
        "weights_url": spec.weights_url(spec.default_size) if spec.weights_url else None,
        "weights_cached": bool(wfile and (keras_home() / "models" / wfile).is_file()),
        "licence": spec.licence,
        "description": spec.description,
    }


def _head(head: Head) -> dict[str, Any]:
    return {"description": head.description, "cls": f"{type(head).__module__}.{type(head).__qualname__}"}


def backbone_rows(code: list[str] | None = None) -> list[dict[str, Any]]:
    return _rows(registry.backbones, _backbone, code)


def head_rows(code: list[str] | None = None) -> list[dict[str, Any]]:
    return _rows(registry.heads, _head, code)


def clashes() -> list[str]:
    """Plugins ignored because a built-in has their name (one line each, for listings to show as warnings)."""
    registry.backbones.names(), registry.heads.names()
    return [*registry.backbones.warnings, *registry.heads.warnings]
