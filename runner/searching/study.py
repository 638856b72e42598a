"""Optuna study: storage (SQLite, PostgreSQL, MySQL, journal file), creating or joining, seeded sampling,
stale-trial recovery."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from runner import tracking
from runner.errors import RunnerError
from runner.locks import file_lock

OnStale = Callable[[Any, Any], None]  # (study, frozen trial) -> None
DATABASES = ("sqlite", "postgresql", "mysql")  # storages that get a heartbeat
LIVE = ("COMPLETE", "PRUNED", "RUNNING", "WAITING")  # trial states that count towards a study's total


def _bad_storage(url: str, err: BaseException) -> RunnerError:
    return RunnerError(
        "cannot open the Optuna storage",
        received=tracking.redact(url),
        expected="sqlite:///path.db, postgresql://user@host/db, mysql://user@host/db or journal:///path/study.log",
        fix=f"fix --storage ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})",
    )


class StaleTrials:
    """Called for a trial whose worker died (heartbeat expired, or left RUNNING when resuming a journal): its
    MLflow child run is marked failed and its parameters are queued again, so the study still reaches its total."""

    def __init__(self) -> None:
        self.client: Any = None  # set once MLflow is connected
        self.seen: list[int] = []

    def __call__(self, study: Any, trial: Any) -> None:
        self.seen.append(trial.number)
        run_id = trial.user_attrs.get("mlflow_run_id")
        if self.client is not None and run_id:
            self.client.set_tag(run_id, "failure", "worker stopped (stale trial); its parameters were retried")
            tracking.end_run(self.client, run_id, "FAILED", tag_state=True)
        if not trial.user_attrs.get("surplus"):
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def storage(url: Any, heartbeat: int = 10, on_stale: OnStale | None = None) -> Any:
    """An Optuna storage from a URL (objects pass through). Databases get a heartbeat every ``heartbeat`` seconds:
    a trial silent for twice that long is failed by the next worker that looks, and ``on_stale`` is called."""
    import optuna

    if not isinstance(url, str):
        return url
    scheme = urlparse(url).scheme.split("+")[0]
    try:
        if scheme == "journal":
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path = url[len("journal://") :]
            if not path:
                raise ValueError("no file path after journal://")
            return JournalStorage(JournalFileBackend(path))
        if scheme in DATABASES:
            engine = {"connect_args": {"timeout": 60}} if scheme == "sqlite" else {"pool_pre_ping": True}
            warnings.filterwarnings("ignore", "Argument ``heartbeat_interval``", optuna.exceptions.ExperimentalWarning)
            db = Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None
            for attempt in range(3):
                try:
                    with file_lock(db.with_name(db.name + ".lock")) if db else contextlib.nullcontext():
                        return optuna.storages.RDBStorage(
                            url,
                            engine_kwargs=engine,
                            heartbeat_interval=heartbeat,
                            grace_period=2 * heartbeat,
                            heartbeat_stale_trial_callback=on_stale,
                        )
                except ImportError:
                    raise
                except Exception:  # workers creating a server database's tables at once: retry
                    if attempt == 2:
                        raise
                    time.sleep(1.0 + attempt)
        return optuna.storages.get_storage(url)
    except (ValueError, ImportError, OSError) as err:
        raise _bad_storage(url, err) from None
    except Exception as err:  # SQLAlchemy raises many types for a bad or unreachable URL
        raise _bad_storage(url, err) from None


def has_heartbeat(url: str) -> bool:
    """Whether :func:`storage` gave this URL a heartbeat (it does for every database, never for a journal file)."""
    return urlparse(url).scheme.split("+")[0] in DATABASES


def open_study(
    storage_obj: Any, name: str | None, prefix: str, resume: bool, seed: int, maximize: bool
) -> tuple[Any, bool]:
    """Create a study, or join an existing one; returns ``(study, created)``.

    ``--study NAME`` creates it or, while it still has trials to run, joins it (how parallel workers meet);
    ``--resume`` continues a study, the latest named ``prefix*`` when unnamed.
    """
    import optuna

    if optuna.logging.get_verbosity() < optuna.logging.WARNING:  # never louder than the CLI asked (it may be quieter)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=False)}
    if resume and name is None:
        summaries = optuna.get_all_study_summaries(storage_obj, include_best_trial=False)
        candidates = sorted(
            (s for s in summaries if s.study_name.startswith(prefix)), key=lambda s: s.datetime_start or 0
        )
        if not candidates:
            raise RunnerError(
                "nothing to resume",
                received=f"--resume with no --study (looked for {prefix}*)",
                expected="an earlier study for this data and backbone",
                fix="drop --resume, or pass --study NAME of the study to continue",
            )
        name = candidates[-1].study_name
    elif name is None:
        name = prefix + time.strftime("%Y%m%d-%H%M%S")
        while name in existing:
            name += "x"
    elif resume and name not in existing:
        raise RunnerError(
            "no such study to resume",
            received=name,
            expected=f"one of {sorted(existing) or 'none'}",
            fix="drop --resume to start it, or correct --study",
        )
    direction = "maximize" if maximize else "minimize"
    from runner.searching.pruner import RungPruner
    from runner.searching.sampler import SeededSampler

    sampler = SeededSampler(seed)
    pruner = RungPruner(startup=5, warmup=3)
    created = False
    try:
        st = optuna.create_study(
            storage=storage_obj, study_name=name, sampler=sampler, pruner=pruner, direction=direction
        )
        created = True
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it first: join
        st = optuna.load_study(storage=storage_obj, study_name=name, sampler=sampler, pruner=pruner)
    if st.direction.name.lower() != direction:
        raise RunnerError(
            "the study optimises another metric",
            received=f"--metric for {direction}",
            expected=st.direction.name.lower(),
            fix="use the study's own --metric",
        )
    return st, created


def check_joinable(st: Any, total: int, resume: bool) -> None:
    """Without --resume a named study is joined only while it still has trials to run."""
    trials = st.get_trials(deepcopy=False)
    live = count_live(trials)
    if not resume and live >= total and not running(trials):
        raise RunnerError(
            "study already complete",
            received=f"{st.study_name} with {live} trial(s)",
            expected=f"a study with fewer than --trials {total}",
            fix="pass --resume (with a larger --trials to run more), or choose another --study",
        )


def count_live(trials: list[Any], below: int | None = None) -> int:
    """Trials that count towards the total (numbered below ``below`` if given)."""
    return sum(
        1
        for t in trials
        if t.state.name in LIVE and (below is None or t.number < below) and not t.user_attrs.get("surplus")
    )


def state_counts(trials: list[Any]) -> dict[str, int]:
    """Trials by state (lower-case names), surplus trials (never run) left out."""
    counts = {"complete": 0, "pruned": 0, "fail": 0}
    for t in trials:
        if not t.user_attrs.get("surplus"):
            counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    return counts


def running(trials: list[Any]) -> int:
    """Trials running or queued."""
    return sum(1 for t in trials if t.state.name in ("RUNNING", "WAITING"))


def fail_running(st: Any, which: Callable[[Any], bool] = lambda t: True) -> list[Any]:
    """Fail the RUNNING trials that ``which`` selects (they stop counting towards the total); returns them, less
    any that finished meanwhile."""
    import optuna
    from optuna.trial import TrialState

    failed = []
    for t in st.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not which(t):
            continue
        try:
            st.tell(t.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # finished meanwhile
        failed.append(t)
    return failed


def recover_stale(st: Any, on_stale: OnStale) -> int:
    """For a storage without heartbeats (journal), on --resume: trials left RUNNING are failed and retried.
    Assumes no other worker is running on that study right now (the README says so)."""
    failed = fail_running(st)
    for t in failed:
        on_stale(st, t)
    return len(failed)


def finished(st: Any) -> int:
    from optuna.trial import TrialState

    return len(st.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
