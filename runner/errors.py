"""User-facing errors: one line that says what was received, what was expected and how to fix it."""

from __future__ import annotations


class RunnerError(Exception):
    """A mistake the user can fix. The CLI prints ``str(err)`` on one line and exits non-zero."""

    def __init__(self, what: str, *, received: object = None, expected: str = "", fix: str = "") -> None:
        self.what = what
        self.received = received
        self.expected = expected
        self.fix = fix
        parts = [what.rstrip(".")]
        if received is not None:
            parts.append(f"received {received!r}")
        if expected:
            parts.append(f"expected {expected}")
        if fix:
            parts.append(f"fix: {fix}")
        super().__init__("; ".join(parts).replace("\n", " "))


class DataError(RunnerError):
    """The images or labels cannot be used as given."""


class WeightsError(RunnerError):
    """Backbone weights are missing or unusable."""


class RegistryError(RunnerError):
    """An unknown, duplicate or broken backbone or head."""


def require(cond: bool, what: str, received: object, expected: str, fix: str) -> None:
    """Raise a :class:`RunnerError` (what / received / expected / fix) unless ``cond`` holds."""
    if not cond:
        raise RunnerError(what, received=received, expected=expected, fix=fix)
