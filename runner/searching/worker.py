"""A worker's part of a search, after the study is open: its features, its objective, its share of the trials.

``runner.search()`` runs this in its own process; ``--n-jobs`` helper processes run :func:`work`, which opens the
same search as a helper (never checking whether it may join, never finalizing) and runs trials until the study
has its total.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner import tracking
from runner.plugins.registry import backbones as backbone_registry
from runner.plugins.registry import heads as head_registry
from runner.searching import reports, share
from runner.searching import study as studies
from runner.searching.config import SearchConfig
from runner.searching.objective import Objective
from runner.searching.opening import Opened, open_search
from runner.searching.prepare import Prepared, prepare

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Ready:
    """A worker ready to run trials: its cached features, its objective, and the stale trials it retried."""

    prep: Prepared
    objective: Objective
    stale: int


def new_worker_id() -> str:
    return uuid.uuid4().hex[:12]


def get_ready(opened: Opened, emit: Event, *, helper: bool) -> Ready:
    """Features (extracted once, or found in the cache), the settings on the parent run (not by helpers), the
    objective; on ``--resume`` of a storage without heartbeats, trials left running are failed and retried."""
    cfg = opened.config
    if opened.unknown_excluded and not helper:
        unknown = opened.unknown_excluded
        emit("warning", {"message": f"--exclude lists {len(unknown)} path(s) not in --data: {', '.join(unknown[:3])}"})
    prep = prepare(opened, emit)
    cfg.check_folds(prep.arrays[opened.specs[0].name].y_train)
    sources = {n: backbone_registry.entry(n).source for n in prep.sets}
    sources |= {n: head_registry.entry(n).source for n in opened.heads}
    if not helper:
        reports.log_settings(opened, prep, sources)
    objective = Objective(
        config=cfg,
        heads=opened.heads,
        arrays=prep.arrays,
        client=opened.client,
        experiment_id=opened.experiment_id,
        parent_run_id=opened.parent_run_id,
        on_event=emit,
        sources=sources,
    )
    done = [t.value for t in opened.study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if done:  # a resumed or joined study: "best" is over the whole study, not only this run's trials
        objective.best_value = max(done) if cfg.maximize else min(done)
    resumed = cfg.resume and not opened.heartbeat
    stale = studies.recover_stale(opened.study, opened.on_stale) if resumed else 0
    return Ready(prep, objective, stale)


def run_trials(opened: Opened, ready: Ready, worker: str) -> int:
    """This worker's share: trials until the study has ``--trials`` (or ``--timeout``); returns how many ran."""
    cfg = opened.config
    return share.run_share(opened.study, ready.objective, cfg.trials, cfg.timeout, worker, wait=opened.heartbeat)


def work(config: SearchConfig, worker: str, emit: Event) -> int:
    """A helper process's whole job (``--n-jobs``): join the open study as ``worker`` and run trials. The parent
    run is left to the main worker unless this one fails with no trial left running."""
    opened = open_search(config, helper=True)
    with tracking.ending(opened.client, opened.parent_run_id, error="KILLED") as end:
        end.keep = lambda ok: ok or studies.running(opened.study.get_trials(deepcopy=False)) > 0
        return run_trials(opened, get_ready(opened, emit, helper=True), worker)
