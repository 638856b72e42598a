"""What a plugin author meets: a cache that sees the network, decorator + entry point, clashes with built-ins named
clearly, bad return values traced to their plugin, blocks for fine-tuning, and the guide's own examples."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import REPO, make_folders

import runner
from runner import data
from runner.errors import RegistryError
from runner.features import extract as features
from runner.features import identity
from runner.features.cache import FeatureCache
from runner.plugins import registry
from runner.plugins.code import load_code


def _spec(activation: str = "relu", filters: int = 16) -> runner.BackboneSpec:
    def build(shape: tuple[int, int, int], weights: str | None):
        import keras

        inp = keras.Input(shape)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation=activation)(inp)  # auto-named layers
        return keras.Model(inp, keras.layers.MaxPooling2D(2)(x))

    return runner.BackboneSpec(
        name="shape_net",
        build=build,
        preprocess="tf",
        default_size=16,
        min_size=16,
        feature_shape=lambda s: (s // 2, s // 2, filters),
        description="one conv layer",  # the same description for every variant
    )


def test_cache_key_sees_the_network_not_its_name(tmp_path: Path) -> None:
    ds = data.load_dataset(make_folders(tmp_path / "train", per_class=3))
    none = features.Weights("none", "random:seed=0")
    cache = FeatureCache(tmp_path / "cache")
    keys = {}
    for variant, spec in {"relu": _spec(), "tanh": _spec("tanh"), "8 filters": _spec(filters=8)}.items():
        entry, hit = features.get_features(ds, spec, 16, none, cache)
        assert not hit, f"{variant}: stale features reused"
        keys[variant] = entry.key
    assert len(set(keys.values())) == 3
    again, hit = features.get_features(ds, _spec(), 16, none, cache)  # built again: new auto-numbered layer names
    assert hit and again.key == keys["relu"]
    assert identity.cache_key(ds, _spec(), 16, none)[1]["architecture"] == identity.network_digest(_spec(), 16)


def _fresh(monkeypatch: pytest.MonkeyPatch, eps: list[metadata.EntryPoint]) -> registry.Registry:
    """The global backbone registry replaced by one with the built-ins and only ``eps`` as installed plugins."""
    registry.backbones.names()
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in eps if ep.group == group])
    reg = registry.Registry("backbone", "backbones", "runner.backbones", registry._check_backbone)
    for name in registry.backbones.names():
        entry = registry.backbones.entry(name)
        if entry.source == "builtin":
            reg.register(name, entry.factory)
    monkeypatch.setattr(registry, "backbones", reg)
    return reg


COMBO = """
import dataclasses
import runner

@runner.register_backbone("combo_net")
def combo_net():
    return dataclasses.replace(runner.get_backbone("tiny_cnn"), name="combo_net")
"""


def test_decorator_plus_entry_point_and_a_code_copy_are_one_plugin(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "combo_mod.py").write_text(COMBO)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "combo_mod", raising=False)
    reg = _fresh(monkeypatch, [metadata.EntryPoint("combo_net", "combo_mod:combo_net", "runner.backbones")])
    assert reg.get("combo_net").name == "combo_net"  # importing the module runs the decorator: not a duplicate
    assert reg.entry("combo_net").broken is None
    copy = tmp_path / "copy" / "combo_file.py"
    copy.parent.mkdir()
    copy.write_text(COMBO)
    assert load_code(copy) == []  # the same factory again: a no-op, not a clash
    other = tmp_path / "other_combo.py"
    other.write_text(COMBO.replace('"tiny_cnn"', '"mobilenet_v2_035"'))
    with pytest.raises(RegistryError, match=r"other_combo\.py: duplicate backbone name 'combo_net'") as err:
        load_code(other)
    assert "runner_code_" not in str(err.value)


def test_code_file_clashing_with_a_builtin_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad_clash.py"
    bad.write_text("import runner\n@runner.register_backbone('vgg16')\ndef mine():\n    return None\n")
    with pytest.raises(RegistryError) as err:
        load_code(bad)
    text = str(err.value)
    assert "bad_clash.py" in text and "vgg16" in text and "runner_code_" not in text
    assert registry.backbones.get("vgg16").family == "vgg"  # the built-in still works


def test_a_wrong_return_type_names_its_plugin(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "wrong_mod.py").write_text("def spec():\n    return 'not a spec'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = _fresh(monkeypatch, [metadata.EntryPoint("wrong_net", "wrong_mod:spec", "runner.backbones")])
    with pytest.raises(RegistryError, match=r"returned a bad spec \(from entry point wrong_mod:spec\)"):
        reg.get("wrong_net")
    heads = registry.Registry("head", "heads", "runner.heads", registry._check_head)
    monkeypatch.setattr(registry, "heads", heads)  # the broken head stays out of the other tests' listings
    code = tmp_path / "wrong_code.py"
    code.write_text("import runner\n@runner.register_head('wrong_head')\ndef wrong_head():\n    return 42\n")
    load_code(code)
    with pytest.raises(RegistryError, match=rf"bad spec \(from {re.escape(str(code.resolve()))}\)"):
        heads.get("wrong_head")


def test_blocks_for_fine_tuning_without_keras_names_and_with_a_spec_rule() -> None:
    import keras

    from runner.finetuning import unfreeze

    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="first")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(4, 3, name="second")(x)
    x = keras.layers.Conv2D(4, 3, name="third")(x)
    model = keras.Model(inp, x)
    assert [layer.name for layer in unfreeze.select(model, block_count=1)] == ["third"]  # one block per layer
    assert [layer.name for layer in unfreeze.select(model, block_count=2)] == ["second", "third"]
    rule = {"first": "low", "second": "high", "third": "high"}.get
    assert [layer.name for layer in unfreeze.select(model, block_count=1, block_of=rule)] == ["second", "third"]
    assert runner.FinetuneConfig(code=["x.py"]).code == ("x.py",)


def _guide_blocks() -> list[str]:
    text = (REPO / "docs" / "plugins.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_plugin_guide_runs(workdir: Path) -> None:
    """The Python blocks of docs/plugins.md as a reader uses them: the first saved as ``my_plugin.py``, the others
    run in order in one namespace (the contract suite, then a search with ``--code``) in a folder holding
    ``train/``; the registered model names where its backbone and head came from."""
    import mlflow

    blocks = _guide_blocks()
    assert len(blocks) >= 4
    plugin = workdir / "my_plugin.py"
    plugin.write_text(blocks[0])
    make_folders(workdir / "train", per_class=6)
    namespace: dict[str, object] = {"__name__": "guide"}
    for block in blocks[1:]:
        exec(compile(block, "docs/plugins.md", "exec"), namespace)
    result = namespace["result"]
    info = mlflow.models.get_model_info(f"models:/{result.registered_model['name']}/1")
    assert info.metadata["backbone"] == "shape_net" and info.metadata["head"] == "l2_dense"
    assert info.metadata["backbone_source"] == str(plugin.resolve()) == info.metadata["head_source"]
    assert namespace["tuned"].unfrozen == ["block3_conv"]  # fine-tuned with --code, its top block unfrozen
