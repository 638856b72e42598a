"""``python -m runner.cli``: the same as the ``runner`` command."""

from __future__ import annotations

from runner.cli.main import main

main()
