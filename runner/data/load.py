"""From a path to a :class:`Dataset`: labelled data to train and evaluate on, unlabelled images to predict.

Both go through the same listing per layout (:mod:`runner.data.layouts`); nothing is decoded here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runner.data import layouts
from runner.data.dataset import Dataset
from runner.errors import DataError

IMAGES_HELP = "a folder of images, a .zip, or a CSV with a path column"


def _listing(path: Path, labelled: bool, what: str, expected: str) -> layouts.Listing:
    if not path.exists():
        raise DataError(f"{what} path does not exist", received=str(path), expected=expected, fix="check the path")
    if path.is_dir():
        return layouts.list_folder(path)
    if path.suffix.lower() == ".zip":
        return layouts.list_zip(path)
    if path.suffix.lower() == ".csv":
        return layouts.list_csv(path, labelled)
    raise DataError(
        f"unsupported {what} file", received=str(path), expected=expected, fix="pass a folder, a .zip or a .csv"
    )


def load_dataset(data: str | Path, per_class: int | None = None) -> Dataset:
    """List the labelled items of ``data`` (or the ``demo`` digits), optionally the first ``per_class`` of each."""
    if per_class is not None and per_class < 1:
        raise DataError(
            "bad --per-class", received=per_class, expected="an integer >= 1", fix="pass e.g. --per-class 1500"
        )
    if str(data) == "demo":
        ds = layouts.demo()
    else:
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(
                "data path does not exist",
                received=str(data),
                expected=layouts.LAYOUTS_HELP,
                fix="check the path passed to --data",
            )
        ds = layouts.labelled(_listing(path, True, "data", layouts.LAYOUTS_HELP), str(path))
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(ds.labels == k)[:per_class] for k in range(len(ds.classes))])
        ds = ds.subset(np.sort(keep))
    return ds


def load_images(images: str | Path) -> Dataset:
    """Unlabelled images to predict: a folder (all images below it), a .zip, or a CSV with a ``path`` column."""
    path = Path(images).expanduser()
    ds = layouts.unlabelled(_listing(path, False, "images", IMAGES_HELP))
    if len(ds) == 0:
        raise DataError("no images found", received=str(images), expected="image files (jpg, png, ...)", fix="check it")
    return ds
