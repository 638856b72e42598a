"""Decoding and resizing: OpenCV, always to RGB uint8 at the model's input size.

Training, prediction and evaluation all go through :func:`load_rgb`, so an image is decoded and
resized the same way everywhere. The settings below travel with the model and into the cache key.
"""

from __future__ import annotations

import numpy as np

RESIZE = "cv2.INTER_CUBIC"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.rsplit("/", 1)[-1].startswith(".")


def decode(data: bytes) -> np.ndarray | None:
    """Bytes of an image file -> RGB uint8 (H, W, 3), or None when OpenCV cannot decode them."""
    import cv2

    if not data:
        return None
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        return None
    return to_rgb8(img, bgr=True)


def to_rgb8(img: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Any grayscale/RGB(A)/16-bit/float array -> RGB uint8. ``bgr`` says the channels are OpenCV's order."""
    import cv2

    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        arr = img.astype(np.float32)
        top = 1.0 if arr.size and float(np.nanmax(arr)) <= 1.0 else 255.0
        img = np.clip(np.nan_to_num(arr) * (255.0 / top), 0, 255).round().astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
    if channels == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if bgr else np.ascontiguousarray(img)
    raise ValueError(f"unsupported channel count {channels}")


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Resize RGB uint8 to ``size`` x ``size`` with cubic interpolation (uint8 saturates, no overshoot)."""
    import cv2

    if img.shape[0] == size and img.shape[1] == size:
        return img
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)


def load_rgb(data: bytes, size: int) -> np.ndarray | None:
    img = decode(data)
    return None if img is None else resize(img, size)
