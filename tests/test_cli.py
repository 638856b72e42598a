"""The CLI as a user runs it: one JSON object with --json, one error line (no traceback) for mistakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_kaggle


def run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "RUNNER_CACHE_DIR": str(cwd / "cache"), "KERAS_HOME": str(cwd / "keras"), **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600
    )


def test_help_does_not_import_tensorflow(tmp_path: Path) -> None:
    code = "import sys, runner.cli; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    out = run(["--help"], tmp_path)
    assert out.returncode == 0 and "search" in out.stdout and "Examples" in out.stdout
    assert "runner search --data" in run(["search", "--help"], tmp_path).stdout


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["search", "--data", "missing/folder"], "data path does not exist; received 'missing/folder'"),
        (["search", "--backbone", "vgg61"], "unknown backbone; received 'vgg61'"),
        (["search", "--val-fraction", "0"], "bad --val-fraction; received 0.0"),
        (["search", "--memory-budget", "0"], "bad --memory-budget; received 0.0"),
        (["search", "--weights", "nope.h5", "--backbone", "tiny_cnn"], "weights file not found"),
        (["cache", "clear"], "nothing to clear"),
    ],
)
def test_user_mistakes_get_one_line(tmp_path: Path, args: list[str], match: str) -> None:
    out = run(args, tmp_path)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and match in lines[-1] and "fix:" in lines[-1]
    assert "Traceback" not in out.stderr


def test_search_json_then_cache_commands(tmp_path: Path) -> None:
    make_kaggle(tmp_path / "flat", per_class=6)
    args = [
        "search",
        "--data",
        "flat",
        "--backbone",
        "tiny_cnn",
        "--weights",
        "none",
        "--trials",
        "2",
        "--epochs",
        "3",
        "--memory-budget",
        "64",  # (streaming under a small budget is tested in test_train.py; too small a one in test_halving.py)
        "--json",
    ]
    out = run(args, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout)  # stdout is exactly one JSON object
    for key in ("parent_run_id", "best_trial", "best_params", "best_metrics", "model_uri", "registered_model", "cache"):
        assert key in res
    assert {"val_accuracy", "val_log_loss"} <= set(res["best_metrics"])
    assert res["registered_model"] == {"name": "flat-tiny_cnn", "version": 1} and res["cache"]["hit"] is False
    assert "extracting features 12/12" in out.stderr and "trial   1" in out.stderr
    for noise in ("absl", "oneDNN", "I0000", "INFO mlflow", "Successfully registered", "Created version", "Warning"):
        assert noise not in out.stderr, noise  # only runner's own lines (--verbose shows the libraries' logs)
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and (tmp_path / "mlruns" / "optuna.db").is_file()

    listed = json.loads(run(["cache", "list", "--json"], tmp_path).stdout)["entries"]
    assert res["cache"]["key"] in [e["key"] for e in listed] and len(listed) == 2  # and the mirror images
    cleared = run(["cache", "clear", res["cache"]["key"]], tmp_path)
    assert cleared.returncode == 0 and "removed 1 cache entry" in cleared.stdout
    (left,) = json.loads(run(["cache", "list", "--json"], tmp_path).stdout)["entries"]
    assert left["key"] != res["cache"]["key"]


def _answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except OSError:
        return False


def _procs() -> list[tuple[int, int, str]]:
    """(pid, process group, command line) of every live process but this one (zombies are not running)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        if stat.parent.name == str(os.getpid()):
            continue
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z":
            found.append((int(stat.parent.name), int(fields[2]), cmd))
    return found


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_ui_stops_everything_it_started(tmp_path: Path, sig: str) -> None:
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "store"
    env = {**os.environ, "RUNNER_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "runner.cli", "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{store}/m.db"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _answers(port):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "timeout"
            time.sleep(1)
        groups = {g for _, g, cmd in _procs() if str(store) in cmd and "runner.cli" not in cmd}
        assert groups, "the server's processes should be visible while it runs"
        proc.send_signal(getattr(signal, sig))
        proc.wait(timeout=60)
    finally:  # a failed assertion above must not leave a server behind
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
    time.sleep(1)
    assert not _answers(port), f"port {port} still answers after {sig}"
    left = [cmd for _, g, cmd in _procs() if g in groups]  # the server, its uvicorn workers, its job consumers
    assert left == [], f"left running after {sig}: {left}"


def test_read_only_commands_never_create_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """predict, evaluate, export, studies and cache list run where no search ran: no ./mlruns appears, and a model
    that is not there is reported with the store that was looked in."""
    from typer.testing import CliRunner

    from runner.cli.main import app
    from runner.errors import RunnerError

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "cache"))
    make_kaggle(tmp_path / "imgs", per_class=2)
    store = tmp_path / "mlruns" / "mlflow.db"
    for args in (
        ["predict", "models:/nope/1", "imgs"],
        ["evaluate", "models:/nope/1", "imgs"],
        ["export", "models:/nope/1", "--format", "keras", "--out", "m.keras"],
        ["studies", "list"],
    ):
        with pytest.raises(RunnerError, match="no (MLflow store|Optuna storage) here") as err:
            CliRunner().invoke(app, args, catch_exceptions=False)
        assert str(tmp_path / "mlruns") in str(err.value), err.value
    assert CliRunner().invoke(app, ["cache", "list"]).exit_code == 0
    assert not store.exists() and not (tmp_path / "mlruns").exists() and not (tmp_path / "cache").exists()
