"""``SearchConfig``: every option of a search, its default, its help text and its validation, in one place.

The CLI builds its ``runner search`` options from these fields (see :mod:`runner.cli.search`), ``runner.search()``
takes one, and helper processes, the objective, reports and tracking receive it. A config that exists is valid:
each mistake is one :class:`RunnerError` naming the CLI option, raised when the config is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.errors import require
from runner.features.augment import Policy
from runner.features.rows import DEFAULT_BUDGET_MB
from runner.options import option as _opt
from runner.plugins.specs import BackboneSpec, input_size
from runner.searching.rungs import AUTO_ROWS, END, REDUCTION

METRICS = ("log_loss", "accuracy")


def names(value: str | Sequence[str], what: str) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> distinct names."""
    found = [n.strip() for n in (value.split(",") if isinstance(value, str) else value) if n.strip()]
    require(
        bool(found) and len(set(found)) == len(found),
        f"bad --{what}",
        value,
        f"one or more distinct {what} names, comma-separated",
        f"pass e.g. --{what} {found[0] if found else '...'}",
    )
    return found


@dataclass(frozen=True)
class SearchConfig:
    """One search: images -> cached backbone features -> Optuna head search -> MLflow, best model registered."""

    data: str = _opt("demo", "Images: class folders, Kaggle flat folder, .zip, CSV path,label, or 'demo'.")
    val_data: str | None = _opt(None, "Explicit validation set (any layout) instead of --val-fraction.")
    backbone: str | tuple[str, ...] = _opt(
        "vgg16", "Backbone name, or several comma-separated to search the backbone too.", type=str
    )
    head: str | tuple[str, ...] = _opt(
        "dense", "Head name (dense, linear, mlp, ...), or several comma-separated.", type=str
    )
    weights: str = _opt("imagenet", "imagenet | none | PATH to a Keras weights file (or NAME=VALUE per backbone).")
    image_size: int | None = _opt(None, "Input size in px (default: the backbone's; demo: its minimum).")
    per_class: int | None = _opt(None, "Keep the first N images of each class (natural order).")
    val_fraction: float = _opt(0.2, "Stratified validation fraction.")
    seed: int = _opt(0, "Seed of the split, the sampler and every trial.")
    trials: int = _opt(30, "Total number of trials in the study.")
    timeout: float | None = _opt(None, "Stop starting trials after this many seconds.")
    epochs: int = _opt(30, "Maximum epochs per trial (early stopping on val loss).")
    metric: str = _opt("log_loss", "Objective: log_loss (minimised) or accuracy (maximised).")
    storage: str | None = _opt(None, "Optuna storage URL (default: optuna.db next to the MLflow store).")
    folds: int = _opt(1, "Score each trial by stratified K-fold cross-validation (1: one split).")
    repeats: int = _opt(1, "Average this many seeds per trial.")
    memory_budget: float = _opt(
        DEFAULT_BUDGET_MB,
        "MiB a trial may hold: its head's training state plus cached features (more features stream from the cache).",
    )
    halving: int | None = _opt(
        None,
        "Successive halving: trials first train on N training rows; the best third go on to 3x as many, up to all "
        f"(0: off; default {AUTO_ROWS} when there are at least {REDUCTION}x as many, without --folds).",
    )
    augment_views: int = _opt(0, "Cache K augmented views of each training image; searched: train on 0..K of them.")
    augment_policy: str | None = _opt(
        None, "Augmentation, e.g. rotation=20,zoom=0.2,shift=0.1,contrast=0.2,flip=1 (the default)."
    )
    refit: bool = _opt(True, "Train the chosen model(s) again on training + validation images before registering.")
    ensemble: int = _opt(5, "Greedy ensemble of up to K trials' models (1: the single best trial).")
    probe: bool = _opt(
        True, "Offer the ensemble a standardized logistic regression on averaged features (C by cross-validation)."
    )
    select_folds: int = _opt(
        3,
        "Decide the ensemble on out-of-fold predictions: the best trials and the probe cross-fitted on all labelled "
        "images in K folds, trained as the refit trains them (0: on the trials' validation predictions).",
    )
    tta: bool = _opt(True, "Test-time augmentation: average each image with its mirror image when that scores better.")
    calibrate: bool = _opt(True, "Temperature scaling of the probabilities, fitted on validation predictions.")
    study: str | None = _opt(None, "Study name (default: DATA-BACKBONE-timestamp); workers with one name share it.")
    n_jobs: int = _opt(1, "Run trials in this many processes (one study).")
    heartbeat: int = _opt(10, "Seconds between trial heartbeats (database storages); 2x silent = worker dead.")
    resume: bool = _opt(False, "Continue an existing study (the latest for this data/backbone if unnamed).")
    tracking_uri: str | None = _opt(None, "MLflow URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db).")
    experiment: str = _opt("runner", "MLflow experiment name.")
    register_name: str | None = _opt(None, "Registered model name (default: DATA-BACKBONE).")
    cache_dir: str | None = _opt(None, "Feature cache folder (default ~/.cache/runner).", envvar="RUNNER_CACHE_DIR")
    code: tuple[str, ...] = _opt((), "A .py file that registers backbones/heads (repeatable).", type=list[str] | None)
    exclude: str | None = _opt(
        None, "Leave out the images listed in FILE: an audit's audit.json or CSV, or one path per line."
    )
    rehash: bool = _opt(False, "Hash every image again instead of trusting unchanged path+size+mtime.")

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalising a frozen dataclass's own fields, once, before anyone reads them
        set_(self, "data", str(self.data))
        set_(self, "val_data", None if self.val_data is None else str(self.val_data))
        set_(self, "code", tuple(str(c) for c in (self.code or ())))
        for name in ("backbone", "head"):
            if not isinstance(getattr(self, name), str):
                set_(self, name, tuple(getattr(self, name)))
        self._check_scalars()
        self._check_workers()
        names(self.backbone, "backbone")
        names(self.head, "head")
        self.weights_for(self.backbones)
        self.policy  # noqa: B018  (a bad --augment-policy fails before any work)

    def _check_scalars(self) -> None:
        def count(name: str, value: object, least: int, example: str) -> None:
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
            require(ok, f"bad --{name}", value, f"an integer >= {least}", f"pass e.g. --{name} {example}")

        count("trials", self.trials, 1, "30")
        count("epochs", self.epochs, 1, "30")
        require(self.epochs < END, "bad --epochs", self.epochs, f"fewer than {END}", "pass e.g. --epochs 30")
        h = self.halving
        require(
            h is None or (isinstance(h, int) and not isinstance(h, bool) and h >= 0),
            "bad --halving",
            h,
            "0 (off) or the first rung's number of training rows, e.g. 2500",
            f"drop it (automatic) or pass --halving {AUTO_ROWS}",
        )
        require(
            not h or (self.folds <= 1 and self.repeats <= 1),
            "--halving does not combine with --folds or --repeats",
            f"--halving {h} with --folds {self.folds} --repeats {self.repeats}",
            "one validation split for successive halving, or cross-validation on every trial",
            "drop --halving (cross-validation is for small data sets), or drop --folds/--repeats",
        )
        require(self.metric in METRICS, "bad --metric", self.metric, " or ".join(METRICS), "pass --metric log_loss")
        require(
            self.val_data is not None or 0.0 < self.val_fraction < 1.0,
            "bad --val-fraction",
            self.val_fraction,
            "a number strictly between 0 and 1",
            "pass e.g. --val-fraction 0.2",
        )
        t = self.timeout
        require(t is None or t > 0, "bad --timeout", t, "seconds > 0", "drop it or pass --timeout 600")
        require(
            isinstance(self.memory_budget, (int, float)) and self.memory_budget > 0,
            "bad --memory-budget",
            self.memory_budget,
            "a positive number of MiB",
            "pass e.g. --memory-budget 1024",
        )
        count("ensemble", self.ensemble, 1, "5")
        count("select-folds", self.select_folds, 0, "3")
        require(
            self.select_folds != 1,
            "bad --select-folds",
            self.select_folds,
            "0 (decide on validation predictions) or at least 2 folds",
            "pass --select-folds 3 (or 0)",
        )
        require(
            isinstance(self.augment_views, int) and 0 <= self.augment_views <= 64,
            "bad --augment-views",
            self.augment_views,
            "an integer from 0 (no augmentation) to 64",
            "pass e.g. --augment-views 5",
        )

    def _check_workers(self) -> None:
        n = self.n_jobs
        require(isinstance(n, int) and n >= 1, "bad --n-jobs", n, "an integer >= 1", "pass e.g. --n-jobs 2")
        require(
            isinstance(self.folds, int) and (self.folds == 1 or self.folds >= 2),
            "bad --folds",
            self.folds,
            "1 (one validation split) or an integer >= 2",
            "pass e.g. --folds 5",
        )
        r = self.repeats
        require(isinstance(r, int) and r >= 1, "bad --repeats", r, "an integer >= 1", "pass --repeats 3")
        require(
            isinstance(self.heartbeat, int) and self.heartbeat >= 1,
            "bad --heartbeat",
            self.heartbeat,
            "whole seconds >= 1",
            "pass e.g. --heartbeat 10",
        )
        require(
            self.storage is None or isinstance(self.storage, str),
            "bad --storage",
            type(self.storage).__name__,
            "a URL string that every worker process can open",
            "pass storage as a URL such as sqlite:///mlruns/optuna.db",
        )

    @property
    def finishing(self) -> dict[str, Any]:
        """The settings that decide how a finished study becomes a model (a resumed study with other ones is
        finalized again)."""
        return {
            "refit": self.refit,
            "ensemble": self.ensemble,
            "probe": self.probe,
            "select_folds": self.select_folds,
            "tta": self.tta,
            "calibrate": self.calibrate,
        }

    @property
    def backbones(self) -> list[str]:
        return names(self.backbone, "backbone")

    @property
    def heads(self) -> list[str]:
        return names(self.head, "head")

    @property
    def maximize(self) -> bool:
        return self.metric == "accuracy"

    @property
    def policy(self) -> Policy:
        return Policy.parse(self.augment_policy)

    def weights_for(self, backbones: list[str]) -> dict[str, str]:
        """``imagenet`` | ``none`` | PATH for every backbone, or ``name=value,name=value`` per backbone."""
        weights = self.weights
        if "=" not in weights:
            require(
                weights in ("imagenet", "none") or len(backbones) == 1,
                "--weights PATH needs a single backbone",
                weights,
                "imagenet, none, or NAME=VALUE per backbone",
                "pass e.g. --weights vgg16=imagenet,tiny_cnn=none",
            )
            return dict.fromkeys(backbones, weights)
        pairs = [p.split("=", 1) for p in weights.split(",") if p.strip()]
        ok = all(len(p) == 2 for p in pairs)
        require(ok, "bad --weights", weights, "NAME=VALUE pairs", "pass e.g. vgg16=imagenet")
        given = {k.strip(): v.strip() for k, v in pairs}
        require(
            set(given) == set(backbones),
            "--weights does not name every searched backbone exactly once",
            weights,
            f"NAME=VALUE for each of {', '.join(backbones)}",
            "list each searched backbone once",
        )
        return given

    def image_sizes(self, specs: list[BackboneSpec]) -> dict[str, int]:
        """``--image-size`` for every backbone, else each backbone's default (its minimum for the demo digits)."""
        return {spec.name: input_size(spec, self.image_size, self.data == "demo") for spec in specs}

    def check_folds(self, y_train: Any) -> None:
        """``--folds`` fits the smallest class of the training split."""
        import numpy as np

        smallest = int(np.bincount(np.asarray(y_train)).min())
        require(
            self.folds <= smallest,
            "--folds is larger than the smallest class",
            self.folds,
            f"at most {smallest} (images of the smallest class in the training split)",
            f"pass --folds {max(2, min(5, smallest))} or fewer",
        )
