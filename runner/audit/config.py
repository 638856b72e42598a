"""``AuditConfig``: the options of ``runner audit``, with their defaults, help texts and checks."""

from __future__ import annotations

from dataclasses import dataclass

from runner.errors import require
from runner.options import option


@dataclass(frozen=True)
class AuditConfig:
    """Audit a labelled dataset on cached features: label issues, duplicates, leaks into --test, outliers."""

    data: str = option("demo", "Images to audit: class folders, Kaggle flat folder, .zip, CSV path,label, or 'demo'.")
    test: str | None = option(None, "A test set (any layout): images that repeat training images are leaks.")
    backbone: str = option("vgg16", "Backbone whose cached features the audit uses (as for runner search).")
    weights: str = option("imagenet", "imagenet | none | PATH to a Keras weights file.")
    image_size: int | None = option(None, "Input size in px (default: the backbone's; demo: its minimum).")
    folds: int = option(5, "Folds of the out-of-fold probabilities behind label issues.")
    model: str | None = option(
        None,
        "Score labels with a search's head configuration (its parent run id or registered model) instead of "
        "a linear head; its backbone, size and weights are used.",
    )
    similarity: float = option(0.85, "Cosine similarity of pooled features from which two images are near-duplicates.")
    out: str = option("audit", "Folder for report.html, the CSVs and audit.json.")
    seed: int = option(0, "Seed of the folds (and of random backbone weights).")
    tracking_uri: str | None = option(None, "MLflow URI (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db).")
    experiment: str = option("runner", "MLflow experiment of the audit run.")
    cache_dir: str | None = option(None, "Feature cache folder (default ~/.cache/runner).", envvar="RUNNER_CACHE_DIR")
    code: tuple[str, ...] = option((), "A .py file that registers backbones (repeatable).", type=list[str] | None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", tuple(str(c) for c in (self.code or ())))  # normalised once, frozen after
        f, s = self.folds, self.similarity
        require(isinstance(f, int) and f >= 2, "bad --folds", f, "an integer >= 2", "pass e.g. --folds 5")
        require(0.0 < s <= 1.0, "bad --similarity", s, "a cosine similarity in (0, 1]", "pass e.g. --similarity 0.85")
