"""runner's performance benchmark: each stage side by side with its reference, in one run, as ratios.

    pip install -e ".[bench]"
    python bench/perf.py                          # the full run (3,000 / 25,000 images, 30 trials)
    python bench/perf.py --images 1000 --trials 10 --big 10000   # a shorter run

Rows: (1) extraction through runner's pipeline vs the bare forward pass, and GFLOP/s vs a large float32
matmul; (2) one reference-configuration trial vs plain model.fit; (3) a search vs KerasTuner's
BayesianOptimization on the same cached features; (4) a second search's feature time vs the first
extraction; (5) peak RSS of extraction for N and for BIG images, and of loading features; (6) `runner --help`;
(7) the real size, 224-px feature maps on N vs BIG images: `bench/scale.py` (about an hour; not in the default
``--only``).
Generated images (class-dependent stripe patterns, 256x256 JPEG) and weights=None: speed does not
depend on the weight values. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np

from runner.features.rows import DEFAULT_BUDGET_MB

ROWS: list[tuple[str, str, str, str]] = []


def row(what: str, runner_value: str, reference: str, ratio: str) -> None:
    ROWS.append((what, runner_value, reference, ratio))
    print(f"  {what}: {runner_value} | {reference} | {ratio}", file=sys.stderr, flush=True)


def make_images(root: Path, n: int, size: int = 256) -> Path:
    """Two classes of noisy stripes (horizontal vs vertical), Kaggle-style names."""
    import cv2

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    grid = np.arange(size, dtype=np.float32)
    for i in range(n):
        label = i % 2
        freq, phase = rng.uniform(0.05, 0.3), rng.uniform(0, 6.3)
        wave = np.sin(grid * freq + phase)
        img = (wave[:, None] if label == 0 else wave[None, :]) * np.ones((size, size), np.float32)
        img = 127 + 60 * img[..., None] + rng.normal(0, 70, size=(size, size, 3))
        cv2.imwrite(str(root / f"{'cat' if label == 0 else 'dog'}.{i}.jpg"), np.clip(img, 0, 255).astype(np.uint8))
    return root


def conv_flops(model) -> float:
    """Multiply-adds x 2 of every convolution and dense layer, per image."""
    import keras

    total = 0.0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            total += 2 * h * w * c * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output.shape
            total += 2 * h * w * c * layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def matmul_ceiling() -> float:
    import tensorflow as tf

    a = tf.random.normal([2048, 2048])
    f = tf.function(lambda: tf.reduce_sum(tf.matmul(a, a)))
    f()
    t = time.perf_counter()
    for _ in range(10):
        f().numpy()
    return 10 * 2 * 2048**3 / (time.perf_counter() - t) / 1e9


def bench_extraction(images: Path, n: int) -> None:
    from runner import data
    from runner.features import extract as features
    from runner.features.cache import FeatureCache
    from runner.plugins import registry

    ceiling = matmul_ceiling()
    row("float32 matmul 2048^3 (ceiling)", f"{ceiling:.0f} GFLOP/s", "", "")
    ds = data.load_dataset(images, per_class=n // 2)
    for name, size in (("vgg16", 150), ("mobilenet_v2_035", 224)):
        spec = registry.get_backbone(name)
        model = features.feature_model(spec, size, features.build_backbone(spec, size, features.Weights("none", "x=0")))
        forward = features.compiled_forward(model, size)  # the pipeline's own forward call, compiled once
        arrays = np.stack([ds.image(i, size) for i in range(len(ds))])
        forward(arrays[:32])
        t = time.perf_counter()
        for i in range(0, len(arrays), 32):
            forward(arrays[i : i + 32]).numpy()
        bare = len(arrays) / (time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            cache = FeatureCache(tmp)
            t = time.perf_counter()
            with cache.writer("k", (len(ds), *spec.feature_shape(size)), {}) as (out, _, _):
                features.extract_into(ds, forward, size, out, batch_size=32)
            piped = len(ds) / (time.perf_counter() - t)
        gflop = conv_flops(model) / 1e9
        row(
            f"extract {name}@{size} ({len(ds)} JPEGs)",
            f"{piped:.1f} img/s pipeline",
            f"{bare:.1f} img/s bare forward",
            f"{piped / bare:.0%} of bare",
        )
        row(
            f"  {name}@{size} compute ({gflop:.2f} GFLOP/img)",
            f"{bare * gflop:.0f} GFLOP/s",
            f"{ceiling:.0f} ceiling",
            f"{bare * gflop / ceiling:.0%} of ceiling",
        )


def bench_search(images: Path, n: int, trials: int, epochs: int, workdir: Path) -> dict:
    import runner
    from runner import data
    from runner.features.cache import FeatureCache
    from runner.plugins.registry import get_head
    from runner.searching.train import fit_head, set_seed

    os.chdir(workdir)
    kw = dict(
        backbone="vgg16",
        weights="none",
        image_size=150,
        per_class=n // 2,
        epochs=epochs,
        seed=0,
        cache_dir=str(workdir / "cache"),
    )
    first = runner.search(str(images), trials=trials, **kw)
    second = runner.search(str(images), trials=1, **kw)
    row(
        "2nd search: getting features",
        f"{second.seconds['features']:.2f} s",
        f"{first.seconds['features']:.1f} s 1st extraction",
        f"{second.seconds['features'] / first.seconds['features']:.2%}",
    )
    entry = FeatureCache(workdir / "cache").get(first.cache["key"])
    ds = data.load_dataset(images, per_class=n // 2)
    tr, va = data.split(ds.labels, 0.2, 0)
    x = np.asarray(entry.features(), dtype=np.float32)
    xt, yt, xv, yv = x[tr], ds.labels[tr], x[va], ds.labels[va]
    ref = {
        "pooling": "flatten",
        "width": 256,
        "dropout": 0.5,
        "learning_rate": 2e-5,
        "optimizer": "rmsprop",
        "batch_size": 16,
    }
    t = time.perf_counter()
    fit = fit_head(get_head("dense"), ref, xt, yt, xv, yv, 2, 30, 0)
    ours = time.perf_counter() - t
    import keras

    set_seed(0)
    model = get_head("dense").build(xt.shape[1:], 2, ref)
    model.compile(keras.optimizers.RMSprop(2e-5), "binary_crossentropy", metrics=["accuracy"])
    t = time.perf_counter()
    h = model.fit(xt, yt, batch_size=16, epochs=30, validation_data=(xv, yv), verbose=0)
    plain = time.perf_counter() - t
    row(
        f"reference trial ({len(xt)} x {int(np.prod(xt.shape[1:]))} features)",
        f"{ours:.1f} s, val_acc {fit.metrics['val_accuracy']:.3f} ({len(fit.history['loss'])} ep)",
        f"{plain:.1f} s, val_acc {h.history['val_accuracy'][-1]:.3f} (30 ep)",
        f"{plain / ours:.1f}x faster",
    )
    from kerastuner_ref import keras_tuner_search  # bench/, beside this script

    kt_seconds, kt_loss = keras_tuner_search(xt, yt, xv, yv, trials, epochs, workdir)
    row(
        f"{trials}-trial search on cached features",
        f"{first.seconds['search']:.0f} s, best val_log_loss {first.best_metrics['val_log_loss']:.4f}",
        f"KerasTuner {kt_seconds:.0f} s, best val_loss {kt_loss:.4f}",
        f"{kt_seconds / first.seconds['search']:.1f}x faster",
    )
    return {"key": first.cache["key"]}


RSS_CODE = """
import os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
from runner import data
from runner.features import extract as features
from runner.plugins import registry
from runner.features.cache import FeatureCache
mode, images, n, cache_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ds = data.load_dataset(images, per_class=n // 2)
spec = registry.get_backbone("mobilenet_v2_035")
w = features.Weights("none", "random:seed=0")
t = time.perf_counter()
entry, hit = features.get_features(ds, spec, 96, w, FeatureCache(cache_dir))
if mode.startswith("train"):  # what a search does: positions into the memory-mapped entry, one trial of 2 epochs
    from runner.plugins.registry import get_head
    from runner.features.rows import Rows
    from runner.searching.train import fit_head
    tr, va = data.split(ds.labels, 0.2, 0)
    x = Rows((entry.features(),), tr), Rows((entry.features(),), va)
    params = dict(pooling="avg", width=64, dropout=0.2, learning_rate=1e-3, optimizer="adam", batch_size=64)
    budget = float(mode.split(":")[1])
    fit_head(get_head("dense"), params, x[0], ds.labels[tr], x[1], ds.labels[va], 2, 2, 0, budget_mb=budget)
# VmHWM is this process's own peak (ru_maxrss would carry over the parent's high-water mark across exec)
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(int(hwm) / 1024, time.perf_counter() - t, len(ds))
"""


def bench_memory(images_big: Path, n: int, big: int, budget: float, workdir: Path) -> None:
    def rss(mode: str, count: int) -> tuple[float, float]:
        cache = workdir / f"rss-cache-{count}"
        args = [sys.executable, "-c", RSS_CODE, mode, str(images_big), str(count), str(cache)]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.split()
        return float(out[0]), float(out[1])

    (a, _), (b, _) = rss("extract", n), rss("extract", big)
    row(
        f"peak RSS extracting (mobilenet_v2_035@96) {n} vs {big} images",
        f"{b:.0f} MB for {big}",
        f"{a:.0f} MB for {n}",
        f"{b / a:.2f}x",
    )
    for mb in (DEFAULT_BUDGET_MB, budget):
        (la, ta), (lb, tb) = rss(f"train:{mb}", n), rss(f"train:{mb}", big)
        row(
            f"peak RSS of a search's trial, {n} vs {big}, --memory-budget {mb:g}",
            f"{lb:.0f} MB, {tb:.1f} s for {big}",
            f"{la:.0f} MB, {ta:.1f} s for {n}",
            f"{lb / la:.2f}x",
        )


def bench_help() -> None:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "runner.cli", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    row("`runner --help` wall time (best of 3)", f"{min(times):.2f} s", "target 1.5 s", f"{min(times) / 1.5:.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description="runner performance benchmark")
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--big", type=int, default=25000)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--extract-images", type=int, default=512)
    ap.add_argument("--only", default="1,2,3,4,5,6", help="rows to run; 7: bench/scale.py (224 px)")
    ap.add_argument("--budget", type=float, default=128, help="a small --memory-budget (MiB) for row 5")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work}/mlruns/mlflow.db"
        if "6" in only:
            bench_help()
        if "1" in only:
            bench_extraction(make_images(work / "small", args.extract_images), args.extract_images)
        if only & {"2", "3", "4"}:
            bench_search(make_images(work / "train", args.images), args.images, args.trials, args.epochs, work)
        if "5" in only:
            bench_memory(make_images(work / "big", args.big, size=96), args.images, args.big, args.budget, work)
    if "7" in only:  # its own table (each search in its own process)
        scale = [sys.executable, str(Path(__file__).with_name("scale.py")), "--images", str(args.images)]
        subprocess.run([*scale, "--big", str(args.big), "--trials", str(args.trials)], check=True)
    if not ROWS:
        return
    from table import print_table  # bench/, beside this script

    print_table(ROWS, ("measure", "runner", "reference", "ratio"))
    if args.json:
        Path(args.json).write_text(json.dumps(ROWS, indent=1))


if __name__ == "__main__":
    main()
