"""The end of a search: the best trial becomes one end-to-end model, logged with MLflow and registered."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runner import tracking
from runner.errors import RunnerError
from runner.searching import members
from runner.searching.choice import Choice
from runner.searching.objective import Objective
from runner.searching.opening import Opened
from runner.searching.prepare import Prepared
from runner.searching.reports import describe_run, report
from runner.searching.study import state_counts


@dataclass
class SearchResult:
    parent_run_id: str
    experiment_id: str
    study_name: str
    best_trial: int
    backbone: str
    head: str
    best_params: dict[str, Any]
    best_metrics: dict[str, float]
    model_uri: str
    registered_model: dict[str, Any]
    n_trials: dict[str, int]
    per_backbone: dict[str, float] = field(default_factory=dict)
    storage: str = ""
    cache: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    finalized: bool = True  # False: another worker finishes the study and registers the model
    worker: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)  # the blend: members, TTA, temperature, refit, val scores

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _per_backbone(trials: list[Any], maximize: bool) -> dict[str, float]:
    best: dict[str, float] = {}
    for t in trials:
        name = Choice.of(t).backbone
        if name not in best or (t.value > best[name] if maximize else t.value < best[name]):
            best[name] = float(t.value)
    return best


def summarize(st: Any, parent_id: str, exp_id: str) -> SearchResult:
    """A worker that does not finish the study: the best trial so far and the model registered last (if any)."""
    from optuna.trial import TrialState

    done = st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = st.best_trial if done else None
    choice = Choice.of(best) if best else Choice("", "")
    model = st.user_attrs.get("model", {})
    return SearchResult(
        parent_run_id=parent_id,
        experiment_id=exp_id,
        study_name=st.study_name,
        best_trial=best.number if best else -1,
        backbone=choice.backbone,
        head=choice.head,
        best_params=dict(choice.params),
        best_metrics=dict(best.user_attrs.get("metrics", {})) if best else {},
        model_uri=model.get("uri", ""),
        registered_model={k: model[k] for k in ("name", "version") if k in model},
        n_trials=state_counts(st.get_trials(deepcopy=False)),
        finalized=False,
    )


def finalize(opened: Opened, objective: Objective, prep: Prepared) -> SearchResult:
    """The finished trials' blend (ensemble, test-time augmentation, temperature: decided on out-of-fold predictions
    of the best trials and the probe, or on the trials' validation predictions: :func:`members.choose`), each member
    refitted on all labelled rows, logged as one end-to-end model and registered; the parent run's summary. The
    reported validation metrics stay the honest ones of the study's best trial before the refit."""
    from optuna.trial import TrialState

    from runner.features.endtoend import BEFORE_REFIT, end_to_end, model_metadata

    st, cl, parent_id, ds = opened.study, opened.client, opened.parent_run_id, prep.ds
    cfg = opened.config
    data = cfg.data
    done = st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise RunnerError(
            "no trial completed",
            received=f"{len(st.trials)} trial(s), all pruned or failed",
            expected="at least one complete trial",
            fix="raise --trials or --timeout",
        )
    best = st.best_trial
    choice = Choice.of(best)
    fs = prep.sets[choice.backbone]
    params = dict(choice.params)
    metrics = dict(best.user_attrs.get("metrics", {}))
    sizes = {name: s.size for name, s in prep.sets.items()}
    blend, chosen, probe = members.choose(cl, objective, done, best, sizes)
    parts, refitted = members.members(objective, prep, blend, chosen, cfg.refit, probe)
    model = end_to_end(parts, blend.tta, blend.temperature)
    if objective.cross or refitted:  # the blend's first member as validated: fine-tuning starts there
        validated, holdout = members.lead(objective, blend, done, probe)
        if objective.cross:  # scored on the validation split, beside the cross-validated metrics
            metrics = holdout | {f"cv_{k}": v for k, v in metrics.items()}
        weights = {f"w{i}": w for i, w in enumerate(validated.get_weights())}
        tracking.log_arrays(cl, parent_id, BEFORE_REFIT, weights)
    name = opened.config.register_name or re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{ds.name}-{fs.spec.name}")
    extra = {
        "data": data if data == "demo" else str(Path(data).expanduser().resolve()),
        "best_trial": best.number,
        "head": choice.head,
        "params": params,
        "data_fingerprint": fs.entry.meta["parts"]["data"],
        "study": st.study_name,
        "parent_run_id": parent_id,
        "backbone_source": objective.sources.get(choice.backbone, "?"),  # builtin, package==version, or a file
        "head_source": objective.sources.get(choice.head, "?"),
        "ensemble": {
            "members": [
                {
                    "trial": m.trial,
                    "layer": m.layer_name,
                    "backbone": m.spec.name,
                    "backbone_layer": m.backbone_layer,
                    "preprocess_layer": m.preprocess_layer,
                    "weight": m.weight,
                }
                for m in parts
            ],
            "best_member": next((m.layer_name for m in parts if m.trial == blend.first), parts[0].layer_name),
            "tta": blend.tta,
            "temperature": blend.temperature,
            "refit": refitted,
        },
    }
    meta = model_metadata(fs.spec, fs.size, fs.weights, ds.classes, extra)
    uri = opened.uri
    model_uri, version = tracking.log_keras_model(uri, parent_id, model, fs.size, model.output_shape[-1], name, meta)
    tracking.learning_curves(cl, parent_id, best.user_attrs.get("history", {}))
    cl.log_dict(parent_id, {"backbone": fs.spec.name, "head": choice.head, **params}, "best_params.json")
    shown = choice.shown()
    tracking.log_params(cl, parent_id, {f"best_{k}": v for k, v in shown.items()} | {"best_trial": best.number})
    per_backbone = _per_backbone(done, objective.maximize)
    tracking.log_metrics(
        cl,
        parent_id,
        {f"best_{k}": v for k, v in metrics.items()}
        | {f"best_val_{opened.config.metric}.{k}": v for k, v in per_backbone.items()},
    )
    cl.set_tag(parent_id, "winning_backbone", fs.spec.name)
    if choice.views is not None:
        cl.set_tag(parent_id, "augment_won", f"{choice.views} view(s)" if choice.views else "no (plain features)")
    members.log_blend(cl, parent_id, blend, refitted, len(ds.classes))
    report(cl, parent_id, st)
    result = SearchResult(
        parent_run_id=parent_id,
        experiment_id=cl.get_run(parent_id).info.experiment_id,
        study_name=st.study_name,
        best_trial=best.number,
        backbone=fs.spec.name,
        head=choice.head,
        best_params=params,
        best_metrics=metrics,
        model_uri=model_uri,
        registered_model={"name": name, "version": version},
        n_trials=state_counts(st.get_trials(deepcopy=False)),
        per_backbone=per_backbone,
        model=blend.summary() | {"refitted": refitted},
    )
    describe_run(cl, parent_id, result, data, len(ds))
    return result
