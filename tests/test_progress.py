"""Progress of long steps: a rich bar on a terminal; plain, throttled lines in logs and pipes."""

from __future__ import annotations

import io

from rich.console import Console

from runner.cli.progress import Steps


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, color_system=None), out


def test_a_terminal_gets_a_bar_with_counts_remaining_time_and_a_note() -> None:
    console, out = _console(True)
    steps = Steps("trials", unit="trial", console=console)
    assert steps.live
    steps.line("trial   0  val_log_loss 0.1000")
    for done in range(1, 5):
        steps(done, 4, note=f"best 0.{done}")
    text = out.getvalue()
    assert "trials" in text and "4/4" in text and "100%" in text and "best 0.4" in text and "remaining" in text
    assert "trial   0  val_log_loss 0.1000" in text and steps.bar is None  # closed at the end


def test_a_log_gets_throttled_plain_lines_and_the_last_one() -> None:
    console, out = _console(False)
    steps = Steps("predicting", console=console, every=3600)
    assert not steps.live
    for done in range(0, 101, 10):
        steps(done, 100, secs=done / 50)
    lines = out.getvalue().splitlines()
    assert lines == ["predicting 0/100  0.0 img/s  ETA ?", "predicting 100/100  50.0 img/s  ETA 0s"]
