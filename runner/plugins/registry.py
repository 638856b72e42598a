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
from typing import Generic, TypeVar

from runner.errors import RegistryError
from runner.plugins.specs import BackboneSpec, Head, check_name

T = TypeVar("T")
CODE_PREFIX = "runner_code_"  # the module name of a ``--code`` file


@dataclass
class Entry:
    name: str
    factory: Callable[[], object]
    source: str  # "builtin", "package==version (entry point)", or a file path
    broken: str | None = None  # why it cannot be used (import error, duplicate, bad spec)
    target: str | None = None  # an entry point's ``module:function``: the decorated function it names is the same


class Registry(Generic[T]):
    def __init__(self, kind: str, builtin_module: str, group: str, check: Callable[[str, object], T]) -> None:
        self.kind = kind
        self.group = group  # entry-point group, e.g. "runner.backbones"
        self._builtin_module = builtin_module
        self._check = check
        self._entries: dict[str, Entry] = {}
        self._loaded = False
        self.warnings: list[str] = []  # clashes that were resolved (a built-in kept), shown once in listings

    def register(self, name: str, factory: Callable[[], object], source: str = "builtin") -> None:
        """Record ``factory`` under ``name``. The same factory again (the same function, an entry point naming the
        decorated function, or a ``--code`` copy of an installed plugin's module) is a no-op; only a different
        factory under a taken name is a clash."""
        check_name(self.kind, name)
        old = self._entries.get(name)
        if old is not None and not _same(old, factory):
            raise RegistryError(
                f"duplicate {self.kind} name {name!r} (already registered by {old.source})",
                received=source,
                expected="a name not yet registered",
                fix=f"rename the {self.kind} in {source}",
            )
        if old is None:
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
        if old is not None and f"{getattr(old.factory, '__module__', '')}:{old.factory.__qualname__}" == ep.value:
            old.source, old.target = source, ep.value  # the decorated function the entry point names: one plugin
            return
        if old is not None and old.source == "builtin":  # built-ins win; the clash is reported in listings
            self.warnings.append(
                f"{self.kind} {ep.name!r} from {source} is ignored: a built-in {self.kind} has that name "
                f"(rename it in the package's entry points)"
            )
            return
        if old is not None:
            reason = f"duplicate {self.kind} name {ep.name!r}: registered by {old.source} and by {source}"
            self._entries[ep.name] = Entry(ep.name, factory, f"{old.source} + {source}", broken=reason)
            return
        self._entries[ep.name] = Entry(ep.name, factory, source, target=ep.value)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def source_of(self, name: str) -> str | None:
        """Where ``name`` came from (``builtin``, ``package==version``, a file path), or None if unregistered."""
        self._load()
        entry = self._entries.get(name)
        return entry.source if entry is not None else None

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
        try:
            return self._check(name, made)
        except RegistryError as err:  # a bad return value: say which plugin gave it
            raise RegistryError(
                f"{err.what} (from {entry.source})", received=err.received, expected=err.expected, fix=err.fix
            ) from None

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
    """``builtin``, a ``--code`` file's path, or the module that registered ``fn``."""
    module = getattr(fn, "__module__", "") or ""
    if module.split(".")[0] in ("backbones", "heads", "runner"):
        return "builtin"
    loaded = sys.modules.get(module)
    return str(getattr(loaded, "__file__", module)) if module.startswith(CODE_PREFIX) else module


def _same(old: Entry, factory: Callable[[], object]) -> bool:
    """Whether ``factory`` is what ``old`` already registers (see :meth:`Registry.register`)."""
    if old.factory is factory:
        return True
    qualname = getattr(factory, "__qualname__", "")
    if old.target is not None and old.target == f"{getattr(factory, '__module__', '')}:{qualname}":
        return True
    return _same_code(_target(old), factory)


def _target(entry: Entry) -> object:
    """The function an entry registers: an entry point's target (imported), else its factory."""
    if entry.target is None:
        return entry.factory
    module, _, attr = entry.target.partition(":")
    try:
        found: object = importlib.import_module(module)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found


def _same_code(a: object, b: object) -> bool:
    """Two functions with the same name, line and compiled body (a ``--code`` copy of a plugin's module)."""
    ca, cb = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if ca is None or cb is None or getattr(a, "__qualname__", 1) != getattr(b, "__qualname__", 2):
        return False
    same_place = ca.co_firstlineno == cb.co_firstlineno and ca.co_names == cb.co_names
    return same_place and ca.co_code == cb.co_code and ca.co_consts == cb.co_consts


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
