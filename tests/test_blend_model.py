"""The registered model of a search applies the blend it chose (members and weights, the probe among them,
mirror-image averaging, temperature), and so do predict, evaluate and every export format."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from conftest import make_folders

import runner
from runner.data.load import load_dataset
from runner.metrics import classification_metrics, scale
from runner.searching import members as members_mod
from runner.searching.probe import PROBE
from runner.use.load import load

SMALL = {"backbone": "tiny_cnn", "weights": "none", "image_size": 32, "epochs": 4}  # separates the classes


def _by_hand(model, ens: dict, x: np.ndarray) -> np.ndarray:
    """The blend computed from the model's own parts: each member's head on the backbone's features of the image
    and (with TTA) of its mirror image, weighted, then temperature-scaled in NumPy."""
    total = 0.0
    views = [x, x[:, :, ::-1]] if ens["tta"] else [x]
    for m in ens["members"]:
        pre, backbone, head = (model.get_layer(m[k]) for k in ("preprocess_layer", "backbone_layer", "layer"))
        p = sum(np.asarray(head(backbone(pre(v)))) for v in views) / len(views)
        total = total + m["weight"] * p
    return scale(total, ens["temperature"])


def test_registered_model_applies_ensemble_probe_tta_and_temperature(workdir: Path, monkeypatch, tmp_path) -> None:
    real = members_mod.decide

    def forced(plain, mirror, *args, **kwargs):  # the decisions a bigger data set would make, made here
        blend = real(plain, mirror, *args, **kwargs)
        best, other = sorted(t for t in plain if t != PROBE)[:2]
        blend.members, blend.tta, blend.temperature = {best: 0.5, other: 0.3, PROBE: 0.2}, True, 1.7
        blend.first = best
        return blend

    monkeypatch.setattr(members_mod, "decide", forced)
    root = make_folders(workdir / "train", per_class=12)
    r = runner.search(str(root), trials=3, seed=0, **SMALL)
    assert (
        r.backbone == "tiny_cnn"
        and r.model["tta"] is True
        and r.model["temperature"] == 1.7
        and len(r.model["members"]) == 3
        and r.model["members"]["probe"] == 0.2
    )
    assert r.model["refitted"] == 3
    assert set(r.model["val_scores"]) == {"best_single", "probe", "ensemble", "tta", "calibrated"}
    uri = f"models:/{r.registered_model['name']}/{r.registered_model['version']}"

    loaded = load(uri)
    ens = loaded.meta["ensemble"]
    assert sorted(m["weight"] for m in ens["members"]) == [0.2, 0.3, 0.5]
    assert {m["layer"] for m in ens["members"]} >= {"member_probe", ens["best_member"]}
    assert ens["tta"] and ens["temperature"] == 1.7
    ds = load_dataset(root)
    x = np.stack([ds.image(i, 32) for i in range(len(ds))]).astype("float32")
    want = _by_hand(loaded.model, ens, x)
    got = np.asarray(loaded.model.predict_on_batch(x))
    assert np.allclose(got, want, atol=1e-5)
    plain = np.asarray(
        loaded.model.get_layer(ens["best_member"])(
            loaded.model.get_layer(ens["members"][0]["backbone_layer"])(loaded.model.get_layer("preprocess")(x))
        )
    )
    assert not np.allclose(plain, want, atol=1e-3)  # the blend is not the best member alone

    out = tmp_path / "p.csv"
    runner.predict(uri, str(root), str(out), fmt="full")
    rows = {row["id"]: float(row["p_dogs"]) for row in csv.DictReader(out.open())}  # ids: paths under root
    assert np.allclose([rows[n] for n in ds.names], want[:, 0], atol=1e-4)
    ev = runner.evaluate(uri, str(root), log=False)
    assert abs(ev.metrics["log_loss"] - classification_metrics(ds.labels, want, 2)["log_loss"]) < 1e-4

    for fmt, name in (("keras", "m.keras"), ("savedmodel", "sm"), ("tflite", "m.tflite")):
        res = runner.export(uri, fmt, str(tmp_path / name), sample=str(root))
        assert res.max_abs_diff <= res.tolerance and res.agreement == 1.0, fmt
    again = load(str(tmp_path / "m.keras"))
    assert np.allclose(np.asarray(again.model.predict_on_batch(x)), want, atol=1e-5)
    from runner.use.export import _tflite_run

    lite = _tflite_run((tmp_path / "m.tflite").read_bytes(), x[:6])
    assert np.allclose(lite, want[:6], atol=1e-3)
