"""``runner ui``: the MLflow UI for runner's tracking store, on 127.0.0.1. Stopping ``runner ui`` in any way
(Ctrl+C, SIGTERM, SIGHUP) stops everything it started: the server runs in its own process group, which is
terminated as a whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from typing import Annotated, Any

import typer

from runner import tracking
from runner.errors import RunnerError

EXAMPLES = "Examples:\n\n  runner ui\n\n  runner ui --port 5001 --tracking-uri sqlite:///elsewhere/mlflow.db"


def _stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM to the server's whole process group (uvicorn workers, job consumers), SIGKILL after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; its children may linger a moment
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return


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
            received=tracking.redact(uri),
            expected="a local store",
            fix=f"open {tracking.redact(uri)} in a browser",
        )
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port)]
    link = tracking.ui_link(port=port)
    typer.echo(f"MLflow UI on {link} for {uri} (Ctrl+C to stop)", err=True)
    env = {**os.environ, "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore")}
    # MLflow's job runner (7 huey processes) serves GenAI jobs that runner never submits: off unless asked for
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    quiet = os.environ.get("RUNNER_QUIET") == "1"  # the server's own log lines only with runner --verbose
    log = tempfile.TemporaryFile("w+") if quiet else None
    proc = subprocess.Popen(cmd, start_new_session=True, env=env, stdout=log, stderr=log)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    code = 0  # stopped by the user (Ctrl+C, SIGTERM): the normal way to end it
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        typer.echo("stopping the MLflow UI", err=True)
    finally:
        _stop_group(proc)
    if code != 0 and log is not None:  # it failed on its own (a port in use...): say why
        log.seek(0)
        typer.echo("".join(log.readlines()[-15:]), err=True)
    raise typer.Exit(code)
