"""Figures: confusion matrix, ROC curve, a contact sheet of confident mistakes, and learning curves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion(matrix: np.ndarray, classes: list[str]) -> Any:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(classes), 1 + 0.6 * len(classes)))
    ax.imshow(matrix, cmap="Blues")
    for (r, c), v in np.ndenumerate(matrix):
        ax.text(c, r, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    return fig


def roc(y_true: np.ndarray, p_positive: np.ndarray, auc: float, positive: str) -> Any:
    from sklearn.metrics import roc_curve

    plt = _plt()
    fpr, tpr, _ = roc_curve(y_true, p_positive)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {auc:.4f}")
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC ({positive} positive)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def contact_sheet(images: list[np.ndarray], captions: list[str], cols: int = 4) -> Any:
    plt = _plt()
    rows = max(1, -(-len(images) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, cap in zip(axes.ravel(), images, captions, strict=False):
        ax.imshow(img)
        ax.set_title(cap, fontsize=8)
    if not images:
        axes[0, 0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    fig.suptitle("Most confidently misclassified")
    fig.tight_layout()
    return fig


def learning_curves(cl: MlflowClient, run_id: str, history: dict[str, list[float]]) -> None:
    """The reference recipe's two plots: accuracy and loss, train vs validation."""
    plt = _plt()
    for metric in ("accuracy", "loss"):
        if metric not in history:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        epochs = range(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], "bo", label=f"Training {metric}")
        ax.plot(epochs, history.get(f"val_{metric}", []), "b", label=f"Validation {metric}")
        ax.set_title(f"Training and validation {metric}")
        ax.set_xlabel("epoch")
        ax.legend()
        cl.log_figure(run_id, fig, f"plots/{metric}.png")
        plt.close(fig)


def reliability(y: np.ndarray, curves: dict[str, np.ndarray], n_classes: int, bins: int = 10) -> Any:
    """Reliability diagram: per confidence bin, the accuracy of the top class against its mean confidence, for
    each named set of probabilities (e.g. before and after temperature scaling)."""
    from runner.metrics import as_matrix

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", label="perfectly calibrated")
    for name, p in curves.items():
        m = as_matrix(p, n_classes)
        conf, hit = m.max(axis=1), m.argmax(axis=1) == y
        which = np.minimum((conf * bins).astype(int), bins - 1)
        used = [b for b in range(bins) if np.any(which == b)]
        ax.plot([conf[which == b].mean() for b in used], [hit[which == b].mean() for b in used], "o-", label=name)
    ax.set_xlabel("confidence (top class)")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability on validation predictions")
    ax.legend()
    fig.tight_layout()
    return fig
