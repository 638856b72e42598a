"""``runner audit``: injected label flips, exact and near duplicates, leaks into a test set, junk and unreadable
files are found; ``runner search --exclude`` leaves the flagged images out."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_folders

import runner
from runner import tracking

SMALL = {"backbone": "tiny_cnn", "weights": "none", "image_size": 32}  # separates the generated classes


def _dirty(root: Path) -> dict[str, object]:
    """Generated class folders with two flipped labels, an exact copy, a near copy, a junk and a broken file."""
    make_folders(root, per_class=14)
    flips = ["cats/cat.3.jpg", "dogs/dog.5.jpg"]
    moved = []
    for f in flips:  # the file keeps its name but lands in the other class's folder: its label is wrong
        other = "dogs" if f.startswith("cats") else "cats"
        target = root / other / Path(f).name
        shutil.move(root / f, target)
        moved.append(f"{other}/{Path(f).name}")
    shutil.copy(root / "cats" / "cat.1.jpg", root / "cats" / "cat.101.jpg")  # exact duplicate, another name
    (root / "dogs" / "dog.99.jpg").write_bytes(b"not an image")
    return {"flips": moved}


def test_audit_finds_what_was_injected(workdir: Path) -> None:
    root = workdir / "train"
    injected = _dirty(root)
    test = workdir / "test"
    make_folders(test, per_class=2, seed=5)
    shutil.copy(root / "dogs" / "dog.6.jpg", test / "dogs" / "dog.506.jpg")
    # generated noise images all look alike in pooled features: only identical files count as duplicates here
    # (near copies are found on the real photos below, and by the unit test of the neighbour search)
    r = runner.audit(str(root), test=str(test), folds=3, similarity=0.999999, out=str(workdir / "audit"), **SMALL)
    flagged = [x["path"] for x in r.label_issues]
    assert set(injected["flips"]) <= set(flagged), flagged
    assert len(flagged) <= 2 * len(injected["flips"]) + 2, flagged
    groups = {tuple(sorted(g["paths"])): g["kind"] for g in r.duplicates}
    assert groups == {("cats/cat.1.jpg", "cats/cat.101.jpg"): "exact"}, groups
    assert [(g["paths"], g["kind"]) for g in r.leaks] == [(["test:dogs/dog.506.jpg", "dogs/dog.6.jpg"], "exact")]
    assert r.unreadable == ["dogs/dog.99.jpg"] and r.classes == {"cats": 15, "dogs": 15}
    out = Path(r.out)
    for name in ("report.html", "audit.json", "label_issues.csv", "duplicates.csv", "leaks.csv", "outliers.csv"):
        assert (out / name).is_file(), name
    assert b"\r\n" not in (out / "label_issues.csv").read_bytes()
    assert "data:image/jpeg;base64," in (out / "report.html").read_text()  # thumbnails embedded: opens offline
    cl = tracking.client(tracking.tracking_uri())
    run = cl.get_run(r.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["n_label_issues"] == len(flagged)
    assert {a.path for a in cl.list_artifacts(r.run_id, "audit")} >= {"audit/report.html", "audit/audit.json"}

    # acting on it: the search leaves the flagged images out and says so
    s = runner.search(str(root), exclude=str(out / "label_issues.csv"), trials=1, epochs=2, **SMALL)
    params = cl.get_run(s.parent_run_id).data.params
    assert params["n_excluded"] == str(len(flagged))
    assert s.data["n_train"] + s.data["n_val"] == 30 - 1 - len(flagged)  # less the unreadable file and the flagged
    # the same audit scored by the search's own head configuration (its backbone, size, weights read from the model)
    by_model = runner.audit(str(root), model=s.parent_run_id, folds=3, similarity=0.999999, out=str(workdir / "m"))
    assert set(injected["flips"]) <= {x["path"] for x in by_model.label_issues}, by_model.label_issues
    listed = workdir / "by_hand.txt"
    listed.write_text("cats/cat.101.jpg\nnot/there.jpg\n")
    warnings: list[str] = []
    s2 = runner.search(
        str(root),
        exclude=str(listed),
        trials=1,
        epochs=2,
        on_event=lambda k, p: warnings.append(p.get("message", "")) if k == "warning" else None,
        **SMALL,
    )
    assert s2.data["n_train"] + s2.data["n_val"] == 30 - 1 - 1
    assert any("not/there.jpg" in w for w in warnings)


def test_neighbour_search_is_blockwise_and_finds_near_copies_and_outliers() -> None:
    from runner.audit import neighbours

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 64)).astype(np.float32)
    x[:] = x[250] + 0.3 * rng.normal(size=(300, 64))  # one cloud: everyone has neighbours
    x[7], x[8] = x[3] + 0.01 * rng.normal(size=64), x[3] + 0.01 * rng.normal(size=64)  # two near copies of row 3
    x[42] = 5 * rng.normal(size=64)  # far from everything
    z = neighbours.normalised(x)
    full = neighbours.scan(z, 0.99, block=1000)
    small = neighbours.scan(z, 0.99, block=16)  # blocks of 16 rows: the same answer
    assert sorted(full.pairs) == sorted(small.pairs) and np.allclose(full.knn, small.knn, atol=1e-5)
    assert neighbours.groups(len(z), full.pairs) == [([3, 7, 8], pytest.approx(min(s for *_, s in full.pairs)))]
    assert np.flatnonzero(full.knn > neighbours.outlier_cut(full.knn)).tolist() == [42]
    assert [(a, b) for a, b, _ in neighbours.across(z[[7, 42]], z[:10], 0.99)] == [(0, 3), (0, 7), (0, 8)]


def test_audit_cli_json_has_exactly_the_six_keys(workdir: Path, folders: Path) -> None:
    cmd = [sys.executable, "-m", "runner.cli", "audit", "--data", str(folders), "--folds", "3", "--json"]
    cmd += ["--backbone", "tiny_cnn", "--weights", "none", "--image-size", "32", "--out", str(workdir / "a")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=workdir)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout)
    assert list(found) == ["label_issues", "duplicates", "leaks", "outliers", "unreadable", "classes"]
    assert found["classes"] == {"cats": 10, "dogs": 10}
    bad = subprocess.run(
        cmd[:4] + ["--data", str(folders), "--folds", "1"], capture_output=True, text=True, cwd=workdir
    )
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: bad --folds")


@pytest.mark.slow
def test_audit_on_the_real_photos_finds_flips_and_copies(shared: Path, workdir: Path) -> None:
    """10% of the 300 shared photos get the other label, 10 get a resized or cropped, recompressed copy."""
    src = shared / "data" / "dogs-vs-cats-300"
    root = workdir / "photos"
    shutil.copytree(src, root)
    rng = np.random.default_rng(7)
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    flips = []
    for name in rng.choice(names, size=30, replace=False):
        other = "dogs" if name.startswith("cats/") else "cats"
        shutil.move(root / name, root / other / Path(name).name)
        flips.append(f"{other}/{Path(name).name}")
    copies = {}
    for k, name in enumerate(n for n in names[::29] if not any(n.endswith("/" + Path(f).name) for f in flips)):
        img = cv2.imread(str(root / name))
        h, w = img.shape[:2]
        img = cv2.resize(img, None, fx=0.7, fy=0.7) if k % 2 else img[h // 20 : -h // 20, w // 20 : -w // 20]
        copy = name.replace(".jpg", "_copy.jpg")
        cv2.imwrite(str(root / copy), img, [cv2.IMWRITE_JPEG_QUALITY, 60])
        copies[copy] = name
    r = runner.audit(str(root), backbone="mobilenet_v2_035", weights="imagenet", image_size=224, out=str(workdir / "a"))
    flagged = [x["path"] for x in r.label_issues]
    found = len(set(flagged) & set(flips))
    assert found >= 0.8 * len(flips) and len(flagged) <= 2 * len(flips), (found, len(flagged))
    grouped = {p: set(g["paths"]) for g in r.duplicates for p in g["paths"]}
    assert all(original in grouped.get(copy, set()) for copy, original in copies.items()), r.duplicates
    with open(Path(r.out) / "duplicates.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) >= 2 * len(copies)
