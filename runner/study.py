"""Optuna study: storage, naming, creation versus resumption."""

from __future__ import annotations

import time
from typing import Any

from runner.errors import RunnerError


def _storage(url: str) -> Any:
    import optuna

    try:
        return optuna.storages.get_storage(url) if isinstance(url, str) else url
    except (ValueError, ImportError) as err:
        raise RunnerError(
            "cannot open the Optuna storage",
            received=url,
            expected="a storage URL such as sqlite:///mlruns/optuna.db",
            fix=f"fix --storage ({str(err).splitlines()[0][:120]})",
        ) from None
    except Exception as err:  # noqa: BLE001  (SQLAlchemy raises many types for a bad URL)
        raise RunnerError(
            "cannot open the Optuna storage",
            received=url,
            expected="a reachable storage URL such as sqlite:///mlruns/optuna.db",
            fix=f"fix --storage ({type(err).__name__}: {str(err).splitlines()[0][:120]})",
        ) from None


def open_study(storage_url: str, name: str | None, prefix: str, resume: bool, seed: int, maximize: bool) -> Any:
    """Create a new study, or load an existing one with ``resume`` (the latest named ``prefix*`` if unnamed)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(storage_url)
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    if resume and name is None:
        candidates = sorted(
            (s for s in existing.values() if s.study_name.startswith(prefix)), key=lambda s: s.datetime_start or 0
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
    elif not resume and name in existing:
        raise RunnerError(
            "study already exists",
            received=name,
            expected="a new study name",
            fix="pass --resume to continue it, or choose another --study",
        )
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3)
    direction = "maximize" if maximize else "minimize"
    study = optuna.create_study(
        storage=storage, study_name=name, sampler=sampler, pruner=pruner, direction=direction, load_if_exists=True
    )
    if study.direction.name.lower() != direction:
        raise RunnerError(
            "the study optimises another metric",
            received=f"--metric for {direction}",
            expected=study.direction.name.lower(),
            fix="resume with the study's own --metric",
        )
    return study


def fail_stale(study: Any) -> int:
    """Mark trials left RUNNING by an interrupted process as failed; returns how many."""
    from optuna.trial import TrialState

    stale = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
    for t in stale:
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    return len(stale)


def finished(study: Any) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
