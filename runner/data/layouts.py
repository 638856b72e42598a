"""One listing per layout: a folder, a ``.zip`` (read in place), a CSV, the demo digits.

Each listing filters the same way for training, prediction, evaluation and audit (image extensions only, no
``__MACOSX/`` members, one clear error for a bad zip or an unreadable CSV). Labels, where the data carries them:
class folders, Kaggle's flat names (``cat.0.jpg``), or a CSV's ``label`` column.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.data import images
from runner.data.dataset import Dataset, natural_key
from runner.data.readers import ArrayReader, FileReader, ZipReader
from runner.errors import DataError

LAYOUTS_HELP = (
    "a class-per-folder directory, a Kaggle flat folder (cat.0.jpg), a .zip of either, a CSV path,label, or 'demo'"
)
Reader = FileReader | ZipReader | ArrayReader


@dataclass
class Listing:
    """The image files of a path, before labels: relative names, a CSV's labels if it has them, a reader."""

    name: str
    kind: str  # "folder" | "zip" | "csv"
    rel: list[str]
    reader_for: Callable[[list[str]], Reader]
    csv_labels: list[str] | None = None
    root: Path | None = None


def list_folder(path: Path) -> Listing:
    rel = sorted(
        p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and images.is_image_name(p.name)
    )
    return Listing(path.name, "folder", rel, lambda names: FileReader([path / n for n in names]), root=path)


def list_zip(path: Path) -> Listing:
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
    return Listing(path.stem, "zip", rel, lambda names: ZipReader(path, [prefix + n for n in names]))


def list_csv(path: Path, labelled: bool) -> Listing:
    """A CSV with a ``path`` column (paths relative to the CSV) and, when ``labelled``, a ``label`` column."""
    import pandas as pd

    needed = ("path", "label") if labelled else ("path",)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(
            "cannot read CSV",
            received=str(path),
            expected=f"a CSV with columns {','.join(needed)}",
            fix=f"fix the file ({str(err).splitlines()[0]})",
        ) from None
    if not set(needed) <= set(frame.columns):
        raise DataError(
            f"CSV {path} lacks the required columns",
            received=list(frame.columns),
            expected=" and ".join(f"a column {c!r}" for c in needed),
            fix=f"add a header line '{','.join(needed)}'",
        )
    labels = list(frame["label"]) if labelled else None

    def reader_for(names: list[str]) -> Reader:
        return FileReader([path.parent / n for n in names])

    return Listing(path.stem, "csv", list(frame["path"]), reader_for, labels, path.parent)


def labelled(listing: Listing, where: str) -> Dataset:
    """Labels from the listing's layout: a CSV's label column, class folders, or Kaggle's flat names."""
    if listing.kind == "csv":
        assert listing.csv_labels is not None and listing.root is not None
        missing = [p for p in listing.rel if not (listing.root / p).is_file()]
        if missing:
            raise DataError(
                f"{len(missing)} file(s) listed in {Path(where).name} do not exist",
                received=missing[0],
                expected=f"paths relative to {listing.root}",
                fix="correct the paths or remove those rows",
            )
        return build(listing.name, "csv", list(zip(listing.rel, listing.csv_labels, strict=True)), listing.reader_for)
    layout, pairs = _labels_of(listing.rel, where)
    shown = f"zip:{layout}" if listing.kind == "zip" else layout
    return build(listing.name, shown, pairs, listing.reader_for)


def unlabelled(listing: Listing) -> Dataset:
    return build(listing.name, listing.kind, [(r, "") for r in listing.rel], listing.reader_for)


def _labels_of(rel: list[str], where: str) -> tuple[str, list[tuple[str, str]]]:
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


def build(name: str, layout: str, pairs: list[tuple[str, str]], reader_for: Callable[[list[str]], Reader]) -> Dataset:
    pairs = sorted(pairs, key=lambda pl: natural_key(pl[0]))
    classes = sorted({label for _, label in pairs})
    lookup = {c: k for k, c in enumerate(classes)}
    labels = np.array([lookup[label] for _, label in pairs], dtype=np.int64)
    names = [p for p, _ in pairs]
    return Dataset(name, layout, classes, names, labels, reader_for(names))


def demo() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    arrays = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    names = [f"digit_{i}" for i in range(len(arrays))]
    classes = [str(c) for c in digits.target_names]
    return Dataset("demo", "demo", classes, names, digits.target.astype(np.int64), ArrayReader(arrays))
