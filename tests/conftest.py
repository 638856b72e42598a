"""Shared fixtures: tiny generated image sets, temporary MLflow/cache/Keras homes, the shared real data."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]


def _expose_fixture_plugins() -> None:
    """The example plugin packages of tests/fixtures, visible as installed distributions (their entry points
    included) to this test session and the processes it starts, without installing anything: a temporary folder
    with their metadata goes on sys.path and PYTHONPATH. Already installed ones (pip install -e) are left alone."""
    import tempfile
    from importlib import metadata

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the plugin tests skip, as without the packages
        return

    root = Path(tempfile.mkdtemp(prefix="runner-test-plugins-"))
    paths = [str(root)]
    for pkg in sorted((REPO / "tests" / "fixtures").iterdir()):
        project = tomllib.loads((pkg / "pyproject.toml").read_text())["project"]
        try:
            metadata.distribution(project["name"])
            continue
        except metadata.PackageNotFoundError:
            pass
        info = root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        )
        groups = project.get("entry-points", {})
        lines = [f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for group, eps in groups.items()]
        (info / "entry_points.txt").write_text("\n".join(lines))
        paths.append(str(pkg))
    sys.path[:0] = paths
    os.environ["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [os.environ.get("PYTHONPATH")])])


_expose_fixture_plugins()


def shared_dir() -> Path | None:
    """``$RUNNER_SHARED`` or ``../shared`` next to the checkout; None when absent (a user's fresh clone)."""
    for cand in (os.environ.get("RUNNER_SHARED"), REPO.parent / "shared"):
        if cand and (Path(cand) / "data" / "dogs-vs-cats-300").is_dir():
            return Path(cand)
    return None


def write_image(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))


def class_image(label: int, rng: np.random.Generator) -> np.ndarray:
    """Class 0 is reddish, class 1 bluish, random sizes and noise: separable even by a random backbone."""
    h, w = rng.integers(24, 48, size=2)
    img = rng.integers(0, 60, size=(h, w, 3)).astype(np.uint8)
    img[:, :, 0 if label == 0 else 2] += 180
    return img


def make_folders(root: Path, per_class: int = 10, classes: tuple[str, ...] = ("cats", "dogs"), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for k, c in enumerate(classes):
        for i in range(per_class):
            write_image(root / c / f"{c[:-1]}.{i}.jpg", class_image(k % 2, rng))
    return root


def make_kaggle(root: Path, per_class: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for k, c in enumerate(("cat", "dog")):
        for i in range(per_class):
            write_image(root / f"{c}.{i}.jpg", class_image(k, rng))
    return root


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    return make_folders(tmp_path / "train")


@pytest.fixture
def kaggle(tmp_path: Path) -> Path:
    return make_kaggle(tmp_path / "flat")


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store, its tables created once per session (MLflow's migrations take 1-2 s a store)."""
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path) -> Path:
    """A clean cwd with its own MLflow store (a copy of an empty one: the same as a new one, made faster), cache
    and Keras home."""
    (tmp_path / "mlruns").mkdir()
    shutil.copy(empty_store, tmp_path / "mlruns" / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("RUNNER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared real photos and a temporary KERAS_HOME holding the real MobileNetV2-0.35 weights."""
    root = shared_dir()
    if root is None:
        pytest.skip("../shared (real photos and weights) is absent")
    home = tmp_path / "keras"
    shutil.copytree(root / "keras", home)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return root
