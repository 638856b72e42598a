"""Built-in classifier heads: one head per module, each ending with its registration."""

from __future__ import annotations

from heads import dense, linear, mlp  # noqa: F401  (importing a head registers it)
