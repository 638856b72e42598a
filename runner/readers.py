"""Where an item's bytes (or pixels) come from: files, members of a zip read in place, or arrays."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import numpy as np


class FileReader:
    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def read(self, i: int) -> bytes:
        return self.paths[i].read_bytes()


class ZipReader:
    """Reads members of one zip in place; one handle per thread (ZipFile is not thread-safe)."""

    def __init__(self, path: Path, members: list[str]) -> None:
        self.path, self.members, self._local = path, members, threading.local()

    def read(self, i: int) -> bytes:
        zf = getattr(self._local, "zf", None)
        if zf is None:
            zf = self._local.zf = zipfile.ZipFile(self.path)
        return zf.read(self.members[i])


class ArrayReader:
    def __init__(self, arrays: np.ndarray) -> None:
        self.arrays = arrays

    def read(self, i: int) -> np.ndarray:
        return self.arrays[i]
