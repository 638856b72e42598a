"""Registries of backbones and heads.

Registering, listing and creating are separate (as in timm): ``@register_backbone("name")`` on a
function that returns a :class:`BackboneSpec` only records the function; ``backbone_names()`` lists
names without building anything; ``get_backbone("name")`` calls the function and checks the spec.
Built-in families (the top-level ``backbones`` and ``heads`` packages) are imported on first use.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from runner.errors import RegistryError
from runner.specs import BackboneSpec, Head, check_name

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[[], object]
    source: str  # where it came from: "builtin", a package name, or a file


class Registry(Generic[T]):
    def __init__(self, kind: str, builtin_module: str, check: Callable[[str, object], T]) -> None:
        self.kind = kind
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
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self._builtin_module)

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        self._load()
        if name not in self._entries:
            close = difflib.get_close_matches(str(name), self._entries, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise RegistryError(
                f"unknown {self.kind}",
                received=name,
                expected=f"one of {', '.join(sorted(self._entries))}",
                fix=f"{hint}pick a registered {self.kind} name",
            )
        return self._entries[name]

    def get(self, name: str) -> T:
        entry = self.entry(name)
        return self._check(name, entry.factory())

    def decorator(self, name: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
        def wrap(fn: Callable[[], object]) -> Callable[[], object]:
            self.register(name, fn, source=getattr(fn, "__module__", "builtin") or "builtin")
            return fn

        return wrap


def _check_backbone(name: str, spec: object) -> BackboneSpec:
    if not isinstance(spec, BackboneSpec):
        raise RegistryError(
            f"backbone {name!r} returned a bad spec",
            received=type(spec).__name__,
            expected="a runner.specs.BackboneSpec",
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
            expected="an instance of a runner.specs.Head subclass",
            fix="return an instance of your Head subclass from the registered function",
        )
    head.name = name
    return head


backbones: Registry[BackboneSpec] = Registry("backbone", "backbones", _check_backbone)
heads: Registry[Head] = Registry("head", "heads", _check_head)


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
