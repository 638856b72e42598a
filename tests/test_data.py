from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import make_folders, write_image

from runner import data
from runner.data import images
from runner.errors import DataError


def test_natural_order_and_sorted_classes(tmp_path: Path) -> None:
    for name in ("dog.10.jpg", "cat.2.jpg", "cat.10.jpg", "dog.1.jpg", "cat.1.jpg"):
        write_image(tmp_path / "flat" / name, np.zeros((8, 8, 3), np.uint8))
    ds = data.load_dataset(tmp_path / "flat")
    assert ds.layout == "kaggle"
    assert ds.classes == ["cat", "dog"]
    assert ds.names == ["cat.1.jpg", "cat.2.jpg", "cat.10.jpg", "dog.1.jpg", "dog.10.jpg"]
    assert ds.labels.tolist() == [0, 0, 0, 1, 1]


def test_class_folders(folders: Path) -> None:
    ds = data.load_dataset(folders)
    assert ds.layout == "folders" and ds.classes == ["cats", "dogs"]
    assert ds.counts() == {"cats": 10, "dogs": 10}
    assert ds.names[:3] == ["cats/cat.0.jpg", "cats/cat.1.jpg", "cats/cat.2.jpg"]
    img = ds.image(0, 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8


def _zip(src: Path, dest: Path, prefix: str) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(src.rglob("*.jpg")):
            zf.write(p, prefix + p.relative_to(src).as_posix())
    return dest


@pytest.mark.parametrize("prefix", ["", "train/"])
def test_zip_of_folders_and_of_flat(folders: Path, kaggle: Path, tmp_path: Path, prefix: str) -> None:
    zf = data.load_dataset(_zip(folders, tmp_path / "f.zip", prefix))
    assert zf.layout == "zip:folders" and zf.classes == ["cats", "dogs"] and len(zf) == 20
    flat = data.load_dataset(_zip(kaggle, tmp_path / "k.zip", prefix))
    assert flat.layout == "zip:kaggle" and flat.classes == ["cat", "dog"]
    ref = data.load_dataset(folders)
    np.testing.assert_array_equal(zf.image(3, 16), ref.image(3, 16))  # read in place, same pixels
    assert zf.digests() == ref.digests()  # content hash, not path


def test_csv_layout(folders: Path) -> None:
    csv = folders / "labels.csv"
    csv.write_text("path,label\ndogs/dog.1.jpg,dog\ncats/cat.0.jpg,cat\ncats/cat.1.jpg,cat\ndogs/dog.0.jpg,dog\n")
    ds = data.load_dataset(csv)
    assert ds.layout == "csv" and ds.classes == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.image(0, 8).shape == (8, 8, 3)


def test_csv_errors(folders: Path) -> None:
    bad = folders / "bad.csv"
    bad.write_text("file,class\na.jpg,cat\n")
    with pytest.raises(DataError, match="columns"):
        data.load_dataset(bad)
    missing = folders / "missing.csv"
    missing.write_text("path,label\nnope.jpg,cat\n")
    with pytest.raises(DataError, match="nope.jpg"):
        data.load_dataset(missing)


def test_per_class_keeps_first_n_in_natural_order(folders: Path) -> None:
    ds = data.load_dataset(folders, per_class=3)
    assert ds.names == [f"cats/cat.{i}.jpg" for i in range(3)] + [f"dogs/dog.{i}.jpg" for i in range(3)]


def test_split_is_stratified_and_seeded(folders: Path) -> None:
    ds = data.load_dataset(folders)
    tr, va = data.split(ds.labels, 0.2, seed=1)
    assert len(va) == 4 and sorted(np.bincount(ds.labels[va])) == [2, 2]
    assert not set(tr) & set(va)
    assert np.array_equal(va, data.split(ds.labels, 0.2, seed=1)[1])


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda p: p.mkdir(), "no images"),
        (lambda p: make_folders(p, per_class=3, classes=("cats",)), "fewer than 2 classes"),
        (
            lambda p: (make_folders(p, per_class=3), write_image(p / "loose.1.jpg", np.zeros((4, 4, 3), np.uint8))),
            "mixes",
        ),
        (lambda p: write_image(p / "1234.jpg", np.zeros((4, 4, 3), np.uint8)), "no label"),
    ],
)
def test_layout_errors(tmp_path: Path, setup, match: str) -> None:
    root = tmp_path / "d"
    setup(root)
    with pytest.raises(DataError, match=match):
        ds = data.load_dataset(root)
        data.check_usable(ds)


def test_missing_path_and_small_class(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        data.load_dataset(tmp_path / "nowhere")
    root = make_folders(tmp_path / "d", per_class=3)
    ds = data.load_dataset(root, per_class=1)
    with pytest.raises(DataError, match="fewer than 2 images"):
        data.check_usable(ds)


def test_demo_is_sklearn_digits() -> None:
    ds = data.load_dataset("demo")
    assert len(ds) == 1797 and ds.classes == [str(i) for i in range(10)]
    img = ds.image(0, 32)
    assert img.shape == (32, 32, 3) and img.max() > 200


def test_decode_converts_odd_images(tmp_path: Path) -> None:
    import cv2

    red = np.zeros((10, 12, 3), np.uint8)
    red[..., 0] = 255
    write_image(tmp_path / "red.png", red)
    assert images.decode((tmp_path / "red.png").read_bytes())[0, 0].tolist() == [255, 0, 0]  # RGB, not BGR
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((5, 5), 77, np.uint8))
    assert images.decode((tmp_path / "gray.png").read_bytes())[0, 0].tolist() == [77, 77, 77]
    bgra = np.zeros((5, 5, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 10  # blue, nearly transparent
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    assert images.decode((tmp_path / "rgba.png").read_bytes())[0, 0].tolist() == [0, 0, 200]
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((5, 5, 3), 65535, np.uint16))
    deep = images.decode((tmp_path / "deep.png").read_bytes())
    assert deep.dtype == np.uint8 and deep[0, 0].tolist() == [255, 255, 255]
    assert images.decode(b"not an image") is None
    assert images.load_rgb((tmp_path / "red.png").read_bytes(), 7).shape == (7, 7, 3)
