"""``runner search``: images -> cached features -> Optuna head search -> MLflow; prints progress and a summary."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import time
from typing import Any

import typer

from runner import interrupts, quiet, tracking
from runner.cli.options import JSON, with_options
from runner.searching.config import SearchConfig

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
            if p["view"] == "mirror":
                print(f"mirror images for test-time augmentation ({p['backbone']})", file=out)
            else:
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


USE = "  (the reference for predict, evaluate, export, finetune)"


def _resume_line(err: Any) -> str:
    """What is kept and the exact command that continues the study (``--resume --study NAME``, ``--storage``)."""
    args = [a for a in sys.argv[1:] if a != "--resume"]
    for flag in ("--study", "--storage"):  # both come back from the error, the storage without its password
        if flag in args:
            i = args.index(flag)
            del args[i : i + 2]
    command = " ".join(shlex.quote(a) for a in ["runner", *args, *err.resume_args()])
    return f"interrupted: {err.kept} finished trial(s) kept in study {err.study}; continue with: {command}"


def _model_line(model: dict[str, Any]) -> str:
    """What the registered model is: its members and weights, mirror averaging, temperature, refit."""
    members = model["members"]
    if len(members) == 1:
        what = f"trial #{next(iter(members))}"
    else:
        what = f"ensemble of {len(members)} trials (" + ", ".join(f"#{t} x{w:.2f}" for t, w in members.items()) + ")"
    extras = [f"refitted on all labelled images ({model['refitted']})" if model.get("refitted") else "not refitted"]
    extras += ["mirror-image averaging" if model["tta"] else "no mirror averaging"]
    extras += [f"temperature {model['temperature']:.2f}" if model["temperature"] != 1.0 else "no temperature"]
    return f"{what}; {', '.join(extras)}"


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
        *([f"{'model':18}{_model_line(r.model)}"] if r.model else []),
        f"{'features':18}{how} in {r.seconds['features']:.1f}s (key {r.cache['key']})",
        f"{'search':18}{r.seconds['search']:.1f}s, total {r.seconds['total']:.1f}s",
        f"{'parent run':18}{r.parent_run_id} (experiment {r.experiment_id})",
        f"{'browse':18}runner ui, then {tracking.ui_link(r.experiment_id)}",
        f"{'this worker':18}{r.worker.get('trials_run', 0)} trial(s) run here",
        f"{'registered':18}{registered}"
        + ("  (the reference for predict, evaluate, export, finetune)" if r.finalized else ""),
    ]
    return "\n".join(lines)


@with_options(SearchConfig, before=[], after=[JSON])
def search(as_json: bool = False, **options: Any) -> None:
    """Search classifier heads on cached backbone features; log every trial to MLflow; register the best model."""
    from runner.searching.run import SearchInterrupted
    from runner.searching.run import search as run_search

    config = SearchConfig(**options)  # checked before anything slow starts
    quiet.optuna_errors_only()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # libraries that print (Keras downloads) never pollute stdout
            result = run_search(config, on_event=Printer())
    except SearchInterrupted as err:
        typer.echo(_resume_line(err), err=True)
        interrupts.reported()
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        typer.echo(_summary(result))
