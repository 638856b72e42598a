from __future__ import annotations

import numpy as np
import pytest

from runner.plugins import preprocess


@pytest.mark.parametrize(
    ("mode", "module"),
    [("caffe", "vgg16"), ("tf", "mobilenet_v2"), ("torch", "densenet")],
)
def test_affine_equals_keras_preprocess_input(mode: str, module: str) -> None:
    import keras

    x = np.random.default_rng(0).uniform(0, 255, size=(2, 5, 5, 3)).astype("float32")
    expected = getattr(keras.applications, module).preprocess_input(x.copy())
    np.testing.assert_allclose(preprocess.apply(x, mode), expected, rtol=1e-5, atol=1e-3)
    layer = preprocess.layer(mode)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-3)


def test_caffe_swaps_to_bgr() -> None:
    red = np.zeros((1, 1, 3), "float32")
    red[..., 0] = 255.0
    out = preprocess.apply(red, "caffe")[0, 0]
    assert out[2] == pytest.approx(255.0 - 123.68) and out[0] == pytest.approx(-103.939)


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown preprocessing"):
        preprocess.affine("imagenet")
