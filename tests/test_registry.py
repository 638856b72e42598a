from __future__ import annotations

import pytest

from runner.errors import RegistryError
from runner.plugins import registry
from runner.plugins.specs import BackboneSpec

CORE = [
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
    builtin = [n for n in registry.backbones.names() if registry.backbones.entry(n).source == "builtin"]
    assert set(CORE) <= set(builtin) and builtin == sorted(builtin)
    assert {"dense", "linear", "mlp"} <= set(registry.heads.names())


def test_unknown_name_suggests() -> None:
    with pytest.raises(RegistryError, match="did you mean vgg19, vgg16"):
        registry.get_backbone("vgg61")


def test_duplicate_and_invalid_names() -> None:
    reg = registry.Registry("backbone", "backbones", "runner.backbones", registry._check_backbone)
    reg.register("mine", lambda: None, source="pkg_a")
    with pytest.raises(RegistryError, match="duplicate backbone name 'mine'.*pkg_a"):
        reg.register("mine", lambda: None, source="pkg_b")
    with pytest.raises(RegistryError, match="invalid backbone name"):
        reg.register("My-Net", lambda: None)


def test_bad_specs_fail_loudly() -> None:
    reg = registry.Registry("backbone", "backbones", "runner.backbones", registry._check_backbone)
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
    heads = registry.Registry("head", "heads", "runner.heads", registry._check_head)
    heads.register("nohead", lambda: object())
    with pytest.raises(RegistryError, match="Head subclass"):
        heads.get("nohead")


@pytest.mark.parametrize("name", CORE)
def test_core_backbone_shapes(name: str) -> None:
    """Declared feature shape matches the real model at the minimum size (weights=None)."""
    spec = registry.get_backbone(name)
    model = spec.build((spec.min_size, spec.min_size, 3), None)
    assert tuple(model.output_shape[1:]) == spec.feature_shape(spec.min_size)
    if name == "vgg16":
        assert spec.feature_shape(150) == (4, 4, 512)
    if spec.weights_file is not None:
        assert spec.weights_file(224).endswith(".h5")
