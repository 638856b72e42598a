"""Plugins: entry points (lazy, with provenance), --code files, broken plugins listed as broken."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import make_folders

import runner
from runner.errors import RegistryError
from runner.plugins import registry
from runner.plugins.catalog import backbone_rows, head_rows
from runner.plugins.code import load_code


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def _fresh(monkeypatch: pytest.MonkeyPatch, eps: list[metadata.EntryPoint]) -> registry.Registry:
    registry.backbones.names()  # the built-in families (and real plugins), registered once per process
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in eps if ep.group == group])
    reg = registry.Registry("backbone", "backbones", "runner.backbones", registry._check_backbone)
    reg._entries = {n: e for n, e in registry.backbones._entries.items() if e.source == "builtin"}
    return reg


def test_entry_points_are_lazy_and_broken_ones_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "lazy_plugin_mod.py"
    pkg.write_text(
        "from runner.plugins.registry import get_backbone\ndef spec():\n    return get_backbone('tiny_cnn')\n"
        "def renamed():\n    import dataclasses\n    return dataclasses.replace(spec(), name='lazy_ok')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = _fresh(
        monkeypatch,
        [
            metadata.EntryPoint("lazy_ok", "lazy_plugin_mod:renamed", "runner.backbones"),
            metadata.EntryPoint("gone", "no_such_module_xyz:spec", "runner.backbones"),
            metadata.EntryPoint("vgg16", "lazy_plugin_mod:spec", "runner.backbones"),
            metadata.EntryPoint("Bad-Name", "lazy_plugin_mod:spec", "runner.backbones"),
        ],
    )
    assert "lazy_ok" in reg.names() and "gone" in reg.names()
    assert "lazy_plugin_mod" not in sys.modules  # listing names imports nothing
    assert reg.get("lazy_ok").name == "lazy_ok"
    with pytest.raises(RegistryError, match="plugin 'gone' .* failed to import .*ModuleNotFoundError"):
        reg.get("gone")
    assert reg.get("vgg16").family == "vgg" and reg.entry("vgg16").source == "builtin"  # the built-in wins
    assert len(reg.warnings) == 1 and "'vgg16' from" in reg.warnings[0] and "ignored" in reg.warnings[0]
    status = {e.name: (spec is not None, e.broken) for e, spec in reg.status()}
    assert status["lazy_ok"] == (True, None)
    assert status["gone"][0] is False and "ModuleNotFoundError" in status["gone"][1]
    assert status["Bad-Name"][0] is False and "invalid backbone name" in status["Bad-Name"][1]


def test_code_file_registers_backbone_and_head(tmp_path: Path, workdir: Path) -> None:
    code = tmp_path / "my_plugin.py"
    code.write_text(
        "import dataclasses\n"
        "from runner import register_backbone, register_head, get_backbone\n"
        "from heads.linear import LinearHead\n"
        "@register_backbone('code_tiny')\n"
        "def code_tiny():\n    return dataclasses.replace(get_backbone('tiny_cnn'), name='code_tiny')\n"
        "@register_head('code_linear')\n"
        "def code_linear():\n    return LinearHead()\n"
    )
    root = make_folders(workdir / "train", per_class=6)
    r = runner.search(
        str(root),
        backbone="code_tiny",
        head="code_linear",
        weights="none",
        image_size=16,
        trials=1,
        epochs=2,
        code=[str(code)],
    )
    assert r.backbone == "code_tiny" and r.head == "code_linear"
    assert registry.backbones.entry("code_tiny").source == str(code)
    from runner import tracking

    params = tracking.client(tracking.tracking_uri()).get_run(r.parent_run_id).data.params
    assert str(code) in params["sources"]  # provenance logged on every run
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(RegistryError, match="bad_plugin.py failed to import .*boom"):
        load_code(bad)


@pytest.mark.skipif(not _installed("runner-demo-plugin"), reason="pip install -e tests/fixtures/runner-demo-plugin")
def test_installed_demo_plugin_is_found_listed_and_searched(workdir: Path) -> None:
    rows = {r["name"]: r for r in backbone_rows()}
    assert rows["demo_convnet"]["source"] == "runner-demo-plugin==0.1.0" and rows["demo_convnet"]["status"] == "ok"
    assert {r["name"]: r["source"] for r in head_rows()}["demo_gap"] == "runner-demo-plugin==0.1.0"
    from runner.plugins.testing import check_backbone, check_head

    check_backbone(registry.get_backbone("demo_convnet"))
    check_head(registry.get_head("demo_gap"))
    root = make_folders(workdir / "train", per_class=6)
    r = runner.search(
        str(root),
        backbone="demo_convnet",
        head="demo_gap",
        weights="none",
        image_size=16,
        trials=2,
        epochs=2,
        ensemble=1,
        tta=False,
        refit=False,
    )
    assert r.backbone == "demo_convnet" and r.registered_model["version"] == 1
    from runner import tracking

    params = tracking.client(tracking.tracking_uri()).get_run(r.parent_run_id).data.params
    assert "runner-demo-plugin==0.1.0" in params["sources"]


@pytest.mark.skipif(not _installed("runner-broken-plugin"), reason="pip install -e tests/fixtures/runner-broken-plugin")
def test_installed_broken_plugin_is_listed_as_broken(tmp_path: Path) -> None:
    from test_cli import run

    out = run(["backbones", "list", "--json"], tmp_path)
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["broken_backbone"]["status"] == "broken" and "AttributeError" in rows["broken_backbone"]["reason"]
    assert rows["bad_spec_backbone"]["status"] == "broken" and "bad spec" in rows["bad_spec_backbone"]["reason"]
    assert rows["vgg16"]["status"] == "ok"
    err = run(["search", "--backbone", "broken_backbone", "--weights", "none"], tmp_path)
    assert err.returncode == 2 and "runner-broken-plugin" in err.stderr and "Traceback" not in err.stderr
