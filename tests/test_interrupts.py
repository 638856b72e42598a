"""Ctrl+C on a real ``runner search`` process: it stops within seconds, says in one line what is kept and the exact
command that continues, leaves nothing running, and ``--resume`` then reaches the exact total."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import make_folders

from runner import tracking


def test_ctrl_c_stops_a_search_cleanly_and_resume_finishes_it(workdir: Path) -> None:
    import optuna

    root = make_folders(workdir / "train", per_class=8)
    env = {**os.environ}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = ["search", "--data", str(root), "--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32"]
    args += ["--trials", "6", "--epochs", "30", "--study", "stopped", "--ensemble", "1", "--no-tta", "--no-refit"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", *args], cwd=workdir, env=env, stderr=subprocess.PIPE, text=True
    )
    seen = []
    while not (line := proc.stderr.readline()).startswith("trial   0"):
        assert line, "".join(seen)
        seen.append(line)
    proc.send_signal(signal.SIGINT)
    t = time.monotonic()
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and time.monotonic() - t < 20
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines[-1].startswith("interrupted: ") and "--resume --study stopped" in lines[-1], err[-1500:]
    for noise in ("Traceback", "Exception ignored", "KeyboardInterrupt"):
        assert noise not in err, err[-2000:]

    uri = tracking.tracking_uri()
    st = optuna.load_study(study_name="stopped", storage=tracking.default_storage(uri))
    assert not [t for t in st.trials if t.state.name == "RUNNING"]
    cl = tracking.client(uri)
    runs = cl.search_runs([cl.get_experiment_by_name("runner").experiment_id])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parent) == 1 and parent[0].info.status == "KILLED"
    assert not [r for r in runs if r.info.status == "RUNNING"]
    interrupted = [r for r in runs if r.data.tags.get("state") == "interrupted"]
    assert all(r.info.status == "KILLED" for r in interrupted)

    command = shlex.split(lines[-1].split("continue with: ", 1)[1])
    assert command[0] == "runner"
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", *command[1:], "--json"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    st = optuna.load_study(study_name="stopped", storage=tracking.default_storage(uri))
    counted = [t for t in st.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(counted) == 6 and result["finalized"]
    best = min(t.value for t in st.trials if t.state.name == "COMPLETE")
    assert result["best_metrics"]["val_log_loss"] == best  # the best over the whole study, both runs
    assert cl.get_run(result["parent_run_id"]).info.status == "FINISHED"


def _slow_model(path: Path) -> None:
    """A model that takes tens of milliseconds per image: long enough to be interrupted mid-way."""
    import keras

    inp = keras.Input((160, 160, 3))
    x = inp
    for _ in range(3):
        x = keras.layers.Conv2D(48, 3, padding="same", activation="relu")(x)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inp, out).save(path)


def test_ctrl_c_stops_predict_and_evaluate_with_one_line_and_keeps_old_output(workdir: Path) -> None:
    """Real ``runner predict`` / ``runner evaluate`` processes get SIGINT mid-way: exit 130 within seconds, one
    line that says what happened, no traceback, and a predictions file written before is left as it was."""
    root = make_folders(workdir / "labelled", per_class=150, classes=("class_0", "class_1"))  # a bare model's names
    _slow_model(workdir / "m.keras")
    (workdir / "p.csv").write_text("id,label\nkept,0.5\n")
    env = {**os.environ}
    env.pop("MLFLOW_TRACKING_URI", None)
    commands = {
        "predict": ["predict", "m.keras", str(root / "class_0"), "--out", "p.csv", "--batch-size", "1"],
        "evaluate": ["evaluate", "m.keras", str(root), "--no-log"],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "runner.cli", *args], cwd=workdir, env=env, stderr=subprocess.PIPE, text=True
        )
        for name, args in commands.items()
    }
    for proc in procs.values():
        seen = []
        while not (line := proc.stderr.readline()).startswith(("predicting ", "evaluating ")):  # it is working
            assert line, "".join(seen)
            seen.append(line)
        proc.send_signal(signal.SIGINT)
    last = {}
    for name, proc in procs.items():
        t = time.monotonic()
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 130 and time.monotonic() - t < 20, (name, err[-1500:])
        last[name] = [x for x in err.splitlines() if x.strip()][-1]
        assert last[name].startswith("interrupted"), (name, err[-1500:])
        for noise in ("Traceback", "Exception ignored", "KeyboardInterrupt"):
            assert noise not in err, (name, err[-2000:])
    assert last["predict"] == "interrupted: no predictions file was written"
    assert (workdir / "p.csv").read_text() == "id,label\nkept,0.5\n"  # the earlier file, untouched
