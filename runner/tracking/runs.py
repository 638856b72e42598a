"""MLflow runs: params (immutable, so changes go to tags), metrics, per-epoch history, one parent run per search,
one child run per trial, and how a run ends (:func:`ending`: FINISHED / FAILED / KILLED by how its block exits)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.errors import RunnerError

if TYPE_CHECKING:  # pragma: no cover
    from mlflow import MlflowClient

MAX_PARAM = 6000


def _clean(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:MAX_PARAM]


def log_params(cl: MlflowClient, run_id: str, params: dict[str, Any], new_run: bool = False) -> None:
    """Log params; MLflow params are immutable, so a changed value (a resumed search) goes to a tag instead.

    ``new_run``: the run was just created, so there is nothing to compare with (saves a read per trial).
    """
    from mlflow.entities import Param
    from mlflow.exceptions import MlflowException

    new = {str(k): _clean(v) for k, v in params.items()}
    old: dict[str, str] = {} if new_run else cl.get_run(run_id).data.params
    for attempt in range(2):
        for k, v in new.items():
            if k in old and old[k] != v:
                cl.set_tag(run_id, f"updated.{k}", v)
        try:
            cl.log_batch(run_id, params=[Param(k, v) for k, v in new.items() if k not in old])
            return
        except MlflowException:  # another worker logged some of them at the same moment: compare again, once
            if attempt == 1:
                raise
            new = {k: v for k, v in new.items() if k not in old}
            old = cl.get_run(run_id).data.params


def log_metrics(cl: MlflowClient, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    cl.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])


def log_history(cl: MlflowClient, run_id: str, history: dict[str, list[float]]) -> None:
    """Per-epoch metrics (loss, accuracy, val_loss, val_accuracy) as steps, in one batch call per 1000 values."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    rows = [Metric(k, float(v), now, step) for k, vals in history.items() for step, v in enumerate(vals)]
    for i in range(0, len(rows), 1000):
        cl.log_batch(run_id, metrics=rows[i : i + 1000])


def parent_run(
    cl: MlflowClient, exp_id: str, study: Any, created: bool, fingerprint: str, data_name: str, wait: float = 300.0
) -> str:
    """The study's one parent run: created by the worker that created the study, found by every other worker
    (which waits for it briefly when it joins at the same moment) and reopened on --resume."""
    if created:
        run = cl.create_run(exp_id, run_name=study.study_name, tags={"study": study.study_name, "runner": "search"})
        study.set_user_attr("data_fingerprint", fingerprint)
        study.set_user_attr("parent_run_id", run.info.run_id)
        return run.info.run_id
    deadline = time.monotonic() + wait
    while (parent_id := study.user_attrs.get("parent_run_id")) is None:
        if time.monotonic() > deadline:
            raise RunnerError(
                "the study has no MLflow parent run",
                received=study.study_name,
                expected="a study created by `runner search` (its first worker creates the parent run)",
                fix="start a new --study; the worker that created this one stopped before creating its parent run",
            )
        time.sleep(0.5)  # Study.user_attrs reads the storage each time
    if study.user_attrs.get("data_fingerprint") != fingerprint:
        raise RunnerError(
            "the study to resume or join was run on other data",
            received=data_name,
            expected="the same images as its first worker",
            fix="use the same --data (and --per-class), or start a new study",
        )
    if cl.get_run(parent_id).info.status != "RUNNING":
        cl.update_run(parent_id, status="RUNNING")
    return parent_id


def start_child(cl: MlflowClient, exp_id: str, parent_id: str, number: int) -> str:
    run = cl.create_run(
        exp_id, run_name=f"trial-{number}", tags={"mlflow.parentRunId": parent_id, "trial_number": str(number)}
    )
    return run.info.run_id


STATES = {"FINISHED": "complete", "KILLED": "pruned", "FAILED": "failed"}  # a trial run's ``state`` tag


def end_run(cl: MlflowClient, run_id: str, status: str, tag_state: bool = False, state: str | None = None) -> None:
    """End a run with MLflow ``status`` (FINISHED | FAILED | KILLED); ``tag_state``: also tag a trial's state
    (``state``, else the one its status implies)."""
    if tag_state:
        cl.set_tag(run_id, "state", state or STATES[status])
    cl.set_terminated(run_id, status=status)


@dataclass
class RunEnd:
    """What :func:`ending` yields. ``keep(ok)``: leave the run RUNNING (another worker ends it); ``ok`` says whether
    the block completed."""

    keep: Callable[[bool], bool] = lambda ok: False


@contextmanager
def ending(
    cl: MlflowClient,
    run_id: str,
    *,
    error: str = "FAILED",
    special: Mapping[type[BaseException], str] | None = None,
    tag_state: bool = False,
) -> Iterator[RunEnd]:
    """End ``run_id`` by how the block exits: FINISHED when it completes; when it raises, the status that
    ``special`` gives the exception's type (e.g. ``{TrialPruned: "KILLED"}``), else ``error``. Re-raises."""
    end = RunEnd()
    try:
        yield end
    except BaseException as err:
        status = next((s for kind, s in (special or {}).items() if isinstance(err, kind)), error)
        if not end.keep(False):
            end_run(cl, run_id, status, tag_state, "interrupted" if isinstance(err, KeyboardInterrupt) else None)
        raise
    if not end.keep(True):
        end_run(cl, run_id, "FINISHED", tag_state)
