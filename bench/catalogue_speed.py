"""Extraction speed of every registered backbone at its default size, through runner's own pipeline.

    python bench/catalogue_speed.py [--images 32] [--only vgg16,mobilenet_v2_035] [--json out.json]

Generated JPEGs (256x256) are decoded, resized, preprocessed and run through the backbone (weights=None:
speed does not depend on the weight values) by ``runner.features.extract_into``, the same code
``runner search`` uses. One warm-up batch is excluded. Prints one row per backbone.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import numpy as np

from runner import data
from runner.features import extract as features
from runner.plugins import registry


def make_images(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8), (9, 9), 3)
        cv2.imwrite(str(root / f"{'cat' if i % 2 else 'dog'}.{i}.jpg"), img)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    import keras

    names = args.only.split(",") if args.only else registry.backbones.names()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ds = data.load_dataset(make_images(Path(tmp), args.images))
        warm = ds.subset(list(range(min(16, len(ds)))))  # same batch shape: no retrace while timed
        print(f"{'backbone':34}{'size':>5}{'params':>9}{'build s':>9}{'img/s':>8}")
        for name in names:
            try:
                spec = registry.get_backbone(name)
            except registry.RegistryError:
                print(f"{name:34}skipped: broken plugin (see `runner backbones list`)")
                continue
            size = spec.default_size
            t0 = time.perf_counter()
            model = features.feature_model(
                spec, size, features.build_backbone(spec, size, features.Weights("none", "random:seed=0"))
            )
            build = time.perf_counter() - t0
            out = np.zeros((len(ds), *spec.feature_shape(size)), np.float16)
            features.extract_into(warm, model, size, out[: len(warm)], batch_size=16)
            t0 = time.perf_counter()
            features.extract_into(ds, model, size, out, batch_size=16)
            rate = len(ds) / (time.perf_counter() - t0)
            rows.append(
                {
                    "backbone": name,
                    "size": size,
                    "params": spec.params,
                    "build_s": round(build, 1),
                    "images_per_s": round(rate, 1),
                }
            )
            print(f"{name:34}{size:>5}{(spec.params or 0) / 1e6:>8.1f}M{build:>9.1f}{rate:>8.1f}", flush=True)
            del model
            keras.backend.clear_session()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
