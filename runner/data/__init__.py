"""Images in: layouts (class folders, Kaggle flat names, zip, CSV, demo), readers, decoding, the dataset.

Imports nothing of runner but :mod:`runner.errors`. The names below are the package's public face
(``from runner import data; data.load_dataset("train/")``).
"""

from __future__ import annotations

from runner.data.dataset import Dataset, check_usable, natural_key, split
from runner.data.load import load_dataset, load_images

__all__ = ["Dataset", "check_usable", "load_dataset", "load_images", "natural_key", "split"]
