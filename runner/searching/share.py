"""A worker's share of a study: exact totals across any number of workers, and which worker finishes the study
(and registers the model).

The total is kept exact without a lock: Optuna numbers trials atomically, and trial N runs only if fewer than
``total`` counted trials (complete, pruned, running or queued) have a smaller number; otherwise it is marked
``surplus`` and fails before any work (that only happens when workers race for the last trial).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from runner import interrupts
from runner.searching import study as studies


class Surplus(Exception):
    """Raised inside a trial started after the study had reached its total (by another worker)."""


def run_share(
    st: Any, objective: Callable[[Any], float], total: int, timeout: float | None, worker: str, wait: bool
) -> int:
    """Run trials until the study has ``total`` of them (counted across all workers); returns how many ran here.

    ``wait``: the storage has heartbeats, so when only other workers' trials are left this worker waits for them,
    picking up the retry of any whose worker died.
    """
    import optuna
    from optuna.storages import fail_stale_trials

    warnings.filterwarnings("ignore", ".*fail_stale_trials", optuna.exceptions.ExperimentalWarning)

    ran = 0
    surplus: list[int] = []
    deadline = None if timeout is None else time.monotonic() + timeout

    def guarded(trial: Any) -> float:
        if studies.count_live(st.get_trials(deepcopy=False), below=trial.number) >= total:
            trial.set_user_attr("surplus", True)
            surplus.append(trial.number)
            raise Surplus(f"trial {trial.number}: the study already has its {total} trials")
        trial.set_user_attr("worker", worker)
        return objective(trial)

    while deadline is None or time.monotonic() < deadline:
        interrupts.check()
        if wait:
            fail_stale_trials(st)  # a dead worker's trial: failed, its parameters queued again
        trials = st.get_trials(deepcopy=False)
        waiting = any(t.state.name == "WAITING" for t in trials)
        if studies.count_live(trials) >= total and not waiting:
            if not (wait and any(t.state.name == "RUNNING" for t in trials)):
                break
            time.sleep(1.0)
            continue
        left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
        st.optimize(guarded, n_trials=1, timeout=left, catch=(Surplus,))  # the objective collects (one pass)
        if surplus:
            break
        ran += 1
    return ran


def is_finisher(st: Any, worker: str, finishing: dict[str, Any] | None = None) -> bool:
    """Whether this worker finalizes: nothing is left running and it owns the trial that completed last; a worker
    that ran nothing (e.g. resuming a finished study) finalizes when the study changed since the last model, or
    when ``finishing`` (refit, ensemble, TTA, calibration settings) differs from the last model's."""
    trials = st.get_trials(deepcopy=False)
    if any(t.state.name in ("RUNNING", "WAITING") for t in trials):
        return False
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED") and t.datetime_complete is not None]
    if not done:
        return True  # nothing completed: finalize reports why
    if not any(t.user_attrs.get("worker") == worker for t in done):
        changed = finishing is not None and st.user_attrs.get("finalized_with", finishing) != finishing
        return st.user_attrs.get("finalized_at") != len(done) or changed
    last = max(done, key=lambda t: (t.datetime_complete, t.number))
    return last.user_attrs.get("worker") == worker
