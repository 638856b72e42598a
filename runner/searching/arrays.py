"""What a trial trains on: one backbone's cached features and labels; and a trial whose parameter names are
prefixed by its head."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runner.features.rows import Rows


@dataclass
class Arrays:
    """One backbone's features (rows of the cache's files, or in-memory arrays) and labels."""

    x_train: Rows
    y_train: np.ndarray
    x_val: Rows
    y_val: np.ndarray
    n_classes: int
    x_views: Rows | None = None  # augmented views of x_train, one source per view, or None
    mirror: Rows | None = None  # mirror images of the scored rows (x_val; x_train with --folds), or None
    _averaged: Arrays | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.x_train, self.x_val = Rows.of(self.x_train), Rows.of(self.x_val)
        if self.x_views is not None:
            self.x_views = Rows.views(self.x_views)
        if self.mirror is not None:
            self.mirror = Rows.of(self.mirror)

    def averaged(self) -> Arrays:
        """These features averaged over the map's positions (:meth:`Rows.averaged`), computed once into a temporary
        folder (removed with the averaged arrays): what a head that only averages the map trains on."""
        if self._averaged is None:
            import shutil
            import tempfile
            import weakref

            memo: dict = {}
            folder = Path(tempfile.mkdtemp(prefix="runner-averaged-"))
            views = None if self.x_views is None else self.x_views.averaged(memo, folder)
            mirror = None if self.mirror is None else self.mirror.averaged(memo, folder)
            x_train, x_val = self.x_train.averaged(memo, folder), self.x_val.averaged(memo, folder)
            self._averaged = Arrays(x_train, self.y_train, x_val, self.y_val, self.n_classes, views, mirror)
            # the files go with the averaged arrays (which these arrays hold): never while either is in use
            weakref.finalize(self._averaged, shutil.rmtree, folder, ignore_errors=True)
        return self._averaged

    def views(self, k: int) -> Rows | None:
        """The first ``k`` augmented views, or None (k = 0 or no views)."""
        return self.x_views.first(k) if k and self.x_views is not None else None


class Prefixed:
    """A trial whose ``suggest_*`` names are prefixed (``dense.width``): heads never collide in one study."""

    def __init__(self, trial: Any, prefix: str) -> None:
        self._trial, self._prefix = trial, prefix

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._trial, attr)
        if not attr.startswith("suggest_"):
            return target
        return lambda name, *args, **kwargs: target(f"{self._prefix}.{name}", *args, **kwargs)
