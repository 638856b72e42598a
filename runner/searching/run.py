"""``runner.search()``: images -> cached backbone features -> Optuna head search -> MLflow, best model registered.

Several workers (processes or machines) running the same search with the same ``study`` and ``storage`` share
the study: each runs trials until the study has ``trials`` in all, and the one that completes the last trial
registers the model.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.data.dataset import load_dataset
from runner.errors import DataError
from runner.features.augment import Policy
from runner.features.cache import FeatureCache
from runner.features.extract import resolve_weights
from runner.features.rows import DEFAULT_BUDGET_MB
from runner.plugins.registry import backbones as backbone_registry
from runner.plugins.registry import get_backbone, get_head, heads, load_code
from runner.searching import config as options
from runner.searching import reports
from runner.searching import share as workers
from runner.searching import study as studies
from runner.searching.finalize import SearchResult, finalize, summarize
from runner.searching.objective import Objective
from runner.searching.prepare import prepare
from runner.tracking import runs as tracking

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class _Setup:
    """What ``search`` has opened before features are loaded: the data, the study and its parent run."""

    ds: Any
    val_ds: Any
    specs: list[Any]
    head_objs: dict[str, Any]
    sizes: dict[str, int]
    weights: dict[str, Any]
    cache: FeatureCache
    uri: str
    storage_url: str
    st: Any
    cl: Any
    exp_id: str
    parent_id: str
    on_stale: studies.StaleTrials
    policy: Policy


def search(
    data: str = "demo",
    *,
    val_data: str | None = None,
    backbone: str | list[str] = "vgg16",
    head: str | list[str] = "dense",
    weights: str = "imagenet",
    image_size: int | None = None,
    per_class: int | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    trials: int = 30,
    timeout: float | None = None,
    epochs: int = 30,
    metric: str = "log_loss",
    folds: int = 1,
    repeats: int = 1,
    memory_budget: float = DEFAULT_BUDGET_MB,
    augment_views: int = 0,
    augment_policy: str | None = None,
    storage: str | None = None,
    study: str | None = None,
    resume: bool = False,
    n_jobs: int = 1,
    heartbeat: int = 10,
    tracking_uri: str | None = None,
    experiment: str = "runner",
    register_name: str | None = None,
    cache_dir: str | None = None,
    code: list[str] | None = None,
    rehash: bool = False,
    on_event: Event | None = None,
    _worker: str | None = None,
) -> SearchResult:
    """Run a search (or this worker's share of a shared study).

    ``backbone`` and ``head`` may list several names, making them searched choices. ``augment_views`` K > 0 caches
    K augmented views (``augment_policy``) of every training image; how many to train on (0..K) is searched.
    ``folds`` > 1 scores each trial by stratified K-fold cross-validation, ``repeats`` averages seeds. A trial holds
    at most ``memory_budget`` MiB of features in memory and streams larger sets from the cache. ``n_jobs``
    > 1 adds helper processes on the same study. ``_worker`` is internal: set in helper processes, which run
    trials but never finalize.
    """
    call = {k: v for k, v in locals().items() if k not in ("on_event", "_worker", "n_jobs")}
    emit: Event = on_event or (lambda kind, payload: None)
    t0 = time.perf_counter()
    options.check_scalars(
        trials=trials,
        epochs=epochs,
        metric=metric,
        val_fraction=val_fraction,
        explicit_val=val_data is not None,
        timeout=timeout,
    )
    options.check_workers(n_jobs=n_jobs, folds=folds, repeats=repeats, heartbeat=heartbeat, storage=storage)
    options.check(
        isinstance(memory_budget, (int, float)) and memory_budget > 0,
        "bad --memory-budget",
        memory_budget,
        "a positive number of MiB",
        "pass e.g. --memory-budget 1024",
    )
    options.check(
        isinstance(augment_views, int) and 0 <= augment_views <= 64,
        "bad --augment-views",
        augment_views,
        "an integer from 0 (no augmentation) to 64",
        "pass e.g. --augment-views 5",
    )
    policy = Policy.parse(augment_policy)  # a bad policy fails before any work
    for path in code or []:
        load_code(path)
    specs = [get_backbone(n) for n in options.names(backbone, "backbone")]
    head_objs = {n: get_head(n) for n in options.names(head, "head")}
    weights_for = options.weights_map(weights, [s.name for s in specs])
    sizes = options.image_sizes(specs, image_size, demo=str(data) == "demo")

    ds = load_dataset(data, per_class)
    val_ds = load_dataset(val_data) if val_data is not None else None
    if val_ds is not None and val_ds.classes != ds.classes:
        raise DataError(
            "validation classes differ from training classes",
            received=val_ds.classes,
            expected=str(ds.classes),
            fix="use the same class names in --val-data",
        )

    uri = tracking.tracking_uri(tracking_uri)
    storage_url = storage or tracking.default_storage(uri)
    cache = FeatureCache(cache_dir)
    resolved = {s.name: resolve_weights(s, weights_for[s.name], sizes[s.name], seed, cache.hash_index) for s in specs}
    ds.digests(cache.hash_index, rehash=rehash)
    on_stale = studies.StaleTrials()
    store = studies.storage(storage_url, heartbeat, on_stale)
    prefix = f"{ds.name}-{'+'.join(s.name for s in specs)}-"
    st, created = studies.open_study(store, study, prefix, resume, seed, maximize=metric == "accuracy")
    if not created and _worker is None:
        studies.check_joinable(st, trials, resume)
    cl = tracking.client(uri)
    on_stale.client = cl
    exp_id = tracking.experiment_id(cl, uri, experiment)
    parent_id = tracking.parent_run(cl, exp_id, st, created, ds.fingerprint(), ds.name)
    setup = _Setup(
        ds,
        val_ds,
        specs,
        head_objs,
        sizes,
        resolved,
        cache,
        uri,
        storage_url,
        st,
        cl,
        exp_id,
        parent_id,
        on_stale,
        policy,
    )
    try:
        return _run(setup, call, emit, t0, _worker, n_jobs)
    except BaseException:
        if studies.running(st.get_trials(deepcopy=False)) == 0:
            cl.set_terminated(parent_id, status="KILLED")
        raise


def _run(v: _Setup, call: dict[str, Any], emit: Event, t0: float, helper_of: str | None, n_jobs: int):
    """The part of ``search`` after the study and its parent run exist."""
    st, cl, parent_id, specs = v.st, v.cl, v.parent_id, v.specs
    prep = prepare(
        v.ds,
        v.val_ds,
        specs,
        v.sizes,
        v.weights,
        v.cache,
        call["val_fraction"],
        call["seed"],
        call["rehash"],
        emit,
        views=call["augment_views"],
        policy=v.policy,
    )
    first = prep.arrays[specs[0].name]
    options.check_folds(call["folds"], first.y_train)
    sources = {n: backbone_registry.entry(n).source for n in prep.sets}
    sources |= {n: heads.entry(n).source for n in v.head_objs}
    if helper_of is None:
        reports.log_settings(cl, parent_id, v, call, prep, sources, (len(first.y_train), len(first.y_val)))
    objective = Objective(
        v.head_objs,
        prep.arrays,
        call["epochs"],
        call["seed"],
        call["metric"],
        cl,
        v.exp_id,
        parent_id,
        emit,
        sources,
        folds=call["folds"],
        repeats=call["repeats"],
        budget_mb=call["memory_budget"],
    )
    beats = studies.has_heartbeat(st)
    stale = studies.recover_stale(st, v.on_stale) if call["resume"] and not beats else 0
    worker = helper_of or uuid.uuid4().hex[:12]
    emit(
        "search",
        {
            "study": st.study_name,
            "remaining": max(call["trials"] - studies.count_live(st.get_trials(deepcopy=False)), 0),
            "stale": stale,
            "parent_run_id": parent_id,
            "workers": n_jobs,
        },
    )
    t_search = time.perf_counter()
    helpers = None
    if n_jobs > 1:
        helpers = workers.Helpers(n_jobs - 1, call | {"study": st.study_name, "resume": False}, worker, emit)
    ok = False
    try:
        ran = workers.run_share(st, objective, call["trials"], call["timeout"], worker, wait=beats)
        ok = True
    finally:
        codes = helpers.join(ok) if helpers else []
    if any(codes):
        emit("warning", {"message": f"helper process exit codes {codes}; their trials were failed or retried"})
    search_seconds = time.perf_counter() - t_search
    done = studies.finished(st)
    if helper_of is None and workers.is_finisher(st, worker):
        try:
            result = finalize(
                str(call["data"]), st, objective, prep.sets, prep.ds, cl, v.uri, parent_id, call["register_name"]
            )
        except BaseException:
            cl.set_terminated(parent_id, status="FAILED")
            raise
        st.set_user_attr("finalized_at", done)
        st.set_user_attr("model", {"uri": result.model_uri, **result.registered_model})
    else:
        result = summarize(st, parent_id, v.exp_id)
    winner = prep.sets.get(result.backbone) or prep.sets[specs[0].name]
    result.cache = {
        "hit": prep.hit,
        "key": winner.entry.key,
        "dir": str(v.cache.root),
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
    result.seconds = {
        "features": round(sum(fs.seconds for fs in prep.sets.values()), 3),
        "search": round(search_seconds, 3),
        "total": round(time.perf_counter() - t0, 3),
    }
    result.storage = v.storage_url
    result.worker = {"id": worker, "trials_run": ran, "stale_retried": stale + len(v.on_stale.seen)}
    if result.finalized:
        tracking.log_metrics(cl, parent_id, {f"seconds_{k}": val for k, val in result.seconds.items()})
        cl.set_terminated(parent_id, status="FINISHED")
    return result
