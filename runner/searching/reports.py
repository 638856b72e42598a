"""Study reports: a search's settings on its parent run, Optuna's plots (one self-contained HTML file) and a
CSV of all trials there; the studies in a storage with their best trial (``runner studies list|show``)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner import tracking
from runner.errors import RunnerError
from runner.searching.rungs import first_rows, sizes
from runner.searching.study import state_counts

if TYPE_CHECKING:  # pragma: no cover
    from runner.searching.config import SearchConfig
    from runner.searching.opening import Opened
    from runner.searching.prepare import Prepared

log = logging.getLogger(__name__)

PLOTS = ("plot_optimization_history", "plot_param_importances", "plot_parallel_coordinate", "plot_slice")


def trials_table(st: Any) -> Any:
    """All trials as a DataFrame (number, state, value, params, duration, worker, MLflow run id)."""
    df = st.trials_dataframe(attrs=("number", "state", "value", "params", "duration", "user_attrs"))
    keep = [c for c in df.columns if not c.startswith("user_attrs_") or c[11:] in ("worker", "mlflow_run_id")]
    return df[keep].rename(columns=lambda c: c.replace("user_attrs_", "").replace("params_", ""))


def html_report(st: Any) -> tuple[str, list[str]]:
    """Optuna's four standard plots in one HTML page (plotly.js embedded once, so it opens offline); returns the
    page and the plots that could not be drawn, with why (e.g. importances need two or more complete trials)."""
    import optuna.visualization as vis

    parts, missing = [], []
    for i, name in enumerate(PLOTS):
        try:
            fig = getattr(vis, name)(st)
        except (ValueError, RuntimeError, ZeroDivisionError) as err:
            missing.append(f"{name}: {err}")
            continue
        parts.append(fig.to_html(full_html=False, include_plotlyjs=i == 0 or not parts))
    notes = "".join(f"<p>not drawn: {m}</p>" for m in missing)
    page = f"<html><head><meta charset='utf-8'><title>{st.study_name}</title></head><body>"
    page += f"<h1>Study {st.study_name}</h1>{notes}{''.join(parts)}</body></html>"
    return page, missing


def report(cl: Any, run_id: str, st: Any) -> None:
    """Log ``report/trials.csv`` and ``report/study.html`` on the parent run."""
    cl.log_text(run_id, trials_table(st).to_csv(index=False), "report/trials.csv")
    try:
        page, missing = html_report(st)
    except ImportError as err:  # plotly is a dependency; a broken install still gets the CSV
        log.warning("study plots skipped: %s", err)
        return
    cl.log_text(run_id, page, "report/study.html")
    if missing:
        cl.set_tag(run_id, "report_missing", "; ".join(missing)[:5000])


def _row(s: Any, storage_obj: Any) -> dict[str, Any]:
    import optuna

    st = optuna.load_study(study_name=s.study_name, storage=storage_obj)
    best = s.best_trial
    return {
        "study": s.study_name,
        "direction": s.direction.name.lower(),
        "trials": {k: v for k, v in state_counts(st.get_trials(deepcopy=False)).items() if v},
        "best_value": best.value if best else None,
        "best_trial": best.number if best else None,
        "started": s.datetime_start.isoformat(timespec="seconds") if s.datetime_start else None,
        "parent_run_id": s.user_attrs.get("parent_run_id"),
    }


def summaries(storage_obj: Any) -> list[dict[str, Any]]:
    """One row per study: name, direction, trial counts, best value and trial, start time."""
    import optuna

    return [_row(s, storage_obj) for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=True)]


def describe(storage_obj: Any, name: str, top: int = 10) -> dict[str, Any]:
    """One study: its summary row, the best trial's parameters and metrics, and the ``top`` trials."""
    import optuna

    found = {s.study_name: s for s in optuna.get_all_study_summaries(storage_obj, include_best_trial=True)}
    names = list(found)
    if name not in names:
        raise RunnerError(
            "no such study", received=name, expected=f"one of {names or 'none'}", fix="see `runner studies list`"
        )
    st = optuna.load_study(study_name=name, storage=storage_obj)
    row = _row(found[name], storage_obj)
    done = [t for t in st.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    done.sort(key=lambda t: t.value, reverse=st.direction.name == "MAXIMIZE")
    best = done[0] if done else None
    return row | {
        "best": None
        if best is None
        else {"trial": best.number, "choice": best.user_attrs.get("choice"), "metrics": best.user_attrs.get("metrics")},
        "model": st.user_attrs.get("model"),
        "top": [
            {"trial": t.number, "value": t.value, "params": t.params, "worker": t.user_attrs.get("worker")}
            for t in done[:top]
        ],
    }


def log_dataset(cl: Any, parent_id: str, prep: Prepared, data: str, fingerprint: str) -> None:
    """The data as the parent run's MLflow dataset input (name, digest = the data fingerprint, as the
    ``data_fingerprint`` param, source = the path), once however often the study is resumed or joined."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    digest = fingerprint[:16]
    logged = cl.get_run(parent_id).inputs.dataset_inputs
    if any(d.dataset.digest == digest for d in logged):
        return
    source = json.dumps({"uri": data if data == "demo" else str(Path(data).expanduser().resolve())})
    profile = json.dumps({"num_images": len(prep.ds), "classes": prep.ds.counts(), "layout": prep.ds.layout})
    dataset = Dataset(prep.ds.name, digest, "local", source, profile=profile)
    from mlflow.exceptions import MlflowException

    try:
        cl.log_inputs(parent_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", "training")])])
    except MlflowException:  # another worker logged it at the same moment (a duplicate insert): look again, once
        if not any(d.dataset.digest == digest for d in cl.get_run(parent_id).inputs.dataset_inputs):
            raise


def describe_run(cl: Any, parent_id: str, result: Any, data: str, n_images: int) -> None:
    """The parent run's description (Markdown, shown on its page in the MLflow UI): the data, what won, and the
    commands that use the registered model."""
    ref = f"models:/{result.registered_model['name']}/{result.registered_model['version']}"
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in result.best_metrics.items() if k.startswith("val_"))
    text = (
        f"**runner search** on `{data}` ({n_images} images).\n\n"
        f"Best trial **#{result.best_trial}**: {result.backbone} + {result.head} ({metrics}); "
        f"registered as `{ref}`.\n\n"
        "Use it:\n\n"
        f"    runner predict {ref} test/ --out submission.csv\n"
        f"    runner evaluate {ref} holdout/\n"
        f"    runner finetune {parent_id}\n"
    )
    cl.set_tag(parent_id, "mlflow.note.content", text)


def _rungs(cfg: SearchConfig, n_train: int) -> str:
    """Training rows per rung of successive halving, e.g. ``2500,7500,20000``; ``off`` with one rung."""
    steps = sizes(first_rows(cfg.halving, n_train, cfg.folds, cfg.repeats), n_train)
    return ",".join(map(str, steps)) if len(steps) > 1 else "off"


def log_settings(opened: Opened, prep: Prepared, sources: dict[str, str]) -> None:
    """A search's settings, data and cache facts as params and tags of its parent run."""
    cfg, cl, parent_id = opened.config, opened.client, opened.parent_run_id
    ds = prep.ds
    first = prep.arrays[opened.specs[0].name]
    tracking.log_params(
        cl,
        parent_id,
        {
            "data": cfg.data,
            "layout": ds.layout,
            "classes": ",".join(ds.classes),
            "n_images": len(ds),
            "n_train": len(first.y_train),
            "n_val": len(first.y_val),
            "class_counts": ds.counts(),
            "n_skipped": len(prep.skipped),
            "n_excluded": len(prep.excluded),
            "exclude": cfg.exclude,
            "data_fingerprint": opened.ds.fingerprint(),
            "backbone": ",".join(prep.sets),
            "head": ",".join(opened.heads),
            "weights": ",".join(fs.weights.identity for fs in prep.sets.values()),
            "image_size": ",".join(str(fs.size) for fs in prep.sets.values()),
            "sources": sources,
            "trials": cfg.trials,
            "epochs": cfg.epochs,
            "metric": cfg.metric,
            "folds": cfg.folds,
            "augment_views": cfg.augment_views,
            "augment_policy": cfg.policy.as_dict() if cfg.augment_views else None,
            "repeats": cfg.repeats,
            "memory_budget_mb": cfg.memory_budget,
            "halving_rungs": _rungs(cfg, len(first.y_train)),
            "seed": cfg.seed,
            "val_fraction": cfg.val_fraction if cfg.val_data is None else "explicit",
            "val_data": str(cfg.val_data),
            "per_class": cfg.per_class,
            "timeout": cfg.timeout,
            "study": opened.study.study_name,
            "storage": tracking.redact(opened.storage_url),
            "feature_shape": {k: list(a.x_train.shape[1:]) for k, a in prep.arrays.items()},
        },
    )
    if cfg.resume:
        cl.set_tag(parent_id, "resumed_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    log_dataset(cl, parent_id, prep, cfg.data, opened.ds.fingerprint())
    cl.set_tag(parent_id, "cache_hit", str(prep.hit).lower())
    cl.set_tag(parent_id, "cache_key", ",".join(fs.entry.key for fs in prep.sets.values()))
    if prep.skipped:
        cl.log_dict(parent_id, {"skipped": prep.skipped}, "skipped_files.json")
    if prep.excluded:
        cl.log_dict(parent_id, {"excluded": prep.excluded, "from": cfg.exclude}, "excluded_files.json")
