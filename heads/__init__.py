"""Built-in classifier heads: one head per module, each ending with its registration."""

from __future__ import annotations

from heads import dense  # noqa: F401  (imports register the heads)
