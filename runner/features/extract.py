"""Backbone weights, the feature model, and extraction into the cache (streamed, batched, parallel decode)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from runner import interrupts
from runner.data.batches import iter_batches, stack
from runner.data.dataset import Dataset
from runner.data.hashindex import HashIndex, file_digest
from runner.errors import WeightsError
from runner.features.cache import CacheEntry, FeatureCache, make_key
from runner.features.identity import Weights, cache_key
from runner.features.rows import release
from runner.plugins.specs import BackboneSpec, keras_home

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from runner.features.augment import Mirror, View

RANDOM_WEIGHTS_FILE = "backbone.weights.h5"
Progress = Callable[[int, int, float], None]


def resolve_weights(spec: BackboneSpec, weights: str, size: int, seed: int, index: HashIndex | None = None) -> Weights:
    """Check the weights exist (downloading ImageNet weights through Keras's cache if needed) before any work."""
    if weights == "none":
        return Weights("none", f"random:seed={seed}")
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(
                "weights file not found",
                received=weights,
                expected="imagenet, none, or a path to a Keras weights file",
                fix="check the path given to --weights",
            )
        return Weights("file", f"file:{file_digest(path, index)}", path.resolve())
    if spec.weights_file is None:
        raise WeightsError(
            f"backbone {spec.name!r} has no ImageNet weights",
            received="imagenet",
            expected="--weights none or a weights file",
            fix="pass --weights none or --weights PATH",
        )
    fname = spec.weights_file(size)
    path = keras_home() / "models" / fname
    if not path.is_file():
        import keras

        try:  # Keras's own downloader, into Keras's own cache folder
            url = spec.weights_url(size) if spec.weights_url else ""
            keras.utils.get_file(fname, url, cache_subdir="models", cache_dir=str(path.parents[1]))
        except Exception as err:  # Keras raises a bare Exception on fetch failure
            if not path.is_file():
                raise WeightsError(
                    f"ImageNet weights for {spec.name} are not in the Keras cache and could not be downloaded "
                    f"({str(err).splitlines()[0]})",
                    received=str(path),
                    expected=f"the file {fname} in $KERAS_HOME/models",
                    fix=f"copy {fname} to {path.parent}/ (or set KERAS_HOME), or pass --weights none | --weights PATH",
                ) from None
    return Weights("imagenet", f"imagenet:{fname}:{file_digest(path, index)}", path)


def build_backbone(spec: BackboneSpec, size: int, weights: Weights, random_weights: Path | None = None) -> keras.Model:
    """The backbone with its weights; ``random_weights`` is a saved random init (weights=none)."""
    import keras

    if weights.kind == "none":
        keras.utils.set_random_seed(int(weights.identity.split("=")[-1]))
    model = spec.build((size, size, 3), None)
    if weights.kind in ("file", "imagenet"):  # imagenet: the resolved file in Keras's cache, as Keras loads it
        model.load_weights(str(weights.path))
    elif weights.kind == "none" and random_weights is not None and random_weights.is_file():
        model.load_weights(str(random_weights))
    model.trainable = False
    return model


def feature_model(spec: BackboneSpec, size: int, backbone: keras.Model) -> keras.Model:
    """RGB 0..255 pixels -> preprocessing -> backbone; the same graph the end-to-end model uses."""
    import keras

    from runner.plugins import preprocess

    inp = keras.Input((size, size, 3), name="image")
    return keras.Model(inp, backbone(preprocess.layer(spec.preprocess)(inp)), name=f"{spec.name}_features")


def extract_into(
    ds: Dataset | View | Mirror,
    forward: Callable[[np.ndarray], Any],
    size: int,
    out: np.ndarray,
    batch_size: int = 32,
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[int]:
    """Run ``forward`` (see :func:`compiled_forward`) over ``ds`` batch by batch into ``out``.

    Returns the positions that could not be decoded.
    """
    skipped: list[int] = []
    start = time.perf_counter()
    written = 0
    for rng, imgs in iter_batches(ds, size, batch_size, workers):
        ok, x = stack(imgs, dtype=np.uint8)
        if x is not None:
            rows = slice(rng[0], rng[-1] + 1) if len(ok) == len(rng) else [rng[k] for k in ok]
            out[rows] = forward(x).numpy()
        failed = [rng[k] for k in range(len(rng)) if imgs[k] is None]
        if failed:
            out[failed] = 0
            skipped += failed
        written += len(rng) * out[0].nbytes
        if written > 64 << 20:  # written pages of a memory-mapped output leave RSS: memory stays bounded
            release(out)
            written = 0
        if progress:
            progress(rng[-1] + 1, len(ds), time.perf_counter() - start)
        interrupts.check()
    return skipped


def compiled_forward(model: keras.Model, size: int) -> Callable[[np.ndarray], Any]:
    """uint8 pixels -> float16 features in one compiled call.

    The cast to float16 runs in the graph (vectorized, multi-threaded): NumPy's float32 -> float16 conversion
    costs about as much as MobileNetV2-0.35's whole forward pass. uint8 input moves a quarter of the bytes.
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((None, size, size, 3), tf.uint8)])
    def forward(x: Any) -> Any:
        return tf.cast(model(tf.cast(x, tf.float32), training=False), tf.float16)

    return forward


def get_features(
    ds: Dataset,
    spec: BackboneSpec,
    size: int,
    weights: Weights,
    cache: FeatureCache,
    progress: Progress | None = None,
    batch_size: int = 32,
    rehash: bool = False,
    on_wait: Callable[[str], None] | None = None,
    view: View | Mirror | None = None,
    plain: CacheEntry | None = None,
) -> tuple[CacheEntry, bool]:
    """The cache entry for ``ds`` (extracting it on a miss) and whether it was a hit.

    Files are hashed once and then trusted by path, size and mtime; ``rehash`` hashes every file again.
    ``view``: an augmented view of ``ds`` instead of its plain pixels (its policy, seed and number are part of the
    key); ``plain``: the plain entry whose random backbone weights a view must reuse (weights=none).
    """
    ds.digests(cache.hash_index, rehash=rehash)
    key, parts = cache_key(ds, spec, size, weights)
    if view is not None:
        parts |= view.key_parts()
        key = make_key(parts)
    entry = cache.get(key)
    if entry is not None:
        return entry, True
    with cache.lock(key, on_wait=on_wait):  # of several workers missing this entry, one extracts
        entry = cache.get(key)
        if entry is not None:  # another worker extracted it while this one waited
            return entry, True
        random = plain.file(RANDOM_WEIGHTS_FILE) if plain is not None else None
        return _extract(ds, view, spec, size, weights, cache, key, parts, progress, batch_size, random), False


def _extract(
    ds: Dataset,
    view: View | Mirror | None,
    spec: BackboneSpec,
    size: int,
    weights: Weights,
    cache: FeatureCache,
    key: str,
    parts: dict[str, Any],
    progress: Progress | None,
    batch_size: int,
    random_weights: Path | None,
) -> CacheEntry:
    backbone = build_backbone(spec, size, weights, random_weights=random_weights)
    model = feature_model(spec, size, backbone)
    shape = (len(ds), *tuple(int(d) for d in model.output_shape[1:]))
    meta = {
        "parts": parts,
        "backbone": spec.name,
        "size": size,
        "n": len(ds),
        "shape": shape,
        "dataset": ds.name,
        "layout": ds.layout,
        "view": None if view is None else view.k,
    }
    t0 = time.perf_counter()
    with cache.writer(key, shape, meta) as (out, tmp, meta):
        forward = compiled_forward(model, size)
        skipped = extract_into(view or ds, forward, size, out, batch_size=batch_size, progress=progress)
        if weights.kind == "none" and view is None:
            backbone.save_weights(str(tmp / RANDOM_WEIGHTS_FILE))
        meta.update(
            skipped=skipped,
            skipped_names=[ds.names[i] for i in skipped],
            extract_seconds=round(time.perf_counter() - t0, 3),
        )
    entry = cache.get(key)
    assert entry is not None
    return entry
