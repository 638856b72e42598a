from __future__ import annotations

import numpy as np
import optuna
import pytest

from runner.plugins import registry


def _params(name: str, seed: int = 0) -> dict:
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
    return registry.get_head(name).suggest(trial)


def test_dense_search_space_is_the_issue_s() -> None:
    for seed in range(10):
        p = _params("dense", seed)
        assert p["pooling"] in ("flatten", "avg") and 32 <= p["width"] <= 1024 and 0 <= p["dropout"] <= 0.7
        assert 1e-5 <= p["learning_rate"] <= 1e-2 and p["optimizer"] in ("rmsprop", "adam")
        assert p["batch_size"] in (16, 32, 64, 128, 256)


def test_linear_is_one_regularised_layer() -> None:
    p = _params("linear")
    model = registry.get_head("linear").build((2, 2, 4), 2, p)
    dense = [layer for layer in model.layers if layer.name == "proba"][0]
    assert dense.kernel_regularizer is not None
    assert dense.kernel_regularizer.l2 == pytest.approx(p["l2"])
    assert sum(1 for layer in model.layers if layer.count_params()) == 1


def test_mlp_builds_its_sampled_depth() -> None:
    for seed in range(6):
        p = _params("mlp", seed)
        model = registry.get_head("mlp").build((2, 2, 4), 3, p)
        assert len([layer for layer in model.layers if layer.name.startswith("hidden_")]) == p["layers"]
        assert np.asarray(model(np.zeros((1, 2, 2, 4), "float32"))).shape == (1, 3)
