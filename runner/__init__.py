"""runner: transfer learning on small image datasets.

Cached backbone features, an Optuna search over classifier heads, MLflow tracking. Importing ``runner`` is cheap:
TensorFlow, MLflow and Optuna are imported only where they are used.

The API (the CLI is a thin layer over it)::

    import runner
    result = runner.search("train/", backbone="mobilenet_v2_035", trials=30)    # or runner.search(SearchConfig(...))
    runner.finetune(result.parent_run_id, unfreeze_blocks=1)
    runner.predict("models:/train-mobilenet_v2_035/1", "test/", "submission.csv")
    runner.evaluate("models:/train-mobilenet_v2_035/1", "holdout/")
    runner.export("models:/train-mobilenet_v2_035/1", "keras", "model.keras")
    runner.audit("train/", backbone="mobilenet_v2_035", test="test/")                 # wrong labels, duplicates, leaks
"""

from __future__ import annotations

from runner.audit.config import AuditConfig
from runner.audit.run import AuditResult, audit
from runner.errors import RunnerError
from runner.finetuning.config import FinetuneConfig
from runner.finetuning.run import FinetuneResult, finetune
from runner.plugins.registry import get_backbone, get_head, register_backbone, register_head
from runner.plugins.specs import BackboneSpec, Head
from runner.searching.config import SearchConfig
from runner.searching.finalize import SearchResult
from runner.searching.run import search
from runner.use.evaluate import EvalResult, evaluate
from runner.use.export import ExportResult, export
from runner.use.predict import PredictResult, predict

__version__ = "0.1.0"
__all__ = [
    "AuditConfig",
    "AuditResult",
    "BackboneSpec",
    "EvalResult",
    "ExportResult",
    "FinetuneConfig",
    "FinetuneResult",
    "Head",
    "PredictResult",
    "RunnerError",
    "SearchConfig",
    "SearchResult",
    "audit",
    "evaluate",
    "export",
    "finetune",
    "get_backbone",
    "get_head",
    "predict",
    "register_backbone",
    "register_head",
    "search",
]
