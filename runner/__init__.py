"""runner: transfer learning on small image datasets.

Cached backbone features, an Optuna search over classifier heads, MLflow tracking. Importing
``runner`` is cheap: TensorFlow is imported only where a model is built.
"""

from __future__ import annotations

from runner.errors import RunnerError
from runner.plugins.registry import get_backbone, get_head, register_backbone, register_head
from runner.plugins.specs import BackboneSpec, Head
from runner.searching.run import SearchResult, search  # noqa: E402  (function shadows the module name)

__version__ = "0.1.0"
__all__ = [
    "BackboneSpec",
    "Head",
    "RunnerError",
    "SearchResult",
    "get_backbone",
    "get_head",
    "register_backbone",
    "register_head",
    "search",
]
