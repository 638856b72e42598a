"""Checking and normalising search options before any work: one clear error per mistake."""

from __future__ import annotations

from runner.errors import RunnerError
from runner.plugins.specs import BackboneSpec

METRICS = ("log_loss", "accuracy")


def check(cond: bool, what: str, received: object, expected: str, fix: str) -> None:
    if not cond:
        raise RunnerError(what, received=received, expected=expected, fix=fix)


def check_scalars(
    *, trials: int, epochs: int, metric: str, val_fraction: float, explicit_val: bool, timeout: float | None
) -> None:
    check(isinstance(trials, int) and trials >= 1, "bad --trials", trials, "an integer >= 1", "pass e.g. --trials 30")
    check(isinstance(epochs, int) and epochs >= 1, "bad --epochs", epochs, "an integer >= 1", "pass e.g. --epochs 30")
    check(metric in METRICS, "bad --metric", metric, " or ".join(METRICS), "pass --metric log_loss")
    check(
        explicit_val or 0.0 < val_fraction < 1.0,
        "bad --val-fraction",
        val_fraction,
        "a number strictly between 0 and 1",
        "pass e.g. --val-fraction 0.2",
    )
    check(timeout is None or timeout > 0, "bad --timeout", timeout, "seconds > 0", "drop it or pass --timeout 600")


def names(value: str | list[str], what: str) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> distinct names."""
    found = [n.strip() for n in (value.split(",") if isinstance(value, str) else value) if n.strip()]
    check(
        bool(found) and len(set(found)) == len(found),
        f"bad --{what}",
        value,
        f"one or more distinct {what} names, comma-separated",
        f"pass e.g. --{what} {found[0] if found else '...'}",
    )
    return found


def weights_map(weights: str, backbones: list[str]) -> dict[str, str]:
    """``imagenet`` | ``none`` | PATH for every backbone, or ``name=value,name=value`` per backbone."""
    if "=" not in weights:
        check(
            weights in ("imagenet", "none") or len(backbones) == 1,
            "--weights PATH needs a single backbone",
            weights,
            "imagenet, none, or NAME=VALUE per backbone",
            "pass e.g. --weights vgg16=imagenet,tiny_cnn=none",
        )
        return dict.fromkeys(backbones, weights)
    pairs = [p.split("=", 1) for p in weights.split(",") if p.strip()]
    check(all(len(p) == 2 for p in pairs), "bad --weights", weights, "NAME=VALUE pairs", "pass e.g. vgg16=imagenet")
    given = {k.strip(): v.strip() for k, v in pairs}
    check(
        set(given) == set(backbones),
        "--weights does not name every searched backbone exactly once",
        weights,
        f"NAME=VALUE for each of {', '.join(backbones)}",
        "list each searched backbone once",
    )
    return given


def image_sizes(specs: list[BackboneSpec], image_size: int | None, demo: bool) -> dict[str, int]:
    """``--image-size`` for every backbone, else each backbone's default (its minimum for the demo digits)."""
    sizes = {}
    for spec in specs:
        size = image_size or (spec.min_size if demo else spec.default_size)
        check(
            isinstance(size, int) and size >= spec.min_size,
            "image size too small for the backbone",
            size,
            f"an integer >= {spec.min_size} for {spec.name}",
            f"pass --image-size {max(spec.min_size, 32)} or more",
        )
        sizes[spec.name] = size
    return sizes


def check_workers(*, n_jobs: int, folds: int, repeats: int, heartbeat: int, storage: object) -> None:
    check(isinstance(n_jobs, int) and n_jobs >= 1, "bad --n-jobs", n_jobs, "an integer >= 1", "pass e.g. --n-jobs 2")
    check(
        isinstance(folds, int) and (folds == 1 or folds >= 2),
        "bad --folds",
        folds,
        "1 (one validation split) or an integer >= 2",
        "pass e.g. --folds 5",
    )
    check(isinstance(repeats, int) and repeats >= 1, "bad --repeats", repeats, "an integer >= 1", "pass --repeats 3")
    check(
        isinstance(heartbeat, int) and heartbeat >= 1,
        "bad --heartbeat",
        heartbeat,
        "whole seconds >= 1",
        "pass e.g. --heartbeat 10",
    )
    check(
        n_jobs == 1 or storage is None or isinstance(storage, str),
        "--n-jobs needs a storage URL",
        type(storage).__name__,
        "a URL string that other processes can open",
        "pass storage as a URL such as sqlite:///mlruns/optuna.db",
    )


def check_folds(folds: int, y_train: object) -> None:
    import numpy as np

    smallest = int(np.bincount(np.asarray(y_train)).min())
    check(
        folds <= smallest,
        "--folds is larger than the smallest class",
        folds,
        f"at most {smallest} (images of the smallest class in the training split)",
        f"pass --folds {max(2, min(5, smallest))} or fewer",
    )
