"""What defines a set of features, and so the cache key: the data's content, the built network's architecture, its
weights' identity, the plugin it came from, the input size, the resize and preprocessing, the library versions.

The architecture is hashed from the network Keras builds (its config with layer names replaced by their position,
so auto-numbered names never matter, plus every weight's shape): changing a plugin's activation or a filter count
is a cache miss even when its name and description stay the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.data import images
from runner.features.cache import make_key
from runner.plugins.registry import backbones as backbone_registry
from runner.plugins.specs import BackboneSpec

if TYPE_CHECKING:  # pragma: no cover
    from runner.data.dataset import Dataset


@dataclass(frozen=True)
class Weights:
    kind: str  # "imagenet" | "none" | "file"
    identity: str
    path: Path | None = None


def _version(dist: str) -> str:
    for name in (dist, f"{dist}-cpu"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "absent"


def _canonical(config: Any) -> Any:
    """The config with every layer name replaced by its order of appearance (``#0``, ``#1``...)."""
    names: dict[str, str] = {}

    def collect(o: Any) -> None:
        if isinstance(o, dict):
            if isinstance(o.get("name"), str):
                names.setdefault(o["name"], f"#{len(names)}")
            for v in o.values():
                collect(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                collect(v)

    def rename(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: rename(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [rename(v) for v in o]
        return names.get(o, o) if isinstance(o, str) else o

    collect(config)
    return rename(config)


def _layers(model: Any) -> list[Any]:
    """Per layer (nested models flattened): its class, its canonical config where Keras can give one."""
    out: list[Any] = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            out += _layers(layer)
            continue
        try:
            config = layer.get_config()
        except NotImplementedError:  # a custom layer without get_config: its class and weights still count
            config = None
        out.append([type(layer).__module__, type(layer).__qualname__, config])
    return out


def architecture_digest(model: Any) -> str:
    """A content hash of a built Keras network: what it computes, not what its layers happen to be called."""
    try:
        config: Any = model.get_config()
    except NotImplementedError:  # a subclassed model: hash its layers instead
        config = None
    described = {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "config": _canonical(config),
        "layers": _canonical(_layers(model)),
        "weights": [list(map(int, w.shape)) for w in model.weights],
    }
    text = json.dumps(described, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def network_digest(spec: BackboneSpec, size: int) -> str:
    """The architecture the spec builds at ``size`` (built once per spec object and size, without weights)."""
    memo = spec.memo
    if size not in memo:
        memo[size] = architecture_digest(spec.build((size, size, 3), None))
    return memo[size]


def plugin_source(spec: BackboneSpec) -> str:
    """Where the backbone came from: ``builtin``, ``package==version``, or a ``--code`` file with its content hash."""
    source = backbone_registry.source_of(spec.name) or "unregistered"
    path = Path(source)
    if path.suffix == ".py" and path.is_file():
        return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    return source


def cache_key(ds: Dataset, spec: BackboneSpec, size: int, weights: Weights) -> tuple[str, dict[str, Any]]:
    parts = {
        "data": ds.fingerprint(),
        "backbone": spec.name,
        "constructor": spec.description,
        "architecture": network_digest(spec, size),
        "source": plugin_source(spec),
        "weights": weights.identity,
        "size": size,
        "resize": images.RESIZE,
        "preprocess": spec.preprocess,
        "versions": {d: _version(d) for d in ("keras", "tensorflow", "opencv-python-headless", "numpy")},
    }
    return make_key(parts), parts
