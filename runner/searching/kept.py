"""The best trials' head weights, kept for the end of the search on disk (not in memory): a flatten head on a
224-px feature map weighs hundreds of MiB, which the search would otherwise hold through every later trial, and
training an ensemble member again (every rung, on every row) costs as much as its trial did."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np


class KeptWeights:
    """The weights of up to ``size`` trials trained in this process, the best by value, one uncompressed ``.npz``
    each in a private temporary folder (removed with this object, or at exit)."""

    def __init__(self, size: int = 1, maximize: bool = False) -> None:
        self.size, self.maximize = max(1, size), maximize
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._values: dict[int, float] = {}

    def keep(self, number: int, value: float, model: Any) -> None:
        """Keep ``model``'s weights as trial ``number``'s when its ``value`` is among the best ``size`` so far."""
        ranked = sorted(self._values.items(), key=lambda kv: -kv[1] if self.maximize else kv[1])
        if len(ranked) >= self.size:
            worst_number, worst = ranked[-1]
            if not (value > worst if self.maximize else value < worst):
                return
            self._path(worst_number).unlink(missing_ok=True)
            del self._values[worst_number]
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="runner-kept-")
        tensors = weight_tensors(model)  # written from the weights' own memory: no copy
        np.savez(self._path(number), *(np.from_dlpack(t) for t in tensors))
        self._values[number] = value

    def _path(self, number: int) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / f"trial-{number}.npz"

    def __contains__(self, number: object) -> bool:
        return number in self._values

    def get(self, number: int) -> list[np.ndarray]:
        if number not in self:
            raise KeyError(number)
        with np.load(self._path(number)) as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]


def weight_tensors(model: Any) -> list[Any]:
    """The model's weights as tensors sharing their variables' memory (TensorFlow copies a variable's buffer only
    when it is written while still read): a warm start or a kept trial reads them without a NumPy copy outside the
    memory --memory-budget reserved."""
    import tensorflow as tf

    return [tf.convert_to_tensor(v.value) for v in model.weights]
