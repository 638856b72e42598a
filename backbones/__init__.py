"""Built-in backbones: one family per module, each ending with its registrations."""

from __future__ import annotations

from backbones import mobilenet_v2, tiny, vgg  # noqa: F401  (imports register the families)
