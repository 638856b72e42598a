"""``runner audit``: wrong labels, duplicates, leaks, outliers and unreadable files in a dataset."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import typer

from runner.audit.config import AuditConfig
from runner.cli.options import JSON, with_options
from runner.cli.progress import Steps

EXAMPLES = (
    "Examples:\n\n"
    "  runner audit --data train/ --backbone mobilenet_v2_035 --image-size 224\n\n"
    "  runner audit --data train/ --test test_labelled/ --json > audit.json\n\n"
    "  runner search --data train/ --exclude audit/label_issues.csv   # leave the flagged images out"
)


class _Progress:
    """Extraction progress (a bar on a terminal), then one line saying what the features took."""

    def __init__(self) -> None:
        self.steps = Steps("extracting features")

    def __call__(self, kind: str, p: dict[str, Any]) -> None:
        if kind != "extract":
            return
        if p["done"] < p["total"] or self.steps.live:
            self.steps(p["done"], p["total"], p["seconds"])
        if p["done"] == p["total"]:
            self.steps.line(f"features: {p['total']} images ({p['seconds']:.1f}s)")


@with_options(AuditConfig, before=[], after=[JSON])
def audit(as_json: bool = False, **options: Any) -> None:
    """Find wrong labels, duplicates, leaks into --test, outliers and unreadable files, on cached features."""
    from runner.audit.run import audit as run_audit

    config = AuditConfig(**options)
    with contextlib.redirect_stdout(sys.stderr):
        r = run_audit(config, on_event=_Progress())
    if as_json:
        typer.echo(json.dumps(r.findings()))
        return
    counts = ", ".join(f"{c} {n}" for c, n in r.classes.items())
    lines = [
        f"{'classes':14}{counts}",
        f"{'label issues':14}{len(r.label_issues)}",
        *(f"{'':14}{x['path']}: {x['given']} -> {x['suggested']} ({x['score']:.3f})" for x in r.label_issues[:5]),
        f"{'duplicates':14}{len(r.duplicates)} group(s)",
        f"{'leaks':14}{len(r.leaks)}" + ("" if config.test else " (no --test given)"),
        f"{'outliers':14}{len(r.outliers)}",
        f"{'unreadable':14}{len(r.unreadable)}",
        f"{'report':14}{r.out}/report.html (CSVs and audit.json beside it)",
        f"{'MLflow run':14}{r.run_id}",
        f"{'seconds':14}{r.seconds}",
    ]
    typer.echo("\n".join(lines))
