"""Content hashes remembered by (path, size, mtime): a file is hashed once, then trusted until it changes.

Stored in SQLite next to the feature cache (``<cache_dir>/hashes.db``); safe for several processes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class HashIndex:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("CREATE TABLE IF NOT EXISTS digests (key TEXT PRIMARY KEY, digest TEXT NOT NULL)")
        return con

    def lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        if not keys:
            return found
        with self._connect() as con:
            for i in range(0, len(keys), 900):
                chunk = keys[i : i + 900]
                marks = ",".join("?" * len(chunk))
                found.update(con.execute(f"SELECT key, digest FROM digests WHERE key IN ({marks})", chunk))
        return found

    def store(self, digests: dict[str, str]) -> None:
        if digests:
            with self._connect() as con:
                con.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?)", digests.items())


def file_digest(path: Path, index: HashIndex | None = None) -> str:
    """sha256 of a file, remembered in ``index`` by (path, size, mtime): a large weights file is read once."""
    import hashlib

    st = path.stat()
    key = f"sha256|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if index is not None:
        known = index.lookup([key])
        if key in known:
            return known[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if index is not None:
        index.store({key: h.hexdigest()})
    return h.hexdigest()
