"""Real photos, real ImageNet weights (MobileNetV2-0.35 from ../shared, offline): catches wrong preprocessing.

With the right preprocessing a head on these features separates cats from dogs at about 95%; with
raw pixels or random weights it stays near 50%. Skips where ../shared is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import runner


@pytest.mark.slow
def test_real_photos_reach_90_percent(shared: Path, workdir: Path) -> None:
    r = runner.search(
        str(shared / "data" / "dogs-vs-cats-300"),
        backbone="mobilenet_v2_035",
        weights="imagenet",
        image_size=224,
        trials=4,
        epochs=20,
        seed=0,
    )
    assert r.data["classes"] == ["cats", "dogs"] and r.data["n_train"] + r.data["n_val"] == 300
    assert r.best_metrics["val_accuracy"] >= 0.90, r.best_metrics
