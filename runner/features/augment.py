"""Data augmentation at cached cost: K augmented views of every training image, each extracted once through the
backbone and cached like the plain features; head training samples one view per image per epoch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from runner.errors import RunnerError


@dataclass(frozen=True)
class Policy:
    """Random flip (horizontal), rotation (+-degrees), zoom (+-fraction), translation (+-fraction of the size)
    and contrast (+-fraction); the reference recipe's augmentation, minus shear."""

    flip: bool = True
    rotation: float = 20.0
    zoom: float = 0.2
    shift: float = 0.1
    contrast: float = 0.2

    @classmethod
    def parse(cls, text: str | None) -> Policy:
        """``"rotation=30,zoom=0.1,flip=0"``: the named fields change, the others keep their defaults."""
        if not text:
            return cls()
        names = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            key, _, raw = part.partition("=")
            key = key.strip()
            try:
                if key not in names or not raw:
                    raise ValueError
                values[key] = raw.strip() not in ("0", "false", "no") if key == "flip" else float(raw)
                if key != "flip" and not (0 <= values[key] <= (180 if key == "rotation" else 1)):
                    raise ValueError
            except ValueError:
                raise RunnerError(
                    "bad --augment-policy",
                    received=part,
                    expected="NAME=VALUE with NAME in flip (0/1), rotation (0..180 degrees), zoom, shift, contrast "
                    "(0..1)",
                    fix="pass e.g. --augment-policy rotation=30,zoom=0.1,flip=1",
                ) from None
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def augment(img: np.ndarray, policy: Policy, rng: np.random.Generator) -> np.ndarray:
    """One random view of an RGB uint8 image (same size; borders reflected)."""
    import cv2

    h, w = img.shape[:2]
    if policy.flip and rng.random() < 0.5:
        img = img[:, ::-1]
    angle = rng.uniform(-policy.rotation, policy.rotation)
    scale = 1.0 + rng.uniform(-policy.zoom, policy.zoom)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += rng.uniform(-policy.shift, policy.shift, size=2) * (w, h)
    out = cv2.warpAffine(
        np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    if policy.contrast:
        c = 1.0 + rng.uniform(-policy.contrast, policy.contrast)
        mean = out.reshape(-1, 3).mean(axis=0)
        out = np.clip((out.astype(np.float32) - mean) * c + mean, 0, 255).astype(np.uint8)
    return out


class View:
    """The ``k``-th augmented view of a dataset: image ``i`` is always the same random transform of the same
    pixels (seeded by ``seed``, ``k`` and ``i``), so a view is reproducible and cacheable."""

    def __init__(self, ds: Any, policy: Policy, seed: int, k: int) -> None:
        self.ds, self.policy, self.seed, self.k = ds, policy, seed, k

    def __len__(self) -> int:
        return len(self.ds)

    def image(self, i: int, size: int) -> np.ndarray | None:
        img = self.ds.image(i, size)
        if img is None:
            return None
        return augment(img, self.policy, np.random.default_rng([self.seed, self.k, i]))

    def key_parts(self) -> dict[str, Any]:
        return {"augment": self.policy.as_dict(), "augment_seed": self.seed, "view": self.k}


class Mirror:
    """The mirror image (left-right flip) of every image of a dataset: the view test-time augmentation averages
    with; cached like any other view."""

    k = "mirror"

    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def image(self, i: int, size: int) -> np.ndarray | None:
        img = self.ds.image(i, size)
        return None if img is None else np.ascontiguousarray(img[:, ::-1])

    def key_parts(self) -> dict[str, Any]:
        return {"mirror": True}
