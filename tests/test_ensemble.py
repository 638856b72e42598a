"""How finished trials become one model: greedy ensemble selection, test-time augmentation, temperature scaling
(decided on stored predictions), and the end-to-end model that applies exactly those decisions."""

from __future__ import annotations

import numpy as np
import pytest

from runner.metrics import checked_temperature, classification_metrics, ece, scale
from runner.searching.ensemble import decide, greedy


def _noisy(y: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """P(class 1) that is right on average, with independent noise per 'trial'."""
    rng = np.random.default_rng(seed)
    logit = np.where(y == 1, 1.5, -1.5) + rng.normal(0, noise, len(y))
    return (1 / (1 + np.exp(-logit)))[:, None]


def test_greedy_starts_from_the_best_and_averages_independent_errors() -> None:
    y = np.random.default_rng(0).integers(0, 2, 400)
    preds = {t: _noisy(y, 2.0, t) for t in range(6)}
    best = min(preds, key=lambda t: classification_metrics(y, preds[t], 2)["log_loss"])
    assert greedy(preds, y, 2, best, 1, "log_loss") == {best: 1.0}  # --ensemble 1: today's single best
    weights = greedy(preds, y, 2, best, 5, "log_loss")
    assert best in weights and len(weights) > 1 and abs(sum(weights.values()) - 1) < 1e-9
    mixed = sum(w * preds[t] for t, w in weights.items())
    assert classification_metrics(y, mixed, 2)["log_loss"] < classification_metrics(y, preds[best], 2)["log_loss"]


def test_greedy_keeps_one_member_when_others_only_hurt() -> None:
    y = np.random.default_rng(1).integers(0, 2, 200)
    good = np.where(y == 1, 0.9, 0.1)[:, None]
    bad = np.full_like(good, 0.5)
    assert greedy({0: bad, 3: good, 5: bad}, y, 2, 3, 5, "log_loss") == {3: 1.0}


def test_mirror_averaging_kept_only_when_it_helps() -> None:
    y = np.random.default_rng(2).integers(0, 2, 300)
    plain = {0: _noisy(y, 2.0, 0)}
    helps = decide(plain, {0: _noisy(y, 2.0, 9)}, y, 2, 0, 1, "log_loss", calibrate=False)
    assert helps.tta and helps.scores["tta"]["log_loss"] < helps.scores["ensemble"]["log_loss"]
    hurts = decide(plain, {0: 1 - plain[0]}, y, 2, 0, 1, "log_loss", calibrate=False)
    assert not hurts.tta and "tta" in hurts.scores


def test_temperature_softens_overconfidence_and_leaves_separable_rows_alone() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 600)
    logit = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.0, len(y))
    overconfident = (1 / (1 + np.exp(-4 * logit)))[:, None]
    t = checked_temperature(overconfident, y, 2)
    assert t > 1.5  # softer: the scores were 4x too sharp
    before, after = (classification_metrics(y, p, 2)["log_loss"] for p in (overconfident, scale(overconfident, t)))
    assert after < before and ece(scale(overconfident, t), y, 2) < ece(overconfident, y, 2)
    separable = np.where(y == 1, 0.9, 0.1)[:, None]
    assert checked_temperature(separable, y, 2) == 1.0  # no mistakes to learn a sharper scale from
    few = y[:6]
    assert checked_temperature(overconfident[:6], few, 2) == 1.0  # too few rows to check on held-out folds
    underconfident = (1 / (1 + np.exp(-0.3 * logit)))[:, None]
    assert checked_temperature(underconfident, y, 2) < 0.8  # sharper: the scores were too soft
    assert checked_temperature(underconfident, y, 2, soften_only=True) == pytest.approx(1.0, abs=1e-3)
    assert checked_temperature(overconfident, y, 2, soften_only=True) == pytest.approx(t, rel=1e-4)  # softening: yes


def test_scale_matches_the_softmax_form() -> None:
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert np.allclose(scale(p, 1.0), p)
    assert np.allclose(scale(p, 2.0).sum(axis=1), 1) and scale(p, 2.0)[0, 0] < 0.7
    binary = np.array([[0.8], [0.3]])
    two = scale(np.hstack([1 - binary, binary]), 2.0)
    assert np.allclose(scale(binary, 2.0)[:, 0], two[:, 1])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_blend_layer_computes_what_the_decisions_say(n_classes: int) -> None:
    """The model's Blend layer = weighted mean of members, then the temperature, as the NumPy decisions assume."""
    import keras

    from runner.features.layers import custom_layers

    rng = np.random.default_rng(4)
    width = 1 if n_classes == 2 else n_classes
    raw = [rng.random((5, width)).astype("float32") for _ in range(3)]
    members = [r if width == 1 else r / r.sum(axis=1, keepdims=True) for r in raw]
    weights = [0.5, 0.3, 0.2]
    inputs = [keras.Input((width,)) for _ in members]
    model = keras.Model(inputs, custom_layers().Blend(weights, 1.7)(inputs))
    got = np.asarray(model.predict_on_batch(members))
    want = scale(sum(w * m for w, m in zip(weights, members, strict=True)), 1.7)
    assert np.allclose(got, want, atol=1e-5)
