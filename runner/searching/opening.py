"""Opening a search: plugins, backbones and heads, the data, the weights, the study (created or joined) and its one
MLflow parent run. Everything here happens before any feature is extracted; every worker opens the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner import tracking
from runner.data.exclude import Exclusion, read_exclusion
from runner.data.load import load_dataset
from runner.errors import DataError
from runner.features.cache import FeatureCache
from runner.features.extract import Weights, resolve_weights
from runner.plugins.code import load_code
from runner.plugins.registry import get_backbone, get_head
from runner.plugins.specs import BackboneSpec, Head
from runner.searching import study as studies
from runner.searching.config import SearchConfig

if TYPE_CHECKING:  # pragma: no cover
    from runner.data.dataset import Dataset


@dataclass
class Opened:
    """What a worker has opened before features are loaded."""

    config: SearchConfig
    ds: Dataset
    val_ds: Dataset | None
    specs: list[BackboneSpec]
    heads: dict[str, Head]
    sizes: dict[str, int]
    weights: dict[str, Weights]
    cache: FeatureCache
    uri: str
    storage_url: str
    heartbeat: bool  # the storage has heartbeats: dead workers' trials are failed and retried while running
    study: Any  # optuna.Study
    client: Any  # mlflow.MlflowClient
    experiment_id: str
    parent_run_id: str
    on_stale: studies.StaleTrials
    excluded: list[int]  # positions in ds that --exclude leaves out
    unknown_excluded: list[str]  # paths --exclude lists that ds does not have


def open_search(config: SearchConfig, *, helper: bool = False) -> Opened:
    """Check everything that can be checked cheaply, then create or join the study and its parent run.

    ``helper``: a helper process of a worker that has already checked the study can be joined.
    """
    for path in config.code:
        load_code(path)
    specs = [get_backbone(n) for n in config.backbones]
    heads = {n: get_head(n) for n in config.heads}
    weights_for = config.weights_for([s.name for s in specs])
    sizes = config.image_sizes(specs)

    ds = load_dataset(config.data, config.per_class)
    exclusion = read_exclusion(config.exclude, ds) if config.exclude else Exclusion([], [])
    val_ds = load_dataset(config.val_data) if config.val_data is not None else None
    if val_ds is not None and val_ds.classes != ds.classes:
        raise DataError(
            "validation classes differ from training classes",
            received=val_ds.classes,
            expected=str(ds.classes),
            fix="use the same class names in --val-data",
        )

    uri = tracking.tracking_uri(config.tracking_uri)
    storage_url = config.storage or tracking.default_storage(uri)
    cache = FeatureCache(config.cache_dir)
    resolved = {
        s.name: resolve_weights(s, weights_for[s.name], sizes[s.name], config.seed, cache.hash_index) for s in specs
    }
    ds.digests(cache.hash_index, rehash=config.rehash)
    on_stale = studies.StaleTrials()
    store = studies.storage(storage_url, config.heartbeat, on_stale)
    prefix = f"{ds.name}-{'+'.join(s.name for s in specs)}-"
    st, created = studies.open_study(store, config.study, prefix, config.resume, config.seed, maximize=config.maximize)
    if not created and not helper:
        studies.check_joinable(st, config.trials, config.resume)
    cl = tracking.client(uri)
    on_stale.client = cl
    exp_id = tracking.experiment_id(cl, uri, config.experiment)
    parent_id = tracking.parent_run(cl, exp_id, st, created, ds.fingerprint(), ds.name)
    return Opened(
        config=config,
        ds=ds,
        val_ds=val_ds,
        specs=specs,
        heads=heads,
        sizes=sizes,
        weights=resolved,
        cache=cache,
        uri=uri,
        storage_url=storage_url,
        heartbeat=studies.has_heartbeat(storage_url),
        study=st,
        client=cl,
        experiment_id=exp_id,
        parent_run_id=parent_id,
        on_stale=on_stale,
        excluded=exclusion.rows,
        unknown_excluded=exclusion.unknown,
    )
