"""The architecture as the README's "Layout" draws it: no import cycle among runner's modules (imports inside
functions included), dependencies pointing one way between subpackages, no module over 300 lines, no private
module or attribute of another library, and a cheap ``import runner``."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[1] / "runner"

# what each part may import (besides itself and the leaves): the README's "Layout" section, as data
LEAVES = {
    "runner.errors",
    "runner.locks",
    "runner.metrics",
    "runner.options",
    "runner.quiet",
    "runner.interrupts",
    "runner.memory",
}
PUBLIC_UNDERSCORED = {"os._exit"}  # documented public names that start with an underscore
ALLOWED = {
    "data": set(),
    "plugins": set(),
    "tracking": set(),
    "features": {"data", "plugins"},
    "use": {"data", "features", "tracking"},
    "searching": {"data", "features", "plugins", "tracking"},
    "finetuning": {"data", "features", "plugins", "tracking", "use"},
    "audit": {"data", "features", "plugins", "tracking", "use", "searching"},
    "cli": {"data", "features", "plugins", "tracking", "use", "searching", "finetuning", "audit", "api"},
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(RUNNER.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in RUNNER.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every runner module this file imports, at any depth of the file (functions, TYPE_CHECKING blocks)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "runner"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "runner":
            for a in node.names:  # ``from runner.x import y`` is module runner.x.y when that is a module
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in known else node.module)
    return found & known


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(path, set(mods)) - {name} for name, path in mods.items()}


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_dependencies_point_one_way() -> None:
    """Each subpackage imports only the leaves and the parts the README lets it use (CLI -> API -> parts)."""
    bad = []
    for module, targets in _graph().items():
        if module in LEAVES:
            assert targets <= {"runner.errors"}, f"{module} is a leaf but imports {targets}"
            continue
        if module == "runner":
            continue  # the API: it exports from every part
        here = module.split(".")[1]
        for target in targets:
            if target in LEAVES:
                continue
            there = "api" if target == "runner" else target.split(".")[1]
            if there != here and there not in ALLOWED[here]:
                bad.append(f"{module} -> {target}")
    assert not bad, "imports against the layout: " + ", ".join(sorted(bad))


def test_modules_stay_short() -> None:
    long = {name: n for name, p in _modules().items() if (n := len(p.read_text().splitlines())) > 300}
    assert not long, f"modules over 300 lines: {long}"


def test_no_private_module_or_attribute_of_another_library() -> None:
    """``from optuna.storages._heartbeat import ...`` or ``study._storage``: only public APIs of other libraries."""
    private_module = re.compile(r"^\s*(from|import)\s+(?!runner\b|backbones\b|heads\b)[\w.]*\._\w+", re.M)
    private_attr = re.compile(r"(?<![\w.])(?!self\b|cls\b)[a-z]\w*\._[a-z]\w*")
    found = []
    for path in RUNNER.rglob("*.py"):
        text = path.read_text()
        found += [f"{path.name}: {m.group(0).strip()}" for m in private_module.finditer(text)]
        found += [
            f"{path.name}: {m.group(0)}" for m in private_attr.finditer(text) if m.group(0) not in PUBLIC_UNDERSCORED
        ]
    assert not found, found


def test_import_runner_is_cheap() -> None:
    """``import runner`` (and the CLI module) loads none of TensorFlow, Keras, MLflow, Optuna."""
    code = (
        "import sys, runner, runner.cli.main; "
        "print(','.join(m for m in ('tensorflow', 'keras', 'mlflow', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at `import runner`: {out.stdout.strip()}"


def test_search_config_is_the_one_list_of_options() -> None:
    """Every ``runner search`` option is a SearchConfig field (plus --json), and the API takes the same config."""
    import inspect

    import runner
    from runner.cli.search import search as search_cmd
    from runner.searching.config import SearchConfig

    fields = [f.name for f in runner.SearchConfig.__dataclass_fields__.values()]
    cli = [p for p in inspect.signature(search_cmd).parameters if p != "as_json"]
    assert cli == fields
    assert runner.SearchConfig is SearchConfig
    with pytest.raises(runner.RunnerError, match="bad --trials"):
        SearchConfig(trials=0)
    with pytest.raises(TypeError):
        runner.search(SearchConfig(), trials=3)
