"""The dataset: listed items and labels, natural ordering, content fingerprints, subsets and splits.

A :class:`Dataset` lists items and labels; pixels are read only when :meth:`Dataset.image` is called. Listing
one from a path is :mod:`runner.data.load`'s job (layouts in :mod:`runner.data.layouts`).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from runner.data import images as images_mod
from runner.data.hashindex import HashIndex
from runner.data.readers import ArrayReader, FileReader, ZipReader
from runner.errors import DataError


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
            return images_mod.resize(images_mod.to_rgb8(raw), size)
        return images_mod.load_rgb(raw, size)

    def digests(self, index: HashIndex | None = None, rehash: bool = False) -> list[str]:
        """Content hash of every item (its bytes, never its path or mtime).

        With an ``index``, a file whose path, size and mtime are unchanged since it was hashed is not
        read again; ``rehash`` reads and hashes every file anyway (and refreshes the index).
        """
        if self._digests is None:
            positions = [self._pos(i) for i in range(len(self))]
            keys = self.reader.stat_keys(positions) if index is not None else [None] * len(self)
            known = index.lookup([k for k in keys if k]) if index is not None and not rehash else {}

            def one(i: int) -> str:
                if keys[i] in known:
                    return known[keys[i]]
                try:
                    raw = self.raw(i)
                except (OSError, KeyError, zipfile.BadZipFile):
                    return "unreadable"
                data = raw.tobytes() + str(raw.shape).encode() if isinstance(raw, np.ndarray) else raw
                return hashlib.blake2b(data, digest_size=16).hexdigest()

            with ThreadPoolExecutor(4) as pool:
                self._digests = list(pool.map(one, range(len(self))))
            if index is not None:
                index.store(
                    {
                        k: d
                        for k, d in zip(keys, self._digests, strict=True)
                        if k and k not in known and d != "unreadable"
                    }
                )
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
