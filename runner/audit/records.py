"""What an audit finds (``AuditResult``) and what it works on (``Pooled``: a dataset's pooled cached features)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.data.dataset import Dataset


@dataclass
class AuditResult:
    label_issues: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]
    leaks: list[dict[str, Any]]
    outliers: list[dict[str, Any]]
    unreadable: list[str]
    classes: dict[str, int]
    out: str = ""
    run_id: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def findings(self) -> dict[str, Any]:
        """What ``--json`` prints: exactly these six keys."""
        keys = ("label_issues", "duplicates", "leaks", "outliers", "unreadable", "classes")
        return {k: getattr(self, k) for k in keys}


@dataclass
class Pooled:
    """One dataset's usable images and their pooled (global average) features."""

    ds: Dataset
    rows: np.ndarray  # positions in ds of the decodable images
    x: np.ndarray  # (len(rows), channels) float32
    unreadable: list[str]
    maps: np.ndarray | None = None  # the cached feature maps (memory-mapped), row i is image i of ds
