from __future__ import annotations

import numpy as np
import pytest

from runner import registry
from runner.errors import RegistryError
from runner.specs import BackboneSpec, Head

BUILTIN = [
    "mobilenet_v2",
    "mobilenet_v2_035",
    "mobilenet_v2_050",
    "mobilenet_v2_075",
    "mobilenet_v2_130",
    "mobilenet_v2_140",
    "tiny_cnn",
    "vgg16",
]


def test_builtin_names_listed_without_building() -> None:
    assert registry.backbones.names() == BUILTIN
    assert registry.heads.names() == ["dense"]


def test_unknown_name_suggests() -> None:
    with pytest.raises(RegistryError, match="did you mean vgg16"):
        registry.get_backbone("vgg61")


def test_duplicate_and_invalid_names() -> None:
    reg = registry.Registry("backbone", "backbones", registry._check_backbone)
    reg.register("mine", lambda: None, source="pkg_a")
    with pytest.raises(RegistryError, match="duplicate backbone name 'mine'.*pkg_a"):
        reg.register("mine", lambda: None, source="pkg_b")
    with pytest.raises(RegistryError, match="invalid backbone name"):
        reg.register("My-Net", lambda: None)


def test_bad_specs_fail_loudly() -> None:
    reg = registry.Registry("backbone", "backbones", registry._check_backbone)
    reg.register("broken", lambda: "not a spec")
    with pytest.raises(RegistryError, match="returned a bad spec"):
        reg.get("broken")
    with pytest.raises(RegistryError, match="unknown preprocessing"):
        BackboneSpec(
            "x",
            build=lambda s, w: None,
            preprocess="imagenet",
            default_size=32,
            min_size=8,
            feature_shape=lambda s: (1, 1, 1),
        )
    heads = registry.Registry("head", "heads", registry._check_head)
    heads.register("nohead", lambda: object())
    with pytest.raises(RegistryError, match="Head subclass"):
        heads.get("nohead")


@pytest.mark.parametrize("name", BUILTIN)
def test_backbone_contract(name: str) -> None:
    """Declared feature shape matches the real model at the minimum size (weights=None)."""
    spec = registry.get_backbone(name)
    model = spec.build((spec.min_size, spec.min_size, 3), None)
    assert tuple(model.output_shape[1:]) == spec.feature_shape(spec.min_size)
    if name == "vgg16":
        assert spec.feature_shape(150) == (4, 4, 512)
    if spec.weights_file is not None:
        assert spec.weights_file(224).endswith(".h5")


@pytest.mark.parametrize("n_classes", [2, 5])
def test_dense_head_contract(n_classes: int) -> None:
    import optuna

    head = registry.get_head("dense")
    assert isinstance(head, Head)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    params = head.suggest(trial)
    assert 32 <= params["width"] <= 1024 and 0 <= params["dropout"] <= 0.7
    model = head.build((2, 2, 8), n_classes, params)
    out = np.asarray(model(np.zeros((3, 2, 2, 8), "float32")))
    assert out.shape == (3, 1 if n_classes == 2 else n_classes)
    assert head.batch_size(params) in (16, 32, 64, 128, 256)
    assert head.optimizer(params).learning_rate.numpy() == pytest.approx(params["learning_rate"])
