"""The end of a search: the best trial becomes one end-to-end model, logged with MLflow and registered."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from runner import tracking
from runner.data import Dataset
from runner.errors import RunnerError
from runner.objective import Objective


@dataclass
class SearchResult:
    parent_run_id: str
    experiment_id: str
    study_name: str
    storage: str
    best_trial: int
    best_params: dict[str, Any]
    best_metrics: dict[str, float]
    model_uri: str
    registered_model: dict[str, Any]
    cache: dict[str, Any]
    data: dict[str, Any]
    n_trials: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def finalize(
    st: Any,
    objective: Objective,
    spec: Any,
    size: int,
    w: Any,
    entry: Any,
    ds: Dataset,
    data: str,
    cl: Any,
    uri: str,
    parent_id: str,
    register_name: str | None,
) -> SearchResult:
    from optuna.trial import TrialState

    from runner.model import end_to_end, model_metadata

    done = st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise RunnerError(
            "no trial completed",
            received=f"{len(st.trials)} trial(s), all pruned or failed",
            expected="at least one complete trial",
            fix="raise --trials or --timeout",
        )
    best = st.best_trial
    params = dict(best.params)
    head_model = objective.head.build(tuple(objective.arrays.x_train.shape[1:]), objective.arrays.n_classes, params)
    if best.number in objective.best_weights:
        head_model.set_weights(objective.best_weights[best.number])
    else:  # best trial ran in an earlier process: retrain it with its own seed (deterministic)
        head_model = objective.fit(params, best.number).model
    model = end_to_end(spec, size, w, entry, head_model)
    name = register_name or re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{ds.name}-{spec.name}")
    history = best.user_attrs.get("history", {})
    metrics = dict(best.user_attrs.get("metrics", {}))
    meta = model_metadata(
        spec,
        size,
        w,
        ds.classes,
        {"best_trial": best.number, "params": params, "data_fingerprint": entry.meta["parts"]["data"]},
    )
    model_uri, version = tracking.log_keras_model(uri, parent_id, model, size, model.output_shape[-1], name, meta)
    tracking.learning_curves(cl, parent_id, history)
    cl.log_dict(parent_id, params, "best_params.json")
    tracking.log_params(cl, parent_id, {f"best_{k}": v for k, v in params.items()} | {"best_trial": best.number})
    tracking.log_metrics(cl, parent_id, {f"best_{k}": v for k, v in metrics.items()})
    counts = {s.name.lower(): 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    for t in st.get_trials(deepcopy=False):
        if t.state.name.lower() in counts:
            counts[t.state.name.lower()] += 1
    return SearchResult(
        parent_id,
        cl.get_run(parent_id).info.experiment_id,
        st.study_name,
        "",
        best.number,
        params,
        metrics,
        model_uri,
        {"name": name, "version": version},
        {},
        {},
        counts,
    )
