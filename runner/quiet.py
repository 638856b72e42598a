"""Only runner's own lines on a normal run: TensorFlow's C++ start-up lines (absl, oneDNN) are muted while it is
imported, MLflow's INFO logging and its registration notices are hidden, and so are the libraries' Python warnings.
``runner --verbose COMMAND`` (or ``RUNNER_VERBOSE=1``) shows them all. A leaf: imports nothing of runner."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def muted_fd2() -> Iterator[None]:
    """File descriptor 2 points at /dev/null inside the block: C++ code writing to stderr is silenced too."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with muted_fd2():
            self.inner.exec_module(module)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do and runs its import with stderr muted (once)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def optuna_errors_only() -> None:
    """When quiet: Optuna logs errors only (runner reports failed, pruned and interrupted trials itself). Optuna
    sets its own level when first imported, so this runs just before a search, not at start-up."""
    if os.environ.get("RUNNER_QUIET") == "1":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)


def install(verbose: bool) -> None:
    """Called by the CLI (and inherited by its helper processes through ``RUNNER_QUIET``)."""
    if verbose:
        return
    os.environ["RUNNER_QUIET"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow sets its loggers' level from it on import
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlow())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
