"""runner's quality benchmark: what a search hands back, against the strongest simple baseline, on images the
search never saw; mean and std over repeated stratified splits.

    KERAS_HOME=<copy of ../shared/keras> python bench/quality.py                  # 2,000 photos, 5 splits
    python bench/quality.py --data ../shared/data/dogs-vs-cats-300 --scored 100  # the 300 photos
    python bench/quality.py --splits 2 --trials 10                               # a shorter run
    python bench/quality.py --cost-only                                          # only what the stages cost

Per split, ``--scored`` images are left out of the search (``--exclude``) and scored by ``runner evaluate``.
Rows: a standardized logistic regression (StandardScaler + LogisticRegressionCV, C by cross-validated log loss) on
the same cached features, globally average-pooled, fit on all the search's images; the search's single best trial as
it was before these stages; + refit on all labelled images; + ensemble of trials (up to 5); + test-time augmentation;
+ temperature scaling (these three decided on the trials' validation predictions); + the same decisions taken on
out-of-fold predictions of the best trials cross-fitted on all labelled images (``--select-folds``); + the
logistic-regression probe as a candidate member beside them (``--probe``: the default search); and, with
``--finetune``, ``runner finetune`` of the default model. The stages are
the same study finalized again with other settings (``--resume``), so they share their trials. The default search's
time on cached features against the same search with every stage off shows what the stages cost. Real ImageNet
weights (``--weights imagenet``) come from $KERAS_HOME: with ``../shared/keras`` copied to a temporary folder when
KERAS_HOME is unset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np

OFF = {"select_folds": 0, "probe": False}  # decided on the trials' validation predictions, no probe
STAGES = {  # row -> settings of the finalization (the trials are shared)
    "single best trial (before)": {"refit": False, "ensemble": 1, "tta": False, "calibrate": False} | OFF,
    "+ refit on all labelled": {"refit": True, "ensemble": 1, "tta": False, "calibrate": False} | OFF,
    "+ ensemble (up to 5)": {"refit": True, "ensemble": 5, "tta": False, "calibrate": False} | OFF,
    "+ test-time mirror": {"refit": True, "ensemble": 5, "tta": True, "calibrate": False} | OFF,
    "+ calibration": {"refit": True, "ensemble": 5, "tta": True, "calibrate": True} | OFF,
    "+ decided out of fold": {"select_folds": 3, "probe": False},
}
OPTIONS: dict[str, dict] = {}  # rows beside the default: one option switched on
DEFAULT = "+ probe as a candidate (default)"


def probe(features: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore", category=FutureWarning)
    lr = LogisticRegressionCV(Cs=np.logspace(-4, 2, 13), scoring="neg_log_loss", max_iter=3000)
    model = make_pipeline(StandardScaler(), lr).fit(features[train], y[train])
    return model.predict_proba(features[test])


def pooled(entry_dir: Path) -> np.ndarray:
    """The cached feature maps, globally average-pooled (read in blocks)."""
    x = np.load(entry_dir / "features.npy", mmap_mode="r")
    return np.concatenate([np.asarray(x[i : i + 256], np.float32).mean(axis=(1, 2)) for i in range(0, len(x), 256)])


def scored_folder(ds: object, root_data: Path, rows: np.ndarray, root: Path) -> Path:
    """Class folders of symlinks to the scored images."""
    for i in rows:
        src = root_data / ds.names[i]
        dest = root / ds.classes[ds.labels[i]] / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.symlink_to(src.resolve())
    return root


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(here.parent.parent / "shared/data/dogs-vs-cats-2000"))
    ap.add_argument("--backbone", default="mobilenet_v2_035")
    ap.add_argument("--weights", default="imagenet")
    ap.add_argument("--head", default=None, help="heads to search (default: the search's default)")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--scored", type=int, default=400, help="images per split the search never sees")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--finetune", action="store_true", help="also fine-tune the default model (slow on CPU)")
    ap.add_argument("--cost-only", action="store_true", help="only the cost line: split 0's search, off vs on")
    ap.add_argument("--workdir", default=None, help="MLflow store and cache (default: a temporary folder)")
    args = ap.parse_args()
    shared_keras = here.parent.parent / "shared/keras"
    if "KERAS_HOME" not in os.environ and shared_keras.is_dir():
        home = Path(tempfile.mkdtemp(prefix="keras-home-"))
        shutil.copytree(shared_keras, home, dirs_exist_ok=True)
        os.environ["KERAS_HOME"] = str(home)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="runner-quality-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    os.environ.setdefault("RUNNER_CACHE_DIR", str(work / "cache"))

    from sklearn.model_selection import StratifiedShuffleSplit

    import runner
    from runner.data.load import load_dataset
    from runner.metrics import classification_metrics

    data = str(Path(args.data).resolve())
    ds = load_dataset(data)
    print(
        f"{ds.name}: {len(ds)} images, {args.splits} splits x {args.scored} scored, {args.trials} trials",
        file=sys.stderr,
    )
    scores: dict[str, list[dict[str, float]]] = {}
    seconds: dict[str, list[float]] = {}
    costs: dict[str, float] = {}
    common = {"backbone": args.backbone, "weights": args.weights, "image_size": args.image_size, "trials": args.trials}
    common |= {"head": args.head} if args.head else {}
    sss = StratifiedShuffleSplit(args.splits, test_size=args.scored, random_state=0)
    for s, (train, test) in enumerate(sss.split(np.zeros(len(ds)), ds.labels)):
        exclude = work / f"exclude-{s}.txt"
        exclude.write_text("".join(f"{ds.names[i]}\n" for i in test))
        if args.cost_only:
            runner.search(data, **common, seed=s, exclude=str(exclude), study="cost-features")  # features cached
            print_cost(cost(runner, data, common, exclude))
            return
        folder = scored_folder(ds, Path(data), test, work / f"scored-{s}")
        name = f"quality-{s}"
        opts = common | {"seed": s, "exclude": str(exclude), "study": name, "register_name": name}

        def score(row: str, uri: str, secs: float, folder: Path = folder, s: int = s) -> None:
            m = runner.evaluate(uri, str(folder), log=False).metrics
            scores.setdefault(row, []).append(m)
            seconds.setdefault(row, []).append(secs)
            print(
                f"  split {s} {row}: accuracy {m['accuracy']:.4f} log loss {m['log_loss']:.4f} ({secs:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

        t = time.perf_counter()
        result = runner.search(data, **opts)
        default_secs = time.perf_counter() - t
        score(DEFAULT, f"models:/{name}/{result.registered_model['version']}", default_secs)
        entry = Path(result.cache["dir"]) / result.cache["key"]
        feats = pooled(entry)
        t = time.perf_counter()
        p = probe(feats, ds.labels, train, test)
        m = classification_metrics(ds.labels[test], p, len(ds.classes))
        scores.setdefault("logistic regression probe", []).append(m)
        seconds.setdefault("logistic regression probe", []).append(time.perf_counter() - t)
        for row, settings in (STAGES | OPTIONS).items():
            t = time.perf_counter()
            r = runner.search(data, **opts, resume=True, **settings)
            score(row, f"models:/{name}/{r.registered_model['version']}", time.perf_counter() - t)
        if s == 0:  # what the stages cost: the same search from scratch on cached features, all on vs all off
            costs = cost(runner, data, common, exclude)
        if args.finetune:
            t = time.perf_counter()
            ft = runner.finetune(f"models:/{name}/{result.registered_model['version']}", register="always")
            score("finetune (default model)", f"models:/{name}/{ft.registered['version']}", time.perf_counter() - t)
    order = ["logistic regression probe", *STAGES, DEFAULT, *OPTIONS]
    order += ["finetune (default model)"] if args.finetune else []
    print(
        f"\n{ds.name}, {args.backbone} ({args.head or 'default heads'}) {args.weights} {args.image_size} px, "
        f"{args.splits} splits x {args.scored} "
        f"scored images, {args.trials} trials\n"
    )
    print("| model | accuracy (mean ± std) | log loss (mean ± std) | seconds per split |")
    print("|---|---|---|---|")
    for row in order:
        acc = np.array([m["accuracy"] for m in scores[row]])
        ll = np.array([m["log_loss"] for m in scores[row]])
        print(
            f"| {row} | {acc.mean():.4f} ± {acc.std():.4f} | {ll.mean():.4f} ± {ll.std():.4f} | "
            f"{np.mean(seconds[row]):.0f} |"
        )
    if costs:
        print_cost(costs)


def cost(runner: object, data: str, common: dict, exclude: Path) -> dict[str, float]:
    """Seconds of the same search (split 0) on cached features: every stage off, the defaults, and the blend decided
    on validation predictions without the probe (the default before out-of-fold decisions). Each is run twice, in
    the order A B C C B A, and averaged: a later search in one process runs slower (a larger store; measured: the
    same work +15% when third), so a single pass in a fixed order favours the first."""
    cases = {"off": STAGES["single best trial (before)"], "on": {}, "validation": STAGES["+ calibration"]}
    order = [*cases, *reversed(cases)]
    seconds: dict[str, list[float]] = {}
    for i, label in enumerate(order):
        t = time.perf_counter()
        study = f"cost-{label}-{i}"
        runner.search(data, **common, seed=0, exclude=str(exclude), study=study, **cases[label])  # type: ignore[attr-defined]
        seconds.setdefault(label, []).append(time.perf_counter() - t)
    return {label: float(np.mean(v)) for label, v in seconds.items()}


def print_cost(c: dict[str, float]) -> None:
    off, on, val = c["off"], c["on"], c["validation"]
    print(
        f"\nsearch on cached features, split 0: every stage off {off:.0f} s, default {on:.0f} s (x{on / off:.2f}); "
        f"decided on validation predictions, no probe {val:.0f} s (x{val / off:.2f})"
    )


if __name__ == "__main__":
    main()
