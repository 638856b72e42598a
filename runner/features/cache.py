"""On-disk feature cache, keyed by content.

An entry is a folder ``<cache_dir>/<key>/`` holding ``features.npy`` (float16, one row per image,
memory-mapped on read), ``meta.json`` and any extra files (e.g. random backbone weights). Entries are
written under a temporary name and renamed into place when complete, so an interrupted extraction
never leaves an entry a later run would trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner.data.hashindex import HashIndex
from runner.errors import RunnerError

FEATURE_FORMAT = 1  # bump when the extraction pipeline changes what it writes
LOCK_REFRESH = 5.0  # seconds between touches of a held lock
LOCK_STALE = 60.0  # a lock not touched for this long belongs to a dead worker (on another machine)


def default_cache_dir() -> Path:
    env = os.environ.get("RUNNER_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "runner"


def make_key(parts: dict[str, Any]) -> str:
    """Stable key for everything that changes the features (canonical JSON, sha256)."""
    blob = json.dumps({"format": FEATURE_FORMAT, **parts}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CacheEntry:
    key: str
    path: Path
    meta: dict[str, Any]

    def features(self) -> np.ndarray:
        return np.load(self.path / "features.npy", mmap_mode="r")

    def file(self, name: str) -> Path:
        return self.path / name

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())


class FeatureCache:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root else default_cache_dir()

    @property
    def hash_index(self) -> HashIndex:
        return HashIndex(self.root / "hashes.db")

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunnerError(
                "cannot create the cache folder",
                received=str(self.root),
                expected="a writable folder",
                fix=f"pass --cache-dir or set RUNNER_CACHE_DIR ({err.strerror})",
            ) from None

    def get(self, key: str, touch: bool = True) -> CacheEntry | None:
        """The complete entry ``key`` or None; ``touch`` records the use (listings do not)."""
        path = self.root / key
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("complete") is not True or not (path / "features.npy").is_file():
            return None
        if touch:
            with contextlib.suppress(OSError):
                os.utime(path)  # last used: `runner cache clear --unused-days N` goes by it
        return CacheEntry(key, path, meta)

    @contextlib.contextmanager
    def writer(self, key: str, shape: tuple[int, ...], meta: dict[str, Any]) -> Iterator[tuple[np.ndarray, Path, dict]]:
        """Yield ``(features memmap, temp folder, meta)``; on clean exit the entry is published atomically."""
        self._ensure_root()
        tmp = self.root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            feats = np.lib.format.open_memmap(tmp / "features.npy", mode="w+", dtype=np.float16, shape=shape)
            meta = dict(meta)
            yield feats, tmp, meta
            feats.flush()
            del feats
            meta.update(complete=True, created=time.time(), key=key)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
            try:
                os.rename(tmp, self.root / key)
            except OSError:
                if self.get(key) is None:  # not a concurrent writer's finished entry: a real failure
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, key: str, on_wait: Callable[[str], None] | None = None, poll: float = 0.5) -> Iterator[None]:
        """Hold ``<cache>/.lock-<key>`` while computing the entry, so that of several workers needing the same
        missing entry one extracts and the others wait (then find the entry). The holder touches the lock every few
        seconds; a lock whose process is gone (same machine) or that was not touched for a minute is recovered."""
        self._ensure_root()
        path = self.root / f".lock-{key}"
        token = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "id": uuid.uuid4().hex})
        told = False
        while True:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if _stale(path):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
                if on_wait is not None and not told:
                    on_wait(key)
                    told = True
                time.sleep(poll)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(token)
            break
        stop = threading.Event()

        def touch() -> None:
            while not stop.wait(LOCK_REFRESH):
                with contextlib.suppress(OSError):
                    os.utime(path)

        toucher = threading.Thread(target=touch, daemon=True)
        toucher.start()
        try:
            yield
        finally:
            stop.set()
            toucher.join()
            with contextlib.suppress(OSError):
                if path.read_text() == token:
                    path.unlink()

    def entries(self) -> list[CacheEntry]:
        if not self.root.is_dir():
            return []
        found = (
            self.get(p.name, touch=False) for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        return sorted((e for e in found if e is not None), key=lambda e: e.meta.get("created", 0))

    def unused(self, days: float) -> list[str]:
        """Keys of the entries not used (extracted or read) for ``days`` days."""
        cutoff = time.time() - days * 86400
        return [e.key for e in self.entries() if e.path.stat().st_mtime < cutoff]

    def clear(self, keys: list[str] | None = None) -> int:
        """Remove the given entries (all when ``keys`` is None) and leftover temp folders."""
        if not self.root.is_dir():
            return 0
        targets = [self.root / k for k in keys] if keys else [p for p in self.root.iterdir() if p.is_dir()]
        targets += [] if keys else [p for p in self.root.glob(".lock-*") if _stale(p)]
        missing = [p.name for p in targets if not p.is_dir()]
        if missing:
            raise RunnerError(
                "no such cache entry",
                received=missing[0],
                expected="a key shown by `runner cache list`",
                fix="copy the key from `runner cache list`",
            )
        for p in targets:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
        return sum(1 for p in targets if not p.name.startswith("."))


def _stale(lock: Path) -> bool:
    """A lock file left by a dead process (same machine: its pid is gone) or not refreshed for LOCK_STALE s."""
    try:
        info = json.loads(lock.read_text() or "{}")
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True  # unreadable or half-written long ago
    if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return age > LOCK_STALE
