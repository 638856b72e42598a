"""Ctrl+C that always stops: the CLI installs :class:`Interrupts` as the SIGINT handler. The first Ctrl+C raises
KeyboardInterrupt and stays pending, so an interrupt that Python swallowed (raised inside a finalizer such as
TensorFlow's ``AtomicFunction.__del__``) is raised again at the next safe point (:func:`check`: every epoch, trial
and extraction batch); a second Ctrl+C while cleaning up exits at once (status 130). The state lives in the
installed handler, not in this module. A leaf: imports nothing of runner."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


class Interrupts:
    def __init__(self) -> None:
        self.count = 0
        self.reported = False  # the command printed its own "interrupted: ..." line

    @property
    def pending(self) -> bool:
        return self.count > 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count > 1:
            sys.stderr.write("\ninterrupted again: stopped at once\n")
            sys.stderr.flush()
            os._exit(130)
        raise KeyboardInterrupt

    def install(self) -> None:
        signal.signal(signal.SIGINT, self)
        default_hook = sys.unraisablehook

        def hook(unraisable: Any) -> None:  # "Exception ignored in ...__del__: KeyboardInterrupt": kept pending
            if not isinstance(unraisable.exc_value, KeyboardInterrupt):
                default_hook(unraisable)

        sys.unraisablehook = hook


def reported() -> None:
    """Say that the interruption was reported (the CLI then prints no generic line)."""
    handler = signal.getsignal(signal.SIGINT)
    if isinstance(handler, Interrupts):
        handler.reported = True


def check() -> None:
    """Raise KeyboardInterrupt if a Ctrl+C arrived and was lost on its way (see the module's docstring)."""
    handler = signal.getsignal(signal.SIGINT)
    if isinstance(handler, Interrupts) and handler.pending:
        raise KeyboardInterrupt
