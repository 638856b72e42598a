"""Layout detection for labelled data: class folders, Kaggle flat folder, zip of either, CSV, demo digits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from runner.data import images
from runner.data.dataset import LAYOUTS_HELP, Dataset, natural_key
from runner.data.readers import ArrayReader, FileReader, ZipReader
from runner.errors import DataError


def _labelled(rel: list[str], where: str) -> tuple[str, list[tuple[str, str]]]:
    """Detect the layout of relative image paths; return (layout, [(path, label)])."""
    if not rel:
        raise DataError(
            f"no images found in {where}",
            received=where,
            expected=LAYOUTS_HELP,
            fix=f"point --data at a folder of images ({', '.join(images.IMAGE_EXTENSIONS)})",
        )
    depths = {p.count("/") for p in rel}
    if 0 in depths and len(depths) > 1:
        raise DataError(
            f"{where} mixes loose images and class folders",
            received=where,
            expected="either class folders only or loose Kaggle-named files only",
            fix="move the loose images into their class folder (or the reverse)",
        )
    if 0 not in depths:
        return "folders", [(p, p.split("/", 1)[0]) for p in rel]
    bad = [p for p in rel if p.count(".") < 2]
    if bad:
        raise DataError(
            f"flat folder {where} has file names that carry no label",
            received=bad[0],
            expected="Kaggle-style names 'label.N.ext' such as cat.0.jpg, or class sub-folders",
            fix="rename the files or put them in one folder per class",
        )
    return "kaggle", [(p, p.split(".", 1)[0]) for p in rel]


def _strip_common_dirs(names: list[str]) -> tuple[str, list[str]]:
    prefix = ""
    while names and all("/" in n for n in names) and len({n.split("/", 1)[0] for n in names}) == 1:
        head = names[0].split("/", 1)[0] + "/"
        prefix += head
        names = [n[len(head) :] for n in names]
    return prefix, names


def build(name: str, layout: str, pairs: list[tuple[str, str]], reader_for) -> Dataset:
    pairs = sorted(pairs, key=lambda pl: natural_key(pl[0]))
    classes = sorted({label for _, label in pairs})
    lookup = {c: k for k, c in enumerate(classes)}
    labels = np.array([lookup[label] for _, label in pairs], dtype=np.int64)
    names = [p for p, _ in pairs]
    return Dataset(name, layout, classes, names, labels, reader_for(names))


def from_dir(path: Path) -> Dataset:
    rel = sorted(
        p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and images.is_image_name(p.name)
    )
    layout, pairs = _labelled(rel, str(path))
    return build(path.name, layout, pairs, lambda names: FileReader([path / n for n in names]))


def from_zip(path: Path) -> Dataset:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [
                m for m in zf.namelist() if not m.endswith("/") and "__MACOSX/" not in m and images.is_image_name(m)
            ]
    except zipfile.BadZipFile as err:
        raise DataError(
            "cannot open zip", received=str(path), expected="a valid .zip archive", fix=f"re-create the archive ({err})"
        ) from None
    prefix, rel = _strip_common_dirs(members)
    layout, pairs = _labelled(rel, str(path))
    return build(path.stem, f"zip:{layout}", pairs, lambda names: ZipReader(path, [prefix + n for n in names]))


def from_csv(path: Path) -> Dataset:
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(
            "cannot read CSV",
            received=str(path),
            expected="a CSV with columns path,label",
            fix=f"fix the file ({str(err).splitlines()[0]})",
        ) from None
    if not {"path", "label"} <= set(frame.columns):
        raise DataError(
            f"CSV {path} lacks the required columns",
            received=list(frame.columns),
            expected="columns 'path' and 'label'",
            fix="add a header line 'path,label'",
        )
    missing = [p for p in frame["path"] if not (path.parent / p).is_file()]
    if missing:
        raise DataError(
            f"{len(missing)} file(s) listed in {path.name} do not exist",
            received=missing[0],
            expected=f"paths relative to {path.parent}",
            fix="correct the paths or remove those rows",
        )
    pairs = list(zip(frame["path"], frame["label"], strict=True))
    return build(path.stem, "csv", pairs, lambda names: FileReader([path.parent / n for n in names]))


def demo() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    arrays = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    names = [f"digit_{i}" for i in range(len(arrays))]
    classes = [str(c) for c in digits.target_names]
    return Dataset("demo", "demo", classes, names, digits.target.astype(np.int64), ArrayReader(arrays))
