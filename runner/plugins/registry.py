"""Registries of backbones and heads.

Registering, listing and creating are separate (as in timm): ``@register_backbone("name")`` on a
function that returns a :class:`BackboneSpec` only records the function; ``names()`` lists names
without building anything; ``get("name")`` calls the function and checks the spec.

Sources, all lazy (nothing is imported until a name is requested or listed):
built-in families (the top-level ``backbones`` and ``heads`` packages), installed packages that
declare ``[project.entry-points."runner.backbones"]`` / ``"runner.heads"``, and plain files passed
with ``--code``. A plugin that fails to import or returns a bad spec fails loudly when requested,
naming the plugin and its package, and is listed as broken.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Generic, TypeVar

from runner.errors import RegistryError
from runner.plugins.specs import BackboneSpec, Head, check_name

T = TypeVar("T")


@dataclass
class Entry:
    name: str
    factory: Callable[[], object]
    source: str  # "builtin", "package==version (entry point)", or a file path
    broken: str | None = None  # why it cannot be used (import error, duplicate, bad spec)


class Registry(Generic[T]):
    def __init__(self, kind: str, builtin_module: str, group: str, check: Callable[[str, object], T]) -> None:
        self.kind = kind
        self.group = group  # entry-point group, e.g. "runner.backbones"
        self._builtin_module = builtin_module
        self._check = check
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, factory: Callable[[], object], source: str = "builtin") -> None:
        check_name(self.kind, name)
        old = self._entries.get(name)
        if old is not None and old.factory is not factory:
            raise RegistryError(
                f"duplicate {self.kind} name {name!r} (already registered by {old.source})",
                received=source,
                expected="a name not yet registered",
                fix="choose another name for the new registration",
            )
        self._entries[name] = Entry(name, factory, source)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        importlib.import_module(self._builtin_module)
        for ep in metadata.entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            source = f"{dist.name}=={dist.version}" if dist is not None else f"entry point {ep.value}"
            self._add_entry_point(ep, source)

    def _add_entry_point(self, ep: metadata.EntryPoint, source: str) -> None:
        def factory() -> object:
            try:
                fn = ep.load()
            except Exception as err:  # any import failure of third-party code is reported
                raise RegistryError(
                    f"{self.kind} plugin {ep.name!r} from {source} failed to import ({type(err).__name__}: {err})",
                    received=ep.value,
                    expected="an importable module:function",
                    fix=f"fix or uninstall the package {source.split('==')[0]}",
                ) from err
            return fn() if callable(fn) else fn

        try:
            check_name(self.kind, ep.name)
        except RegistryError as err:
            self._entries[f"{ep.name} [{source}]"] = Entry(ep.name, factory, source, broken=str(err))
            return
        old = self._entries.get(ep.name)
        if old is not None:
            reason = f"duplicate {self.kind} name {ep.name!r}: registered by {old.source} and by {source}"
            self._entries[ep.name] = Entry(ep.name, factory, f"{old.source} + {source}", broken=reason)
            return
        self._entries[ep.name] = Entry(ep.name, factory, source)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def set_source(self, name: str, source: str) -> None:
        """Say where an entry came from (``--code`` files: the file's path, not its generated module name)."""
        self.entry(name).source = source

    def entry(self, name: str) -> Entry:
        self._load()
        if name not in self._entries:
            close = difflib.get_close_matches(str(name), self._entries, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise RegistryError(
                f"unknown {self.kind}",
                received=name,
                expected=_known(sorted(self._entries), self.kind),
                fix=f"{hint}pick a registered {self.kind} name (list them with `runner {self.kind}s list`)",
            )
        return self._entries[name]

    def get(self, name: str) -> T:
        entry = self.entry(name)
        if entry.broken:
            raise RegistryError(
                f"{self.kind} {name!r} is broken: {entry.broken}",
                received=name,
                expected=f"a working {self.kind}",
                fix=f"fix or uninstall the plugin ({entry.source})",
            )
        try:
            made = entry.factory()
        except RegistryError:
            raise
        except Exception as err:  # a plugin's own failure, reported with its provenance
            raise RegistryError(
                f"{self.kind} {name!r} from {entry.source} failed ({type(err).__name__}: {err})",
                received=name,
                expected="a factory that returns a spec",
                fix=f"fix the plugin ({entry.source})",
            ) from err
        return self._check(name, made)

    def status(self) -> list[tuple[Entry, T | None]]:
        """Every entry with its spec, or None where it is broken (the reason is set on the entry)."""
        rows: list[tuple[Entry, T | None]] = []
        for name in self.names():
            entry = self._entries[name]
            try:
                rows.append((entry, self.get(name)))
            except RegistryError as err:
                entry.broken = entry.broken or str(err)
                rows.append((entry, None))
        return rows

    def decorator(self, name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
        def wrap(fn: Callable[[], object]) -> Callable[[], object]:
            self.register(name, fn, source=_source_of(fn))
            return fn

        return wrap


def _known(names: list[str], kind: str) -> str:
    if len(names) <= 12:
        return f"one of {', '.join(names)}"
    return f"one of {len(names)} registered {kind}s ({', '.join(names[:6])}, ...)"


def _source_of(fn: Callable[..., object]) -> str:
    module = getattr(fn, "__module__", "") or ""
    return "builtin" if module.split(".")[0] in ("backbones", "heads", "runner") else module


def _check_backbone(name: str, spec: object) -> BackboneSpec:
    if not isinstance(spec, BackboneSpec):
        raise RegistryError(
            f"backbone {name!r} returned a bad spec",
            received=type(spec).__name__,
            expected="a runner.BackboneSpec",
            fix="return BackboneSpec(...) from the registered function",
        )
    if spec.name != name:
        raise RegistryError(
            f"backbone registered as {name!r} returned a spec named differently",
            received=spec.name,
            expected=name,
            fix="make the spec's name match the registered name",
        )
    return spec


def _check_head(name: str, head: object) -> Head:
    if not isinstance(head, Head):
        raise RegistryError(
            f"head {name!r} returned a bad spec",
            received=type(head).__name__,
            expected="an instance of a runner.Head subclass",
            fix="return an instance of your Head subclass from the registered function",
        )
    head.name = name
    return head


backbones: Registry[BackboneSpec] = Registry("backbone", "backbones", "runner.backbones", _check_backbone)
heads: Registry[Head] = Registry("head", "heads", "runner.heads", _check_head)


def register_backbone(name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Decorator: ``@register_backbone("my_net")`` on a function returning a BackboneSpec."""
    return backbones.decorator(name)


def register_head(name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Decorator: ``@register_head("my_head")`` on a function returning a Head instance."""
    return heads.decorator(name)


def get_backbone(name: str) -> BackboneSpec:
    return backbones.get(name)


def get_head(name: str) -> Head:
    return heads.get(name)


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
    regs = (backbones, heads)
    before = [set(r.names()) for r in regs]
    module_name = f"runner_code_{path.stem}_{abs(hash(str(path)))}"
    if module_name in sys.modules:  # already loaded in this process
        return []
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except RegistryError:
        raise
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
