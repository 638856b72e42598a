"""A trial's choice: which backbone, which head, the head's hyperparameters, how many augmented views."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ATTR = "choice"  # the trial user attribute that stores it (plain JSON, readable by `runner studies show`)


@dataclass(frozen=True)
class Choice:
    backbone: str
    head: str
    params: dict[str, Any] = field(default_factory=dict)
    views: int | None = None  # augmented views trained on (0..K); None when the search caches no views

    def to_attrs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backbone": self.backbone, "head": self.head, "params": dict(self.params)}
        if self.views is not None:
            out["views"] = self.views
        return out

    @classmethod
    def of(cls, trial: Any) -> Choice:
        """The choice stored on a (frozen) trial."""
        attrs = trial.user_attrs[ATTR]
        return cls(attrs["backbone"], attrs["head"], dict(attrs["params"]), attrs.get("views"))

    def shown(self) -> dict[str, Any]:
        """As logged and printed: backbone, head, the head's parameters, ``augment_views`` when searched."""
        out = {"backbone": self.backbone, "head": self.head} | self.params
        if self.views is not None:
            out["augment_views"] = self.views
        return out
