from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from runner import data
from runner.errors import RunnerError
from runner.features import extract as features
from runner.features import identity
from runner.features.cache import FeatureCache, make_key
from runner.plugins.registry import get_backbone


def _key(ds, spec=None, size=32, weights=None, **patch):
    spec = spec or get_backbone("mobilenet_v2_035")
    weights = weights or features.Weights("none", "random:seed=0")
    key, parts = identity.cache_key(ds, spec, size, weights)
    if patch:
        return make_key({**parts, **patch})
    return key


def test_key_is_stable_and_content_based(folders: Path, tmp_path: Path) -> None:
    ds = data.load_dataset(folders)
    assert _key(ds) == _key(data.load_dataset(folders))
    moved = shutil.copytree(folders, tmp_path / "elsewhere" / "renamed")
    assert _key(data.load_dataset(moved)) == _key(ds)  # paths and mtimes are not in the key


def test_key_changes_with_every_input_that_matters(folders: Path) -> None:
    ds = data.load_dataset(folders)
    base = _key(ds)
    (folders / "cats" / "cat.3.jpg").write_bytes((folders / "cats" / "cat.4.jpg").read_bytes())
    others = {
        "bytes": _key(data.load_dataset(folders)),
        "backbone": _key(ds, spec=get_backbone("mobilenet_v2_050")),
        "weights": _key(ds, weights=features.Weights("none", "random:seed=1")),
        "size": _key(ds, size=48),
        "resize": _key(ds, resize="cv2.INTER_AREA"),
        "preprocess": _key(ds, preprocess="caffe"),
        "versions": _key(ds, versions={"keras": "0"}),
    }
    assert base not in others.values()
    assert len(set(others.values())) == len(others)


def test_key_ignores_head_hyperparameters() -> None:
    import inspect

    # nothing a head does can reach the key: it is computed from data, backbone, weights and size only
    assert list(inspect.signature(identity.cache_key).parameters) == ["ds", "spec", "size", "weights"]


def test_atomic_write_and_interrupted_extraction(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        with cache.writer("k1", (4, 2), {"n": 4}) as (out, _tmp, _meta):
            out[:2] = 1
            raise KeyboardInterrupt
    assert cache.get("k1") is None and list((tmp_path / "c").iterdir()) == []
    with cache.writer("k1", (4, 2), {"n": 4}) as (out, _tmp, _meta):
        out[:] = np.arange(8).reshape(4, 2)
    entry = cache.get("k1")
    assert entry is not None and entry.meta["complete"] is True
    assert entry.features().dtype == np.float16 and entry.features()[3].tolist() == [6, 7]
    (entry.path / "meta.json").write_text('{"complete": false}')  # a half-written entry is never trusted
    assert cache.get("k1") is None


def test_list_and_clear(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    for key in ("a1", "b2"):
        with cache.writer(key, (1, 1), {"backbone": "x"}):
            pass
    assert [e.key for e in cache.entries()] == ["a1", "b2"]
    assert cache.clear(["a1"]) == 1 and [e.key for e in cache.entries()] == ["b2"]
    with pytest.raises(RunnerError, match="no such cache entry"):
        cache.clear(["zz"])
    assert cache.clear() == 1 and cache.entries() == []


def test_extraction_streams_and_skips_undecodable(folders: Path, tmp_path: Path) -> None:
    (folders / "dogs" / "dog.99.jpg").write_bytes(b"\xff\xd8 truncated")
    ds = data.load_dataset(folders)
    spec = get_backbone("tiny_cnn")
    w = features.Weights("none", "random:seed=0")
    events = []
    entry, hit = features.get_features(
        ds, spec, 16, w, FeatureCache(tmp_path / "c"), batch_size=4, progress=lambda d, t, s: events.append(d)
    )
    assert not hit and events[-1] == len(ds) == 21 and len(events) == 6
    assert entry.meta["skipped_names"] == ["dogs/dog.99.jpg"]
    assert entry.features().shape == (21, 4, 4, 16)
    assert (entry.file(features.RANDOM_WEIGHTS_FILE)).is_file()
    again, hit = features.get_features(ds, spec, 16, w, FeatureCache(tmp_path / "c"))
    assert hit and again.key == entry.key


def test_weights_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras"))
    spec = get_backbone("mobilenet_v2_035")
    with pytest.raises(RunnerError, match="weights file not found"):
        features.resolve_weights(spec, str(tmp_path / "nope.weights.h5"), 32, 0)
    with pytest.raises(RunnerError, match="has no ImageNet weights"):
        features.resolve_weights(get_backbone("tiny_cnn"), "imagenet", 32, 0)
    # offline: Keras cannot download, and the error names the file and where to put it
    fake = dataclasses.replace(spec, weights_url=lambda s: "http://127.0.0.1:9/w.h5")  # nothing listens
    with pytest.raises(RunnerError) as err:
        features.resolve_weights(fake, "imagenet", 224, 0)
    msg = str(err.value)
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5" in msg
    assert str(tmp_path / "empty-keras" / "models") in msg and "--weights none" in msg


def test_hashes_trusted_by_size_and_mtime_until_rehash(folders: Path, tmp_path: Path) -> None:
    import os

    cache = FeatureCache(tmp_path / "c")
    first = data.load_dataset(folders).digests(cache.hash_index)
    victim = folders / "cats" / "cat.0.jpg"
    st = victim.stat()
    blob = bytearray(victim.read_bytes())
    blob[-3] ^= 0xFF  # same size, different bytes, same mtime: the index is trusted
    victim.write_bytes(bytes(blob))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert data.load_dataset(folders).digests(cache.hash_index) == first
    fresh = data.load_dataset(folders).digests(cache.hash_index, rehash=True)
    assert fresh[0] != first[0] and fresh[1:] == first[1:]
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a changed mtime is hashed again
    assert data.load_dataset(folders).digests(cache.hash_index)[0] == fresh[0]


def test_weights_file_hashed_once(tmp_path: Path) -> None:
    from runner.data.hashindex import HashIndex, file_digest

    w = tmp_path / "w.weights.h5"
    w.write_bytes(b"a" * 1000)
    index = HashIndex(tmp_path / "h.db")
    first = file_digest(w, index)
    assert first == file_digest(w)  # same content hash with or without the index
    assert len(index.lookup([f"sha256|{w.resolve()}|{w.stat().st_size}|{w.stat().st_mtime_ns}"])) == 1


def test_lock_recovers_a_dead_workers_lock_and_makes_a_second_worker_wait(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    cache.root.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = cache.root / ".lock-k"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "id": "old"}))
    with cache.lock("k"):  # the dead process's lock is recovered
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()

    events: list[str] = []

    def second() -> None:
        with cache.lock("k", on_wait=lambda key: events.append("waiting"), poll=0.05):
            events.append("acquired")

    with cache.lock("k"):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert events == ["waiting"]  # a live holder is never broken
    t.join(5)
    assert events == ["waiting", "acquired"] and not lock.exists()


def test_entries_unused_for_days_can_be_cleared(tmp_path: Path) -> None:
    import os
    import time

    cache = FeatureCache(tmp_path / "c")
    for key in ("old", "new"):
        with cache.writer(key, (2, 2), {"n": 2}) as (out, _tmp, _meta):
            out[:] = 1
    long_ago = time.time() - 40 * 86400
    os.utime(tmp_path / "c" / "old", (long_ago, long_ago))
    assert [e.key for e in cache.entries()] == ["old", "new"]  # listing is not using: "old" stays old
    assert cache.unused(30) == ["old"]
    assert cache.get("old") is not None and cache.unused(30) == []  # a read is a use
