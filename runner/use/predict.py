"""``runner.predict()``: stream images through a model into a CSV (Kaggle submission format by default)."""

from __future__ import annotations

import csv
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runner.data.batches import iter_batches, stack
from runner.data.load import load_images
from runner.errors import RunnerError
from runner.use.load import load, predict_batch

Progress = Callable[[int, int, float], None]
FORMATS = ("kaggle", "full")


@dataclass
class PredictResult:
    out: str
    n: int
    unreadable: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _ids(names: list[str]) -> list[Any]:
    """The number in each file name when every file has one (``1234.jpg`` -> 1234), else the file name."""
    stems = [Path(n).name.split(".", 1)[0] for n in names]
    if stems and all(re.fullmatch(r"\d+", s) for s in stems):
        return [int(s) for s in stems]
    return names


def predict(
    model: str,
    images: str,
    out: str = "predictions.csv",
    *,
    fmt: str | None = None,
    clip: float | None = None,
    batch_size: int = 32,
    tracking_uri: str | None = None,
    progress: Progress | None = None,
) -> PredictResult:
    if fmt is not None and fmt not in FORMATS:
        raise RunnerError("bad --format", received=fmt, expected=" or ".join(FORMATS), fix="pass --format kaggle")
    if clip is not None and not 0 <= clip < 0.5:
        raise RunnerError("bad --clip", received=clip, expected="a number in [0, 0.5)", fix="pass e.g. --clip 0.005")
    ds = load_images(images)
    loaded = load(model, tracking_uri)
    classes = loaded.classes
    if fmt == "kaggle" and len(classes) != 2:
        raise RunnerError(
            "--format kaggle needs a two-class model",
            received=f"a model of {len(classes)} classes ({', '.join(classes[:5])})",
            expected="two classes (id,label = P(second class))",
            fix="pass --format full (one probability column per class), or drop --format",
        )
    kaggle = (fmt or "kaggle") == "kaggle" and len(classes) == 2
    columns = ["id", "label"] if kaggle else ["id", *(f"p_{c}" for c in classes), "predicted"]
    ids = _ids(ds.names)
    tmp = Path(f"{out}.tmp-{os.getpid()}")
    unreadable: list[str] = []
    t0 = time.perf_counter()
    try:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            for rng, imgs in iter_batches(ds, loaded.size, batch_size):
                ok, x = stack(imgs)
                proba = predict_batch(loaded.model, x) if x is not None else np.zeros((0, len(classes)))
                if clip:
                    proba = np.clip(proba, clip, 1 - clip)
                rows = dict(zip(ok, proba, strict=True))
                for k, i in enumerate(rng):
                    if k not in rows:
                        unreadable.append(ds.names[i])
                        writer.writerow([ids[i]] + [""] * (len(columns) - 1))
                    elif kaggle:
                        writer.writerow([ids[i], f"{rows[k][1]:.6f}"])
                    else:
                        p = rows[k]
                        writer.writerow([ids[i], *(f"{v:.6f}" for v in p), classes[int(np.argmax(p))]])
                if progress:
                    progress(rng[-1] + 1, len(ds), time.perf_counter() - t0)
        os.replace(tmp, out)  # an interrupted run never leaves a half-written predictions file
    finally:
        tmp.unlink(missing_ok=True)
    seconds = round(time.perf_counter() - t0, 3)
    return PredictResult(out=str(out), n=len(ds), unreadable=unreadable, columns=columns, seconds=seconds)
