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
