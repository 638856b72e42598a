"""The contract suite over the whole built-in catalogue, with weights=None at each model's minimum size.

Entries over 30M parameters are marked ``heavy`` and deselected by default (run them with -m heavy).
"""

from __future__ import annotations

import pytest

from runner.plugins import registry
from runner.plugins.testing import check_backbone, check_head

NAMES = registry.backbones.names()
BUILTIN = [n for n in NAMES if registry.backbones.entry(n).source == "builtin"]
HEAVY_PARAMS = 30_000_000


def _param(name: str):
    spec = registry.get_backbone(name)
    heavy = spec.params is None or spec.params > HEAVY_PARAMS
    return pytest.param(name, marks=pytest.mark.heavy) if heavy else name


@pytest.mark.parametrize("name", [_param(n) for n in BUILTIN])
def test_backbone_contract(name: str) -> None:
    import keras

    spec = registry.get_backbone(name)
    check_backbone(spec)
    assert spec.feature_shape(spec.default_size)[2] == spec.feature_shape(spec.min_size)[2]
    keras.backend.clear_session()


def test_catalogue_covers_keras_applications() -> None:
    expected = {
        "vgg16",
        "vgg19",
        "resnet50",
        "resnet101",
        "resnet152",
        "resnet50_v2",
        "resnet101_v2",
        "resnet152_v2",
        "inception_v3",
        "inception_resnet_v2",
        "xception",
        "mobilenet",
        "mobilenet_025",
        "mobilenet_050",
        "mobilenet_075",
        "mobilenet_v2",
        "mobilenet_v2_035",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
        "densenet121",
        "densenet169",
        "densenet201",
        "nasnet_mobile",
        "nasnet_large",
        *(f"efficientnet_b{i}" for i in range(8)),
        *(f"efficientnet_v2_{v}" for v in ("b0", "b1", "b2", "b3", "s", "m", "l")),
        *(f"convnext_{s}" for s in ("tiny", "small", "base", "large", "xlarge")),
    }
    assert expected <= set(BUILTIN)
    for name in BUILTIN:
        spec = registry.get_backbone(name)
        assert spec.params is not None, f"{name} declares no parameter count"
        if name != "tiny_cnn":
            assert spec.weights_file is not None and spec.licence, name


@pytest.mark.parametrize("name", ["dense", "linear", "mlp"])
def test_head_contract(name: str) -> None:
    check_head(registry.get_head(name))
