"""Progress of the long steps on stderr: a rich progress bar (n of N, rate, elapsed, remaining) on a terminal; plain
lines, at most one every ``every`` seconds and one at the end, when stderr is a file or a pipe (CI logs, --json)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Steps:
    """One long step (``extracting features``, ``predicting``, ``trials``, an epoch loop): call it with how many of
    how many are done; ``note`` (the best score so far, a loss) is shown beside the bar. Lines that must stay
    (a trial's result) go through :meth:`line`, above the bar."""

    def __init__(self, what: str, unit: str = "img", console: Console | None = None, every: float = 10.0) -> None:
        self.what, self.unit, self.every = what, unit, every
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.live = self.console.is_terminal
        self.bar: Progress | None = None
        self.task: Any = None
        self.last = 0.0
        self.t0 = time.monotonic()

    def __call__(self, done: int, total: int, secs: float | None = None, note: str = "") -> None:
        if self.live:
            self._draw(done, total, note)
            return
        now = time.monotonic()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        secs = now - self.t0 if secs is None else secs
        rate = done / max(secs, 1e-9)
        eta = f"{(total - done) / rate:.0f}s" if rate > 0 else "?"
        tail = f"  {note}" if note else ""
        self.console.print(f"{self.what} {done}/{total}  {rate:.1f} {self.unit}/s  ETA {eta}{tail}", markup=False)

    def _draw(self, done: int, total: int, note: str) -> None:
        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("remaining"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}"),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total, note=note)
        self.bar.update(self.task, completed=done, total=total, note=note)
        if done >= total:
            self.close()

    def line(self, text: str) -> None:
        """A line that stays (above the bar while it is shown)."""
        (self.bar.console if self.bar is not None else self.console).print(text, markup=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
