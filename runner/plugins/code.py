"""``--code FILE.py``: a plain Python file whose ``@register_backbone`` / ``@register_head`` decorators add entries;
their source is the file's path (its content hash goes into the feature cache key)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

from runner.errors import RegistryError
from runner.plugins import registry
from runner.plugins.registry import CODE_PREFIX


def load_code(path: str | Path) -> list[str]:
    """Import a plain Python file (``--code``) whose decorators register backbones and heads.

    Returns the names it added; their source is the file's path.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise RegistryError(
            "plugin file not found",
            received=str(path),
            expected="an existing .py file",
            fix="check the path given to --code",
        )
    regs = (registry.backbones, registry.heads)
    before = [set(r.names()) for r in regs]
    module_name = f"{CODE_PREFIX}{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if module_name in sys.modules:  # already loaded in this process
        return []
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except RegistryError as err:
        del sys.modules[module_name]
        raise RegistryError(
            f"plugin file {path.name}: {err.what}", received=str(path), expected=err.expected, fix=err.fix
        ) from None
    except Exception as err:  # report any failure of the user's file in one line
        del sys.modules[module_name]
        raise RegistryError(
            f"plugin file {path.name} failed to import ({type(err).__name__}: {err})",
            received=str(path),
            expected="a file that imports cleanly",
            fix="run it with python to see the full error",
        ) from err
    added = []
    for reg, old in zip(regs, before, strict=True):
        for name in sorted(set(reg.names()) - old):
            reg.set_source(name, str(path))
            added.append(name)
    return added
