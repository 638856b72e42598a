"""Contract checks that every backbone and head must pass; importable by plugin authors.

    from runner.plugins.testing import check_backbone, check_head
    check_backbone(my_spec)          # builds it with weights=None at its minimum size
    check_head(MyHead())             # builds it for 2 and for 5 classes from sampled parameters

Each check raises AssertionError with a message that names the entry and what was wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runner.plugins import preprocess
from runner.plugins.specs import BackboneSpec, Head


def check_backbone(spec: BackboneSpec, size: int | None = None, check_params: bool = True) -> Any:
    """Output shape matches the declared feature shape; preprocessing keeps shapes and dtypes."""
    size = size or spec.min_size
    model = spec.build((size, size, 3), None)
    got = tuple(int(d) for d in model.output_shape[1:])
    want = tuple(spec.feature_shape(size))
    assert got == want, f"{spec.name}: feature shape at {size} px is {got}, the spec declares {want}"
    if check_params and spec.params is not None:
        n = int(model.count_params())
        assert n == spec.params, f"{spec.name}: {n} parameters, the spec declares {spec.params}"
    x = np.random.default_rng(0).integers(0, 256, size=(2, size, size, 3)).astype("float32")
    pre = np.asarray(preprocess.layer(spec.preprocess)(x))
    assert pre.shape == x.shape and pre.dtype == np.float32, f"{spec.name}: preprocessing changed shape or dtype"
    np.testing.assert_allclose(pre, preprocess.apply(x, spec.preprocess), rtol=1e-5, atol=1e-3)
    out = np.asarray(model(pre[:1], training=False))
    assert out.shape == (1, *want) and np.all(np.isfinite(out)), f"{spec.name}: bad forward output"
    if spec.weights_file is not None:
        assert spec.weights_file(spec.default_size).endswith(".h5"), f"{spec.name}: bad weights file name"
        assert spec.weights_url is not None and spec.weights_url(spec.default_size).startswith("https://")
    return model


def check_head(head: Head, feature_shape: tuple[int, ...] = (3, 3, 8), samples: int = 5) -> None:
    """Builds for 2 and for K classes from several sampled parameter sets; outputs are probabilities; a head that
    says it only averages the map (:meth:`Head.pools`) gives the same outputs built on the averages."""
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    x = np.random.default_rng(0).normal(size=(4, *feature_shape)).astype("float32")
    for _ in range(samples):
        trial = study.ask()
        params = head.suggest(trial)
        assert isinstance(params, dict) and params, f"{head.name}: suggest() returned {params!r}"
        for n_classes in (2, 5):
            model = head.build(feature_shape, n_classes, params)
            out = np.asarray(model(x, training=False))
            width = 1 if n_classes == 2 else n_classes
            assert out.shape == (4, width), f"{head.name}: output {out.shape} for {n_classes} classes"
            assert np.all((out >= 0) & (out <= 1)), f"{head.name}: outputs are not probabilities"
            if n_classes > 2:
                np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-4)
            if head.pools(params):  # trained on averaged features, used on whole maps: the same function
                small = head.build((1, 1, feature_shape[-1]), n_classes, params)
                small.set_weights(model.get_weights())
                mean = x.mean(axis=(1, 2), keepdims=True)
                got = np.asarray(small(mean, training=False))
                np.testing.assert_allclose(got, out, rtol=1e-4, atol=1e-6, err_msg=f"{head.name}: pools() is wrong")
        assert int(head.batch_size(params)) > 0, f"{head.name}: bad batch size"
        assert head.optimizer(params) is not None, f"{head.name}: no optimizer"
        study.tell(trial, 0.0)
