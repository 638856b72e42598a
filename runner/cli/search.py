"""``runner search``: images -> cached features -> Optuna head search -> MLflow; prints progress and a summary."""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from typing import Any

import typer

from runner import interrupts, quiet, tracking
from runner.cli.options import JSON, with_options
from runner.cli.progress import Steps
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
    """Turns the API's events into lines on stderr (stdout is kept for --json): a progress bar per extraction and
    for the trials on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self.extract: Steps | None = None
        self.trials: Steps | None = None
        self.done, self.total, self.done_extract = 0, 0, 0
        self.plain = Steps("")  # lines while no bar is shown: one console, not one per line

    def line(self, text: str) -> None:
        (self.trials or self.extract or self.plain).line(text)

    def __call__(self, kind: str, p: dict[str, Any]) -> None:
        if kind == "data":
            self.line(
                f"data: {p['name']} ({p['layout']}), {p['n']} images, {len(p['classes'])} classes; "
                f"backbone {p['backbone']} at {p['size']} px, weights {p['weights'][:40]}"
            )
        elif kind == "extract":
            if self.extract is None or p["done"] <= self.done_extract:  # a new extraction starts
                self.extract = Steps("extracting features")
            self.done_extract = p["done"]
            self.extract(p["done"], p["total"], p["seconds"])
        elif kind == "views":
            if p["view"] == "mirror":
                self.line(f"mirror images for test-time augmentation ({p['backbone']})")
            else:
                self.line(f"augmented view {p['view']}/{p['views']} ({p['backbone']})")
        elif kind == "search":
            extra = f", {p['stale']} stale trial(s) failed and queued again" if p["stale"] else ""
            extra += f", {p['workers']} processes" if p.get("workers", 1) > 1 else ""
            self.line(f"study {p['study']}: {p['remaining']} trial(s) to run{extra}")
            self.total = p["remaining"]
            trials = Steps("trials", unit="trial")
            self.trials = trials if trials.live and self.total else None  # plain output: the trial lines say it
        elif kind == "trial":
            m = p["metrics"]
            score = (
                f"val_log_loss {m['val_log_loss']:.4f} val_accuracy {m['val_accuracy']:.4f}"
                if m
                else p.get("reason") or f"pruned after {p.get('epochs', '?')} epoch(s)"
            )
            best = "" if p["best_value"] is None else f" best {p['best_value']:.4f}"
            self.line(f"trial {p['number']:>3}  {score}{best} | {_fmt_params(p['params'])}")
            self.done += 1
            if self.trials is not None:
                self.trials(min(self.done, self.total), self.total, note=best.strip())
        elif kind == "warning":
            self.line(f"warning: {p['message']}")

    def close(self) -> None:
        for steps in (self.extract, self.trials):
            if steps is not None:
                steps.close()


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
        only = next(iter(members))
        what = "the logistic-regression probe" if only == "probe" else f"trial #{only}"
    else:
        shown = ", ".join(f"{t if t == 'probe' else '#' + t} x{w:.2f}" for t, w in members.items())
        what = f"ensemble of {len(members)} members ({shown})"
    n, refitted = len(members), model.get("refitted", 0)
    extras = [f"{refitted} of {n} refitted on all labelled images" if refitted else "not refitted"]
    extras += ["mirror-image averaging" if model["tta"] else "no mirror averaging"]
    extras += [f"temperature {model['temperature']:.2f}" if model["temperature"] != 1.0 else "no temperature"]
    extras += [f"decided on {model.get('decided_on', 'validation')} predictions"]
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
    printer = Printer()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # libraries that print (Keras downloads) never pollute stdout
            result = run_search(config, on_event=printer)
    except SearchInterrupted as err:
        printer.close()
        typer.echo(_resume_line(err), err=True)
        interrupts.reported()
        raise typer.Exit(130) from None
    finally:
        printer.close()
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        typer.echo(_summary(result))
