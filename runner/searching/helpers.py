"""``--n-jobs``: helper processes (spawned) that run trials of the same study under the main worker's id; their
trial lines and warnings are forwarded to the main process's events."""

from __future__ import annotations

import multiprocessing
import os
import queue as queues
import threading
import time
from collections.abc import Callable
from typing import Any

from runner import quiet
from runner.searching.config import SearchConfig
from runner.searching.worker import work

Event = Callable[[str, dict[str, Any]], None]


def _helper(config: SearchConfig, worker: str, events: Any) -> None:
    quiet.install(os.environ.get("RUNNER_QUIET") != "1")  # as quiet as the CLI that started it
    quiet.optuna_errors_only()

    def forward(kind: str, payload: dict[str, Any]) -> None:
        if kind in ("trial", "warning"):
            events.put((kind, payload))

    try:
        work(config, worker, forward)
    except KeyboardInterrupt:  # Ctrl+C reaches the whole process group: the main process reports it, once
        return


class Helpers:
    """``n`` extra processes running ``config``'s study as helpers of ``worker`` (they never finalize)."""

    def __init__(self, n: int, config: SearchConfig, worker: str, emit: Event) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.events = ctx.Queue()
        self.procs = [
            ctx.Process(target=_helper, args=(config, worker, self.events), name=f"runner-helper-{i}", daemon=True)
            for i in range(n)
        ]
        self.emit = emit
        self._stop = threading.Event()
        self._pump = threading.Thread(target=self._forward, daemon=True)
        for p in self.procs:
            p.start()
        self._pump.start()

    def _forward(self) -> None:
        while not self._stop.is_set():
            try:
                kind, payload = self.events.get(timeout=0.2)
            except queues.Empty:
                continue
            self.emit(kind, payload)

    def join(self, ok: bool) -> list[int]:
        """Wait for the helpers (terminate them if the main worker failed); returns their exit codes."""
        for p in self.procs:
            if not ok:
                p.terminate()
            p.join()
        time.sleep(0.3)
        self._stop.set()
        self._pump.join()
        return [p.exitcode or 0 for p in self.procs]
