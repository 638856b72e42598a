"""Datasets: layout detection, natural ordering, content fingerprints, filtering and splits.

Four layouts are detected automatically: class-per-folder, Kaggle's flat folder (``cat.0.jpg``), a
``.zip`` of either (read in place), and a CSV of ``path,label``; plus ``demo`` (scikit-learn digits).
A :class:`Dataset` lists items and labels; pixels are read only when :meth:`Dataset.image` is called.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runner import images
from runner.errors import DataError
from runner.readers import ArrayReader, FileReader, ZipReader

LAYOUTS_HELP = (
    "a class-per-folder directory, a Kaggle flat folder (cat.0.jpg), a .zip of either, a CSV path,label, or 'demo'"
)


def natural_key(text: str) -> list[object]:
    """Sort key that orders ``cat.2`` before ``cat.10``."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


@dataclass
class Dataset:
    name: str
    layout: str
    classes: list[str]
    names: list[str]
    labels: np.ndarray
    reader: FileReader | ZipReader | ArrayReader
    index: np.ndarray | None = None  # positions in the reader (None: all, in order)
    _digests: list[str] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.names)

    def _pos(self, i: int) -> int:
        return int(self.index[i]) if self.index is not None else i

    def raw(self, i: int) -> bytes | np.ndarray:
        return self.reader.read(self._pos(i))

    def image(self, i: int, size: int) -> np.ndarray | None:
        """RGB uint8 (size, size, 3), or None when the file cannot be decoded."""
        try:
            raw = self.raw(i)
        except (OSError, KeyError, zipfile.BadZipFile):
            return None
        if isinstance(raw, np.ndarray):
            return images.resize(images.to_rgb8(raw), size)
        return images.load_rgb(raw, size)

    def digests(self) -> list[str]:
        """Content hash of every item (its bytes, never its path or mtime)."""
        if self._digests is None:

            def one(i: int) -> str:
                try:
                    raw = self.raw(i)
                except (OSError, KeyError, zipfile.BadZipFile):
                    return "unreadable"
                data = raw.tobytes() + str(raw.shape).encode() if isinstance(raw, np.ndarray) else raw
                return hashlib.blake2b(data, digest_size=16).hexdigest()

            with ThreadPoolExecutor(4) as pool:
                self._digests = list(pool.map(one, range(len(self))))
        return self._digests

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for d in self.digests():
            h.update(d.encode())
        return h.hexdigest()[:32]

    def subset(self, keep: np.ndarray | list[int]) -> Dataset:
        keep = np.asarray(keep, dtype=np.int64)
        base = self.index if self.index is not None else np.arange(len(self))
        digests = [self._digests[i] for i in keep] if self._digests is not None else None
        return Dataset(
            self.name,
            self.layout,
            self.classes,
            [self.names[i] for i in keep],
            self.labels[keep],
            self.reader,
            base[keep],
            digests,
        )

    def counts(self) -> dict[str, int]:
        return {c: int(np.sum(self.labels == k)) for k, c in enumerate(self.classes)}


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


def _build(name: str, layout: str, pairs: list[tuple[str, str]], reader_for) -> Dataset:
    pairs = sorted(pairs, key=lambda pl: natural_key(pl[0]))
    classes = sorted({label for _, label in pairs})
    lookup = {c: k for k, c in enumerate(classes)}
    labels = np.array([lookup[label] for _, label in pairs], dtype=np.int64)
    names = [p for p, _ in pairs]
    return Dataset(name, layout, classes, names, labels, reader_for(names))


def _from_dir(path: Path) -> Dataset:
    rel = sorted(
        p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file() and images.is_image_name(p.name)
    )
    layout, pairs = _labelled(rel, str(path))
    return _build(path.name, layout, pairs, lambda names: FileReader([path / n for n in names]))


def _from_zip(path: Path) -> Dataset:
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
    return _build(path.stem, f"zip:{layout}", pairs, lambda names: ZipReader(path, [prefix + n for n in names]))


def _from_csv(path: Path) -> Dataset:
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
    return _build(path.stem, "csv", pairs, lambda names: FileReader([path.parent / n for n in names]))


def _demo() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    arrays = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    names = [f"digit_{i}" for i in range(len(arrays))]
    classes = [str(c) for c in digits.target_names]
    return Dataset("demo", "demo", classes, names, digits.target.astype(np.int64), ArrayReader(arrays))


def load_dataset(data: str | Path, per_class: int | None = None) -> Dataset:
    """List the items of ``data`` (no pixels are decoded here)."""
    if per_class is not None and per_class < 1:
        raise DataError(
            "bad --per-class", received=per_class, expected="an integer >= 1", fix="pass e.g. --per-class 1500"
        )
    if str(data) == "demo":
        ds = _demo()
    else:
        path = Path(data).expanduser()
        if not path.exists():
            raise DataError(
                "data path does not exist",
                received=str(data),
                expected=LAYOUTS_HELP,
                fix="check the path passed to --data",
            )
        if path.is_dir():
            ds = _from_dir(path)
        elif path.suffix.lower() == ".zip":
            ds = _from_zip(path)
        elif path.suffix.lower() == ".csv":
            ds = _from_csv(path)
        else:
            raise DataError(
                "unsupported data file",
                received=str(data),
                expected=LAYOUTS_HELP,
                fix="pass a folder, a .zip or a .csv",
            )
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(ds.labels == k)[:per_class] for k in range(len(ds.classes))])
        ds = ds.subset(np.sort(keep))
    return ds


def check_usable(ds: Dataset, what: str = "dataset") -> None:
    """Empty data, fewer than 2 classes, or a class with fewer than 2 images is an error."""
    if len(ds) == 0:
        raise DataError(
            f"the {what} is empty",
            received=0,
            expected="at least 2 images per class",
            fix="check --data (and that the images can be decoded)",
        )
    counts = ds.counts()
    present = {c: n for c, n in counts.items() if n > 0}
    if len(present) < 2:
        raise DataError(
            f"the {what} has fewer than 2 classes",
            received=list(present),
            expected="at least 2 classes",
            fix="add images of another class",
        )
    small = {c: n for c, n in counts.items() if n < 2}
    if small:
        raise DataError(
            f"a class of the {what} has fewer than 2 images",
            received=small,
            expected="at least 2 images per class",
            fix="add images or remove that class",
        )


def split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation split of positions 0..n-1."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    try:
        tr, va = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=labels)
    except ValueError as err:
        raise DataError(
            "cannot make a stratified split",
            received=f"{len(labels)} images, --val-fraction {val_fraction}",
            expected="at least one validation and one training image per class",
            fix=f"use more images or another --val-fraction ({err})",
        ) from None
    return np.sort(tr), np.sort(va)
