"""``runner.search()``: images -> cached backbone features -> Optuna head search -> MLflow, best model registered.

Several workers (processes or machines) running the same search with the same ``study`` and ``storage`` share
the study: each runs trials until the study has ``trials`` in all, and the one that completes the last trial
registers the model.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from runner import tracking
from runner.options import config_of
from runner.searching import share
from runner.searching import study as studies
from runner.searching.config import SearchConfig
from runner.searching.finalize import SearchResult, finalize, summarize
from runner.searching.helpers import Helpers
from runner.searching.opening import Opened, open_search
from runner.searching.worker import Ready, get_ready, new_worker_id, run_trials

Event = Callable[[str, dict[str, Any]], None]


def search(
    config: SearchConfig | str | None = None, /, *, on_event: Event | None = None, **options: Any
) -> SearchResult:
    """Run a search (or this worker's share of a shared study) and return its result.

    Pass a :class:`SearchConfig`, or its fields as keywords (``runner.search("train/", trials=30)``: the first
    positional argument is ``data``). ``on_event(kind, payload)`` receives progress: ``data``, ``extract``,
    ``views``, ``search``, ``trial``, ``warning``.
    """
    config = config_of(SearchConfig, config, options, "search", first="data")
    emit: Event = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    opened = open_search(config)
    st = opened.study
    try:
        with tracking.ending(opened.client, opened.parent_run_id, error="KILLED") as end:
            # a failing worker ends the parent run only when no other worker still has a trial running
            end.keep = lambda ok: not ok and studies.running(st.get_trials(deepcopy=False)) > 0
            result = _run(opened, emit, t0)
            if not result.finalized:  # another worker completes the study and ends its parent run
                end.keep = lambda ok: ok or studies.running(st.get_trials(deepcopy=False)) > 0
            return result
    except KeyboardInterrupt:
        kept = studies.finished(st)
        raise SearchInterrupted(st.study_name, config.storage, kept) from None


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl+C during a search: the finished trials are kept; ``--resume --study NAME`` continues the study."""

    def __init__(self, study: str, storage: str | None, kept: int) -> None:
        super().__init__(study)
        self.study, self.storage, self.kept = study, storage, kept

    def resume_args(self) -> list[str]:
        """What to add to the command to continue: ``--resume --study NAME`` (``--storage`` when not the default)."""
        extra = ["--resume", "--study", self.study]
        return extra + (["--storage", tracking.redact(self.storage)] if self.storage else [])


def _fail_own(opened: Opened, worker: str) -> None:
    """Trials this worker (or its helpers) left running when it stopped: failed in the study (they do not count
    towards the total, so a resumed study runs them again) and their MLflow runs ended KILLED."""
    cl = opened.client
    for t in studies.fail_running(opened.study, lambda t: t.user_attrs.get("worker") == worker):
        run_id = t.user_attrs.get("mlflow_run_id")
        if run_id and cl.get_run(run_id).info.status == "RUNNING":
            tracking.end_run(cl, run_id, "KILLED", tag_state=True, state="interrupted")


def _run(opened: Opened, emit: Event, t0: float) -> SearchResult:
    cfg, st = opened.config, opened.study
    ready = get_ready(opened, emit, helper=False)
    worker = new_worker_id()
    emit(
        "search",
        {
            "study": st.study_name,
            "remaining": max(cfg.trials - studies.count_live(st.get_trials(deepcopy=False)), 0),
            "stale": ready.stale,
            "parent_run_id": opened.parent_run_id,
            "workers": cfg.n_jobs,
        },
    )
    t_search = time.perf_counter()
    helpers = None
    if cfg.n_jobs > 1:
        helper_config = dataclasses.replace(cfg, study=st.study_name, resume=False, n_jobs=1)
        helpers = Helpers(cfg.n_jobs - 1, helper_config, worker, emit)
    ok = False
    try:
        ran = run_trials(opened, ready, worker)
        ok = True
    finally:
        codes = helpers.join(ok) if helpers else []
        if not ok:
            _fail_own(opened, worker)
    if any(codes):
        emit("warning", {"message": f"helper process exit codes {codes}; their trials were failed or retried"})
    search_seconds = time.perf_counter() - t_search
    done = studies.finished(st)
    if share.is_finisher(st, worker, cfg.finishing):
        result = finalize(opened, ready.objective, ready.prep)
        st.set_user_attr("finalized_at", done)
        st.set_user_attr("finalized_with", cfg.finishing)
        st.set_user_attr("model", {"uri": result.model_uri, **result.registered_model})
    else:
        result = summarize(st, opened.parent_run_id, opened.experiment_id)
    _describe(result, opened, ready, worker, ran)
    result.seconds = {
        "features": round(sum(fs.seconds for fs in ready.prep.sets.values()), 3),
        "search": round(search_seconds, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    if result.finalized:
        tracking.log_metrics(
            opened.client, opened.parent_run_id, {f"seconds_{k}": v for k, v in result.seconds.items()}
        )
    return result


def _describe(result: SearchResult, opened: Opened, ready: Ready, worker: str, ran: int) -> None:
    """The result's cache, data, storage and worker facts (the same for every worker)."""
    prep, specs = ready.prep, opened.specs
    first = prep.arrays[specs[0].name]
    winner = prep.sets.get(result.backbone) or prep.sets[specs[0].name]
    result.cache = {
        "hit": prep.hit,
        "key": winner.entry.key,
        "dir": str(opened.cache.root),
        "keys": {n: fs.entry.key for n, fs in prep.sets.items()},
    }
    result.data = {
        "name": prep.ds.name,
        "layout": prep.ds.layout,
        "classes": prep.ds.classes,
        "n_train": len(first.y_train),
        "n_val": len(first.y_val),
        "skipped": prep.skipped,
    }
    result.storage = tracking.redact(opened.storage_url)
    stale = ready.stale + len(opened.on_stale.seen)
    result.worker = {"id": worker, "trials_run": ran, "stale_retried": stale}
