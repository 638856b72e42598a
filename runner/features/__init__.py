"""Backbone features, computed once: weights, extraction into the on-disk cache (keyed by content), the end-to-end
model built on the very weights the features came from, augmented views, and reading cached rows within a memory
budget. May import :mod:`runner.data` and :mod:`runner.plugins`."""
