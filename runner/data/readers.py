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

    def stat_keys(self, positions: list[int]) -> list[str | None]:
        """Cheap identity (path, size, mtime) used to trust an earlier content hash."""
        keys: list[str | None] = []
        for i in positions:
            try:
                st = self.paths[i].stat()
            except OSError:
                keys.append(None)
                continue
            keys.append(f"{self.paths[i].resolve()}|{st.st_size}|{st.st_mtime_ns}")
        return keys


class ZipReader:
    """Reads members of one zip in place; one handle per thread (ZipFile is not thread-safe)."""

    def __init__(self, path: Path, members: list[str]) -> None:
        self.path, self.members, self._local = path, members, threading.local()

    def read(self, i: int) -> bytes:
        zf = getattr(self._local, "zf", None)
        if zf is None:
            zf = self._local.zf = zipfile.ZipFile(self.path)
        return zf.read(self.members[i])

    def stat_keys(self, positions: list[int]) -> list[str | None]:
        st = self.path.stat()
        base = f"{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|"
        return [base + self.members[i] for i in positions]


class ArrayReader:
    def __init__(self, arrays: np.ndarray) -> None:
        self.arrays = arrays

    def read(self, i: int) -> np.ndarray:
        return self.arrays[i]

    def stat_keys(self, positions: list[int]) -> list[str | None]:
        return [None] * len(positions)  # in-memory arrays are always hashed
