"""``runner search``: images -> cached features -> Optuna head search -> MLflow; prints progress and a summary."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Annotated, Any

import typer

from runner.features.rows import DEFAULT_BUDGET_MB

EXAMPLES = (
    "Examples:\n\n"
    "  runner search --trials 30 --weights none                 # built-in demo digits, no download\n\n"
    "  runner search --data train/ --per-class 1500 --trials 30  # class folders or Kaggle cat.0.jpg\n\n"
    "  runner search --data photos.zip --backbone mobilenet_v2_035 --image-size 224\n\n"
    "  runner search --data labels.csv --val-data val/ --metric accuracy --json\n\n"
    "  runner search --data train/ --backbone vgg16,mobilenet_v2,efficientnet_b0 --head dense,linear,mlp\n\n"
    "  runner search --data train/ --code my_backbone.py --backbone my_backbone"
)


def _fmt_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class Printer:
    """Turns the API's events into lines on stderr (stdout is kept for --json)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, kind: str, p: dict[str, Any]) -> None:
        out = sys.stderr
        if kind == "data":
            print(
                f"data: {p['name']} ({p['layout']}), {p['n']} images, {len(p['classes'])} classes; "
                f"backbone {p['backbone']} at {p['size']} px, weights {p['weights'][:40]}",
                file=out,
            )
        elif kind == "extract":
            now = time.monotonic()
            if p["done"] < p["total"] and now - self.last < (0.5 if self.tty else 10):
                return
            self.last = now
            rate = p["done"] / max(p["seconds"], 1e-9)
            eta = (p["total"] - p["done"]) / max(rate, 1e-9)
            end = "\n" if p["done"] == p["total"] or not self.tty else ""
            print(
                f"\rextracting features {p['done']}/{p['total']}  {rate:.1f} img/s  ETA {eta:.0f}s   ",
                end=end,
                file=out,
                flush=True,
            )
        elif kind == "views":
            print(f"augmented view {p['view']}/{p['views']} ({p['backbone']})", file=out)
        elif kind == "search":
            extra = f", {p['stale']} stale trial(s) failed and queued again" if p["stale"] else ""
            extra += f", {p['workers']} processes" if p.get("workers", 1) > 1 else ""
            print(f"study {p['study']}: {p['remaining']} trial(s) to run{extra}", file=out)
        elif kind == "trial":
            m = p["metrics"]
            score = (
                f"val_log_loss {m['val_log_loss']:.4f} val_accuracy {m['val_accuracy']:.4f}"
                if m
                else f"pruned after {p.get('epochs', '?')} epoch(s)"
            )
            best = "" if p["best_value"] is None else f" best {p['best_value']:.4f}"
            print(f"trial {p['number']:>3}  {score}{best} | {_fmt_params(p['params'])}", file=out)
        elif kind == "warning":
            print(f"warning: {p['message']}", file=out)


def _summary(r: Any) -> str:
    m = r.best_metrics
    how = "cache hit" if r.cache["hit"] else "extracted"
    registered = (
        f"models:/{r.registered_model['name']}/{r.registered_model['version']}"
        if r.finalized
        else "by the worker that completes the study's last trial"
    )
    lines = [
        "",
        f"{'study':18}{r.study_name}",
        f"{'trials':18}{r.n_trials['complete']} complete, {r.n_trials['pruned']} pruned, {r.n_trials['fail']} failed",
        f"{'best trial':18}#{r.best_trial}  {r.backbone} + {r.head}  {_fmt_params(r.best_params)}",
        *(f"{'  ' + name:18}best value {v:.4f}" for name, v in r.per_backbone.items() if len(r.per_backbone) > 1),
        *(f"{k:18}{v:.4f}" for k, v in m.items()),
        f"{'features':18}{how} in {r.seconds['features']:.1f}s (key {r.cache['key']})",
        f"{'search':18}{r.seconds['search']:.1f}s, total {r.seconds['total']:.1f}s",
        f"{'parent run':18}{r.parent_run_id} (experiment {r.experiment_id})",
        f"{'this worker':18}{r.worker.get('trials_run', 0)} trial(s) run here",
        f"{'registered':18}{registered}",
        *([f"{'model uri':18}{r.model_uri}"] if r.finalized else []),
    ]
    return "\n".join(lines)


def search(
    data: Annotated[
        str, typer.Option(help="Images: class folders, Kaggle flat folder, .zip, CSV path,label, or 'demo'.")
    ] = "demo",
    val_data: Annotated[
        str | None, typer.Option(help="Explicit validation set (any layout) instead of --val-fraction.")
    ] = None,
    backbone: Annotated[
        str, typer.Option(help="Backbone name, or several comma-separated to search the backbone too.")
    ] = "vgg16",
    head: Annotated[
        str, typer.Option(help="Head name (dense, linear, mlp, ...), or several comma-separated.")
    ] = "dense",
    weights: Annotated[str, typer.Option(help="imagenet | none | PATH to a Keras weights file.")] = "imagenet",
    image_size: Annotated[
        int | None, typer.Option(help="Input size in px (default: the backbone's; demo: its minimum).")
    ] = None,
    per_class: Annotated[
        int | None, typer.Option(help="Keep the first N images of each class (natural order).")
    ] = None,
    val_fraction: Annotated[float, typer.Option(help="Stratified validation fraction.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split, the sampler and every trial.")] = 0,
    trials: Annotated[int, typer.Option(help="Total number of trials in the study.")] = 30,
    timeout: Annotated[float | None, typer.Option(help="Stop starting trials after this many seconds.")] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs per trial (early stopping on val loss).")] = 30,
    metric: Annotated[str, typer.Option(help="Objective: log_loss (minimised) or accuracy (maximised).")] = "log_loss",
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: optuna.db next to the MLflow store).")
    ] = None,
    folds: Annotated[
        int, typer.Option(help="Score each trial by stratified K-fold cross-validation (1: one split).")
    ] = 1,
    repeats: Annotated[int, typer.Option(help="Average this many seeds per trial.")] = 1,
    memory_budget: Annotated[
        float,
        typer.Option(help="MiB of cached features a trial holds in memory; larger sets stream from the cache."),
    ] = DEFAULT_BUDGET_MB,
    augment_views: Annotated[
        int, typer.Option(help="Cache K augmented views of each training image; searched: train on 0..K of them.")
    ] = 0,
    augment_policy: Annotated[
        str | None,
        typer.Option(help="Augmentation, e.g. rotation=20,zoom=0.2,shift=0.1,contrast=0.2,flip=1 (the default)."),
    ] = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: DATA-BACKBONE-timestamp); workers with one name share it.")
    ] = None,
    n_jobs: Annotated[int, typer.Option(help="Run trials in this many processes (one study).")] = 1,
    heartbeat: Annotated[
        int, typer.Option(help="Seconds between trial heartbeats (database storages); 2x silent = worker dead.")
    ] = 10,
    resume: Annotated[
        bool, typer.Option(help="Continue an existing study (the latest for this data/backbone if unnamed).")
    ] = False,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db).")
    ] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "runner",
    register_name: Annotated[str | None, typer.Option(help="Registered model name (default: DATA-BACKBONE).")] = None,
    cache_dir: Annotated[
        str | None, typer.Option(envvar="RUNNER_CACHE_DIR", help="Feature cache folder (default ~/.cache/runner).")
    ] = None,
    code: Annotated[
        list[str] | None, typer.Option(help="A .py file that registers backbones/heads (repeatable).")
    ] = None,
    rehash: Annotated[
        bool, typer.Option(help="Hash every image again instead of trusting unchanged path+size+mtime.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout instead of a summary.")
    ] = False,
) -> None:
    """Search classifier heads on cached backbone features; log every trial to MLflow; register the best model."""
    from runner.searching.run import search as run_search

    with contextlib.redirect_stdout(sys.stderr):  # libraries that print (Keras downloads) never pollute stdout
        result = run_search(
            data,
            val_data=val_data,
            backbone=backbone,
            head=head,
            weights=weights,
            image_size=image_size,
            per_class=per_class,
            val_fraction=val_fraction,
            seed=seed,
            trials=trials,
            timeout=timeout,
            epochs=epochs,
            metric=metric,
            folds=folds,
            repeats=repeats,
            memory_budget=memory_budget,
            augment_views=augment_views,
            augment_policy=augment_policy,
            n_jobs=n_jobs,
            heartbeat=heartbeat,
            storage=storage,
            study=study,
            resume=resume,
            tracking_uri=tracking_uri,
            experiment=experiment,
            register_name=register_name,
            cache_dir=cache_dir,
            code=code,
            rehash=rehash,
            on_event=Printer(),
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        typer.echo(_summary(result))
