"""Several workers on one study: exact totals, one parent run, one extraction, crash-safe resume, PostgreSQL and
an MLflow tracking server (when available), cross-validation and study reports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_folders

import runner
from runner import tracking
from runner.errors import RunnerError
from runner.searching import study as studies

ARGS = ["--backbone", "mobilenet_v2_035", "--weights", "none", "--image-size", "32", "--epochs", "3", "--json"]
ARGS += ["--ensemble", "1", "--no-tta", "--no-refit"]  # fast finish; the PostgreSQL test finishes as by default
DEFAULT_FINISH = ["--ensemble", "5", "--tta", "--refit"]
SLOW_HEAD = '''
import time
from heads.dense import DenseHead
from runner.plugins.registry import register_head

@register_head("slow_dense")
class SlowDense(DenseHead):
    """The dense head, 4 s slower to build: a trial long enough to kill mid-way."""
    def build(self, feature_shape, n_classes, params):
        time.sleep(4)
        return super().build(feature_shape, n_classes, params)
'''


def worker(cwd: Path, args: list[str], env: dict | None = None) -> subprocess.Popen:
    full = {**os.environ, "RUNNER_CACHE_DIR": str(cwd / "cache"), "KERAS_HOME": str(cwd / "keras"), **(env or {})}
    full.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, "-m", "runner.cli", "search", *ARGS, *args]
    return subprocess.Popen(cmd, cwd=cwd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen) -> dict:
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[:2500] + " ... " + err[-1500:]
    return json.loads(out)


def load(storage: str, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=studies.storage(storage))


def check_shared_study(storage: str, uri: str, name: str, total: int, results: list[dict]) -> None:
    """Exactly ``total`` counted trials, unique numbers, one child run per trial, all under one parent run, the
    model registered by exactly one worker, the features extracted by exactly one."""
    st = load(storage, name)
    counted = [t for t in st.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == total
    assert all(t.user_attrs.get("surplus") for t in st.trials if t.state.name == "FAIL")
    assert len({r["parent_run_id"] for r in results}) == 1
    assert sum(r["finalized"] for r in results) == 1 and sum(not r["cache"]["hit"] for r in results) == 1
    assert sum(r["worker"]["trials_run"] for r in results) == total
    cl = tracking.client(uri)
    runs = cl.search_runs([results[0]["experiment_id"]], max_results=1000)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(runs) - len(children) == 1
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {results[0]["parent_run_id"]}
    numbers = [c.data.tags["trial_number"] for c in children]
    assert len(numbers) == len(set(numbers)) == total
    assert sorted(int(n) for n in numbers) == sorted(t.number for t in counted)
    versions = cl.search_model_versions(
        f"name='{[r for r in results if r['finalized']][0]['registered_model']['name']}'"
    )
    assert len(versions) == 1


def test_workers_creating_the_experiment_at_once_share_it(workdir: Path) -> None:
    """Two workers that start together both find no experiment and both create it: the second one's create fails
    (it exists), and that worker uses the other's (before, the study's creator died of it and the other worker
    waited 300 s for a parent run that never came)."""
    uri = tracking.tracking_uri()
    cl = tracking.client(uri)
    theirs = tracking.experiment_id(cl, uri, "race")  # the other worker, a moment earlier
    real, calls = cl.get_experiment_by_name, []

    def looked_too_early(name: str):
        calls.append(name)
        return None if len(calls) == 1 else real(name)

    cl.get_experiment_by_name = looked_too_early
    assert tracking.experiment_id(cl, uri, "race") == theirs and len(calls) == 2


def test_two_workers_share_a_journal_study(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=8)
    storage = f"journal://{workdir / 'study.log'}"
    args = ["--data", str(root), "--trials", "4", "--study", "shared", "--storage", storage]
    procs = [worker(workdir, args) for _ in range(2)]
    results = [finish(p) for p in procs]
    check_shared_study(storage, tracking.tracking_uri(), "shared", 4, results)


def test_n_jobs_runs_helper_processes_on_sqlite(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=8)
    kinds: list[str] = []
    r = runner.search(
        str(root),
        trials=4,
        n_jobs=2,
        epochs=3,
        backbone="mobilenet_v2_035",
        weights="none",
        image_size=32,
        study="jobs",
        on_event=lambda kind, p: kinds.append(kind),
    )
    st = load(r.storage, "jobs")
    assert r.finalized and sum(r.n_trials.values()) == 4 and kinds.count("trial") == 4
    assert len({t.user_attrs["worker"] for t in st.trials}) == 1  # helpers work under the main worker's id
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in st.trials) == 4


def _wait_running(p: subprocess.Popen, storage: str, name: str, timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert p.poll() is None, p.communicate()[1][-2000:]
        try:
            st = load(storage, name)
            running = [t for t in st.trials if t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs]
            if running:
                return running[0].number
        except (KeyError, ValueError):
            pass  # not created yet
        time.sleep(0.2)
    raise AssertionError("no trial started")


def test_killed_worker_then_resume_retries_the_stale_trial(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=8)
    (workdir / "slow.py").write_text(SLOW_HEAD)
    storage = f"sqlite:///{workdir / 'optuna.db'}"
    args = ["--data", str(root), "--trials", "3", "--study", "crash", "--storage", storage, "--heartbeat", "1"]
    args += ["--code", str(workdir / "slow.py"), "--head", "slow_dense"]
    p = worker(workdir, args)
    killed = _wait_running(p, storage, "crash")
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = finish(worker(workdir, [*args, "--resume"]))
    st = load(storage, "crash")
    dead = st.trials[killed]
    assert dead.state.name == "FAIL"
    retry = [t for t in st.trials if t.user_attrs.get("retry_of") == killed]
    assert len(retry) == 1 and retry[0].params == dead.params and retry[0].state.name in ("COMPLETE", "PRUNED")
    assert r["finalized"] and r["cache"]["hit"] and sum(t.state.name in ("COMPLETE", "PRUNED") for t in st.trials) == 3
    assert r["worker"]["stale_retried"] == 1
    cl = tracking.client(tracking.tracking_uri())
    assert cl.get_run(dead.user_attrs["mlflow_run_id"]).info.status == "FAILED"
    children = [x for x in cl.search_runs([r["experiment_id"]]) if "mlflow.parentRunId" in x.data.tags]
    numbers = [c.data.tags["trial_number"] for c in children]
    assert len(numbers) == len(set(numbers)) == len(st.trials)  # one child run per trial, none duplicated
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {r["parent_run_id"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(workdir: Path):
    port = _free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", f"sqlite:///{workdir / 'server.db'}", "--artifacts-destination", str(workdir / "a")]
    cmd += ["--workers", "2"]
    log = open(workdir / "mlflow-server.log", "w")
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip(
                    f"could not start an MLflow tracking server: {(workdir / 'mlflow-server.log').read_text()[-300:]}"
                )
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_two_workers_postgresql_and_tracking_server(workdir: Path, mlflow_server: str) -> None:
    url = os.environ.get("RUNNER_TEST_POSTGRES")
    if not url:
        pytest.skip("no PostgreSQL server: set RUNNER_TEST_POSTGRES=postgresql://... (`.ci/run` starts one)")
    root = make_folders(workdir / "train", per_class=8)
    name = f"pg-{os.getpid()}-{int(time.time())}"
    secret = f"pw-{os.getpid()}-never-shown"  # the test server trusts every password: this one must leak nowhere
    url_pw = url.replace("postgresql://postgres@", f"postgresql://postgres:{secret}@")
    assert secret in url_pw
    args = ["--data", str(root), "--trials", "4", "--study", name, "--storage", url_pw, "--tracking-uri", mlflow_server]
    args += DEFAULT_FINISH  # the finishing worker reads the other worker's predictions through the tracking server
    procs = [worker(workdir, args) for _ in range(2)]
    texts = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [t[1][-2000:] for t in texts]
    assert not any(secret in out or secret in err for out, err in texts)
    results = [json.loads(out) for out, _ in texts]
    assert {r["storage"] for r in results} == {url}  # shown as postgresql://user@host/db
    check_shared_study(url, mlflow_server, name, 4, results)
    cl = tracking.client(mlflow_server)
    for run in cl.search_runs([results[0]["experiment_id"]], max_results=1000):
        assert secret not in json.dumps([run.data.params, run.data.tags])
    parent = results[0]["parent_run_id"]
    local = Path(cl.download_artifacts(parent, "", str(workdir / "artifacts")))
    files = [f for f in local.rglob("*") if f.is_file() and f.stat().st_size < 5_000_000]
    assert files and not any(secret.encode() in f.read_bytes() for f in files)


def test_folds_repeats_and_study_report(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=8)
    r = runner.search(
        str(root), trials=2, folds=3, repeats=2, epochs=3, backbone="mobilenet_v2_035", weights="none", image_size=32
    )
    assert {"val_log_loss", "cv_val_log_loss", "cv_val_log_loss_std", "cv_n_fits"} <= set(r.best_metrics)
    assert r.best_metrics["cv_n_fits"] == 6.0  # 3 folds x 2 seeds
    cl = tracking.client(tracking.tracking_uri())
    child = [x for x in cl.search_runs([r.experiment_id]) if "mlflow.parentRunId" in x.data.tags][0]
    assert {"val_accuracy", "val_accuracy_std"} <= set(child.data.metrics)
    arts = {a.path for a in cl.list_artifacts(r.parent_run_id, "report")}
    assert arts == {"report/trials.csv", "report/study.html"}
    from typer.testing import CliRunner

    from runner.cli.main import app

    rows = json.loads(CliRunner().invoke(app, ["studies", "list", "--json"]).stdout)
    assert [row["study"] for row in rows] == [r.study_name] and sum(rows[0]["trials"].values()) == 2
    shown = CliRunner().invoke(app, ["studies", "show", r.study_name]).stdout
    assert f"best trial  #{r.best_trial}" in shown and "models:/" in shown
    with pytest.raises(RunnerError, match="no such study"):
        CliRunner().invoke(app, ["studies", "show", "nope"], catch_exceptions=False)
    with pytest.raises(RunnerError, match="--folds is larger than the smallest class"):
        runner.search(str(root), trials=1, folds=9, backbone="mobilenet_v2_035", weights="none", image_size=32)
