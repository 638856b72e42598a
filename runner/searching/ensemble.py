"""How the finished trials become one model, decided on their validation (out-of-fold) predictions: greedy ensemble
selection with replacement (Caruana et al. 2004), test-time augmentation with mirror images, temperature scaling.

Pure NumPy/SciPy on stored predictions: no model is trained or run here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from runner.metrics import checked_temperature, classification_metrics, ece, scale
from runner.searching.probe import member_name

OUT_OF_FOLD = "out-of-fold"  # Blend.decided_on: the candidates' cross-fitted predictions (searching/honest.py)


@dataclass
class Blend:
    """The decisions and the validation scores that justify them, stage by stage."""

    members: dict[int, float]  # trial number (or the probe's PROBE) -> weight (sums to 1)
    first: int | None = None  # the member the greedy selection started from (fine-tuning starts there)
    decided_on: str = "validation"  # or OUT_OF_FOLD
    tta: bool = False
    temperature: float = 1.0
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # stage -> validation metrics
    ece: dict[str, float] = field(default_factory=dict)  # expected calibration error before / after
    curves: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # validation probabilities, "y"

    def summary(self) -> dict[str, object]:
        """What the parent run and ``--json`` report."""
        return {
            "members": {member_name(t): round(w, 4) for t, w in self.members.items()},
            "decided_on": self.decided_on,
            "tta": self.tta,
            "temperature": round(self.temperature, 4),
            "val_scores": self.scores,
            "ece": self.ece,
        }


def score_key(metrics: dict[str, float], metric: str) -> tuple[float, float]:
    """Smaller is better: log loss; or accuracy first, then log loss."""
    if metric == "accuracy":
        return (-metrics["accuracy"], metrics["log_loss"])
    return (metrics["log_loss"], -metrics["accuracy"])


def mix(preds: dict[int, np.ndarray], weights: dict[int, float]) -> np.ndarray:
    return sum(w * preds[t] for t, w in weights.items())  # type: ignore[return-value]


def greedy(
    preds: dict[int, np.ndarray], y: np.ndarray, n_classes: int, first: int, k: int, metric: str
) -> dict[int, float]:
    """Start from ``first`` (the study's best trial), add up to ``k - 1`` trials (with replacement), each the one
    that most improves the mean's score, and keep the best prefix; weights = times chosen / prefix length."""
    chosen, total = [first], preds[first].astype(np.float64)
    best, best_len = score_key(classification_metrics(y, total, n_classes), metric), 1
    for _ in range(k - 1):
        n = len(chosen) + 1
        scored = {t: score_key(classification_metrics(y, (total + p) / n, n_classes), metric) for t, p in preds.items()}
        t = min(scored, key=lambda t: (scored[t], t))
        chosen.append(t)
        total = total + preds[t]
        if scored[t] < best:
            best, best_len = scored[t], n
    counts = Counter(chosen[:best_len])
    return {t: c / best_len for t, c in sorted(counts.items())}


def decide(
    plain: dict[int, np.ndarray],
    mirror: dict[int, np.ndarray] | None,
    y: np.ndarray,
    n_classes: int,
    best: int,
    k: int,
    metric: str,
    calibrate: bool,
    members: dict[int, float] | None = None,
    soften_only: bool = False,
) -> Blend:
    """Ensemble (``members`` when chosen already), then TTA (kept only when it improves the metric), then
    temperature (kept when it lowers log loss; ``soften_only``: T >= 1, see :func:`checked_temperature`)."""

    def metrics(p: np.ndarray) -> dict[str, float]:
        return classification_metrics(y, p, n_classes)

    blend = Blend(members or greedy(plain, y, n_classes, best, k, metric), first=best)
    blend.scores["best_single"] = metrics(plain[best])
    p = mix(plain, blend.members)
    blend.scores["ensemble"] = metrics(p)
    if mirror is not None:
        p_tta = mix({t: (plain[t] + mirror[t]) / 2 for t in blend.members}, blend.members)
        blend.scores["tta"] = metrics(p_tta)
        blend.tta = score_key(blend.scores["tta"], metric) < score_key(blend.scores["ensemble"], metric)
        p = p_tta if blend.tta else p
    blend.ece["before"] = ece(p, y, n_classes)
    blend.curves = {"y": y, "before": p}
    if calibrate:  # kept only when it lowers log loss on held-out validation rows
        t = checked_temperature(p, y, n_classes, soften_only=soften_only)
        if t != 1.0:
            blend.temperature, p = t, scale(p, t)
        blend.scores["calibrated"] = metrics(p)
    blend.ece["after"] = ece(p, y, n_classes)
    blend.curves["after"] = p
    return blend
