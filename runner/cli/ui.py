"""``runner ui``: the MLflow UI for runner's tracking store, on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import typer

from runner import tracking
from runner.errors import RunnerError

EXAMPLES = "Examples:\n\n  runner ui\n\n  runner ui --port 5001 --tracking-uri sqlite:///elsewhere/mlflow.db"


def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow store (default: $MLFLOW_TRACKING_URI or sqlite:///mlruns/mlflow.db).")
    ] = None,
) -> None:
    """Start the MLflow UI on the same store `runner search` writes to."""
    uri = tracking.tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        raise RunnerError(
            "the tracking URI is already a server",
            received=uri,
            expected="a local store",
            fix=f"open {uri} in a browser",
        )
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    typer.echo(f"MLflow UI on http://127.0.0.1:{port} for {uri} (Ctrl+C to stop)", err=True)
    raise typer.Exit(subprocess.call(cmd))
