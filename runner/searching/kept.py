"""The best trial's head weights, kept for the end of the search on disk (not in memory): a flatten head on a
224-px feature map weighs hundreds of MiB, which the search would otherwise hold through every later trial."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class KeptWeights:
    """At most one trial's weights, in an uncompressed ``.npz`` in a private temporary folder (removed with this
    object, or at exit)."""

    def __init__(self) -> None:
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.number: int | None = None

    def keep(self, number: int | None, model: Any) -> None:
        """Keep ``model``'s weights as trial ``number``'s (``None``: keep nothing, forget what was kept)."""
        self.number = None
        if number is None:
            return
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="runner-best-")
        weights = model.get_weights()
        np.savez(self._path, *weights)
        self.number = number

    @property
    def _path(self) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / "best.npz"

    def __contains__(self, number: object) -> bool:
        return self.number is not None and number == self.number

    def get(self, number: int) -> list[np.ndarray]:
        if number not in self:
            raise KeyError(number)
        with np.load(self._path) as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]
