"""runner at the real size: 224-px feature maps (MobileNetV2-0.35: 7x7x1280), 3,000 vs 25,000 images.

    pip install -e ".[bench]"
    python bench/scale.py                       # the full run (about an hour on 2 cores)
    python bench/scale.py --big 10000 --trials 10 --skip-plain   # a shorter run
    python bench/perf.py --only 7               # the same, as row 7 of the performance benchmark

Rows, each measured in its own process (peak RSS is that process's VmHWM):
(1) one trial of a flatten head and of an avg head on N vs BIG cached images: seconds and peak RSS;
(2) a ``--trials T`` search on N vs BIG cached images (successive halving automatic, so on for BIG): search
seconds, whole-command peak RSS, the study's best validation log loss;
(3) the same BIG search with ``--halving 0`` (every trial on every row): what multi-fidelity bought, same seed.
Generated images: two classes of noisy stripes (horizontal vs vertical, weak against the noise). With the real
MobileNetV2-0.35 ImageNet file (../shared/keras, copied to a temporary KERAS_HOME) the features carry the
signal; without it, weights=none (speed and memory rows still hold; quality rows then mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROWS: list[tuple[str, str, str, str]] = []
SHARED_KERAS = Path(__file__).resolve().parents[1].parent / "shared" / "keras"
BACKBONE, SIZE = "mobilenet_v2_035", 224


def row(what: str, big: str, small: str, ratio: str) -> None:
    ROWS.append((what, big, small, ratio))
    print(f"  {what}: {big} | {small} | {ratio}", file=sys.stderr, flush=True)


def _images(args: tuple[Path, int, int, int]) -> None:
    import cv2

    root, lo, hi, size = args
    grid = np.arange(size, dtype=np.float32)
    for i in range(lo, hi):
        rng = np.random.default_rng(i)
        label = i % 2
        wave = np.sin(grid * rng.uniform(0.05, 0.3) + rng.uniform(0, 6.3))
        img = (wave[:, None] if label == 0 else wave[None, :]) * np.ones((size, size), np.float32)
        img = 127 + 10 * img[..., None] + rng.normal(0, 70, size=(size, size, 3))
        name = f"{'cat' if label == 0 else 'dog'}.{i}.jpg"
        cv2.imwrite(str(root / name), np.clip(img, 0, 255).astype(np.uint8))


def make_images(root: Path, n: int, size: int = SIZE) -> Path:
    """``n`` Kaggle-named images in one flat folder, in parallel (each image seeded by its number)."""
    root.mkdir(parents=True, exist_ok=True)
    step = 500
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_images, [(root, lo, min(lo + step, n), size) for lo in range(0, n, step)]))
    return root


CHILD = """
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
kind, spec = sys.argv[1], json.loads(sys.argv[2])
t = time.perf_counter()
out = {}
if kind == "search":
    import runner
    r = runner.search(**spec)
    out = {"seconds": r.seconds, "best": min(r.per_backbone.values()), "n_trials": r.n_trials,
           "model": {k: r.model.get(k) for k in ("scores",) if k in r.model}}
else:  # one trial of a fixed head on the cached features, as a search runs it
    import numpy as np
    from runner import data, memory
    from runner.features.cache import FeatureCache
    from runner.features.rows import Rows
    from runner.plugins.registry import get_head
    from runner.searching.arrays import Arrays
    from runner.searching.train import fit_head
    ds = data.load_dataset(spec["data"], per_class=spec["per_class"])
    entry = FeatureCache(spec["cache_dir"]).get(spec["key"])
    tr, va = data.split(ds.labels, 0.2, 0)
    x = entry.features()
    head = get_head("dense")
    memory.reserve(int(spec["budget"] * 2**20))  # as a search does before its first trial
    a = Arrays(Rows((x,), tr), ds.labels[tr], Rows((x,), va), ds.labels[va], 2)
    a = a.averaged() if head.pools(spec["params"]) else a  # an avg head trains on the averages, as in a search
    fit = fit_head(head, spec["params"], a.x_train, a.y_train, a.x_val, a.y_val,
                   2, spec["epochs"], 0, patience=spec["epochs"], budget_mb=spec["budget"])
    out = {"val_log_loss": fit.metrics["val_log_loss"], "epochs": len(fit.history["loss"])}
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
out |= {"peak_mb": int(hwm) / 1024, "wall": time.perf_counter() - t}
print("RESULT " + json.dumps(out))
"""


def child(kind: str, spec: dict, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, kind, json.dumps(spec)], capture_output=True, text=True, env=env, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{kind} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(description="runner at 224 px: 3,000 vs 25,000 images")
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--big", type=int, default=25000)
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--budget", type=float, default=1024, help="--memory-budget (MiB) of every run")
    ap.add_argument("--skip-plain", action="store_true", help="leave out row 3 (the BIG search without halving)")
    ap.add_argument("--skip-trials", action="store_true", help="leave out row 1 (single trials)")
    ap.add_argument("--plain-from", default="", help="row 3's BIG search from an earlier run's --json (not rerun)")
    ap.add_argument("--workdir", default="", help="keep images, cache and runs here (default: a temporary folder)")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="runner-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work}/mlruns/mlflow.db")
    weights = "none"
    if (SHARED_KERAS / "models").is_dir():
        home = work / "keras"
        shutil.copytree(SHARED_KERAS, home, dirs_exist_ok=True)
        env["KERAS_HOME"], weights = str(home), "imagenet"
    os.chdir(work)
    images = work / "images"
    if not images.is_dir() or len(list(images.iterdir())) < args.big:
        t = time.perf_counter()
        make_images(images, args.big)
        print(f"  generated {args.big} images in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    common = {"data": str(images), "backbone": BACKBONE, "weights": weights, "image_size": SIZE, "seed": 0}
    common |= {"memory_budget": args.budget, "cache_dir": str(work / "cache")}
    sizes = {"small": args.images, "big": args.big}
    tag = time.strftime("%H%M%S")  # study names of this run (a kept --workdir holds earlier runs' studies)
    keys = {}
    for which, n in sizes.items():  # features (and the mirror images TTA uses) extracted once, before any timing
        warm_spec = {"per_class": n // 2, "trials": 1, "epochs": 1, "study": f"warm-{which}-{tag}"}
        warm = child("search", common | warm_spec, env)
        print(f"  features for {n} images: {warm['wall']:.0f} s", file=sys.stderr, flush=True)
        from runner import data
        from runner.features.cache import FeatureCache

        ds = data.load_dataset(images, per_class=n // 2)
        plain = [e for e in FeatureCache(work / "cache").entries() if e.meta.get("view") is None]
        keys[which] = next(e.key for e in plain if e.meta.get("n") == len(ds))
    for pooling, width in () if args.skip_trials else (("flatten", 256), ("avg", 256)):
        params = {"pooling": pooling, "width": width, "dropout": 0.3, "learning_rate": 1e-4}
        params |= {"optimizer": "rmsprop", "batch_size": 64}
        got = {
            which: child(
                "trial",
                {"data": str(images), "per_class": n // 2, "cache_dir": str(work / "cache"), "key": keys[which]}
                | {"params": params, "epochs": 3, "budget": args.budget},
                env,
            )
            for which, n in sizes.items()
        }
        s, b = got["small"], got["big"]
        row(
            f"one {pooling} trial (width {width}, 3 epochs): {args.big} vs {args.images}",
            f"{b['wall']:.1f} s, {b['peak_mb']:.0f} MB",
            f"{s['wall']:.1f} s, {s['peak_mb']:.0f} MB",
            f"{b['wall'] / s['wall']:.1f}x time, {b['peak_mb'] / s['peak_mb']:.2f}x RSS",
        )
    runs = {}
    for label, n, extra in (("small", args.images, {}), ("big", args.big, {}), ("plain", args.big, {"halving": 0})):
        if label == "plain" and (args.skip_plain or args.plain_from):
            if args.plain_from:
                runs[label] = json.loads(Path(args.plain_from).read_text())["runs"]["plain"]
            continue
        spec = common | {"per_class": n // 2, "trials": args.trials, "study": f"scale-{label}-{tag}"} | extra
        runs[label] = child("search", spec, env)
        r = runs[label]
        print(f"  {label}: {json.dumps(r)}", file=sys.stderr, flush=True)
    s, b = runs["small"], runs["big"]

    def cell(r: dict) -> str:
        sec = r["seconds"]
        return f"{sec['search']:.0f} s search ({sec['total']:.0f} s all), {r['peak_mb']:.0f} MB, best {r['best']:.4f}"

    row(
        f"{args.trials}-trial search, {args.big} vs {args.images} cached images",
        cell(b),
        cell(s),
        f"{b['seconds']['search'] / s['seconds']['search']:.2f}x time, {b['peak_mb'] / s['peak_mb']:.2f}x RSS",
    )
    row(
        f"peak RSS of the {args.big}-image search vs --memory-budget {args.budget:g} MiB + 1 GiB",
        f"{b['peak_mb']:.0f} MB",
        f"{args.budget + 1024:.0f} MB",
        f"{b['peak_mb'] / (args.budget + 1024):.0%}",
    )
    if "plain" in runs:
        p = runs["plain"]
        row(
            f"{args.trials}-trial search on {args.big}: successive halving vs every trial on every row",
            cell(b),
            cell(p),
            f"{p['seconds']['search'] / b['seconds']['search']:.2f}x faster, best {b['best'] - p['best']:+.4f}",
        )
    from table import print_table  # bench/, beside this script

    print_table(ROWS, ("measure", "big", "small / reference", "ratio"))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": ROWS, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
