"""``runner.export()``: the end-to-end model as .keras, TensorFlow SavedModel or TFLite, each verified after writing.

Every export is loaded back and its predictions on sample images are compared with the source model:
the largest absolute difference in any class probability must stay within the stated tolerance.
"""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runner.data.load import load_dataset
from runner.errors import DataError, RunnerError
from runner.use.load import META_FILE, load, predict_batch

FORMATS = ("keras", "savedmodel", "tflite")
TOLERANCE = {"keras": 1e-6, "savedmodel": 1e-4, "tflite": 1e-3, "tflite-int8": 0.15}


@dataclass
class ExportResult:
    path: str
    format: str
    quantize: str | None
    bytes: int
    checked_images: int
    max_abs_diff: float
    tolerance: float
    agreement: float  # share of images with the same predicted class

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _samples(loaded: Any, sample: str | None, n: int) -> np.ndarray:
    """Up to ``n`` images decoded and resized as in training: from ``sample`` or the model's training data."""
    source = sample or loaded.meta.get("data")
    if source and (source == "demo" or Path(source).exists()):
        ds = load_dataset(source)
        step = max(1, len(ds) // n)
        imgs = [img for img in (ds.image(i, loaded.size) for i in range(0, len(ds), step)[:n]) if img is not None]
        if imgs:
            return np.stack(imgs).astype(np.float32)
    if sample:
        raise DataError(
            "no usable sample images",
            received=sample,
            expected="a dataset runner can read",
            fix="pass --sample with a folder of training images",
        )
    rng = np.random.default_rng(0)  # no data at hand: smooth random images still exercise every layer
    return rng.uniform(0, 255, size=(n, loaded.size, loaded.size, 3)).astype(np.float32)


def _tflite_run(content: bytes, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
        it = Interpreter(model_content=content)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for img in x:
        it.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
        it.invoke()
        rows.append(np.asarray(it.get_tensor(out["index"]), dtype=np.float64)[0])
    return np.asarray(rows)


def _write(model: Any, fmt: str, tmp: Path, quantize: str | None, calib: np.ndarray, meta: dict) -> Any:
    """Write the export to ``tmp``; return a function that predicts with the re-loaded export."""
    if fmt == "keras":
        import keras

        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            zf.writestr(META_FILE, json.dumps(meta))
        back = keras.saving.load_model(tmp, compile=False)
        return lambda x: np.asarray(back.predict_on_batch(x))
    import tensorflow as tf

    saved = tmp if fmt == "savedmodel" else tmp.with_name(tmp.name + ".saved")
    model.export(str(saved), format="tf_saved_model", verbose=False)
    if fmt == "savedmodel":
        (saved / "assets").mkdir(exist_ok=True)
        (saved / "assets" / META_FILE).write_text(json.dumps(meta))
        back = tf.saved_model.load(str(saved))
        return lambda x: np.asarray(back.serve(tf.constant(x)))
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([img[None]] for img in calib)
    content = converter.convert()
    shutil.rmtree(saved, ignore_errors=True)
    tmp.write_bytes(content)
    return lambda x: _tflite_run(content, x)


def export(
    model: str,
    fmt: str,
    out: str,
    *,
    quantize: str | None = None,
    sample: str | None = None,
    force: bool = False,
    tracking_uri: str | None = None,
    check_images: int = 8,
) -> ExportResult:
    if fmt not in FORMATS:
        raise RunnerError("bad --format", received=fmt, expected=" | ".join(FORMATS), fix="pass --format keras")
    if quantize not in (None, "int8") or (quantize and fmt != "tflite"):
        raise RunnerError(
            "bad --quantize",
            received=quantize,
            expected="int8, with --format tflite",
            fix="drop --quantize or use --format tflite",
        )
    dest = Path(out).expanduser()
    if fmt == "keras" and dest.suffix != ".keras":
        raise RunnerError(
            "a Keras export needs a .keras path",
            received=out,
            expected="PATH.keras",
            fix=f"pass --out {dest.with_suffix('.keras')}",
        )
    if dest.exists() and not force:
        raise RunnerError(
            "the export path already exists",
            received=out,
            expected="a new path",
            fix="choose another --out, or pass --force to replace it",
        )
    loaded = load(model, tracking_uri)
    x = _samples(loaded, sample, max(check_images, 100 if quantize else check_images))
    meta = dict(loaded.meta, classes=loaded.classes, image_size=loaded.size, exported_from=loaded.uri)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.tmp{dest.suffix}")  # keeps the extension Keras insists on
    shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
    try:
        run = _write(loaded.model, fmt, tmp, quantize, x, meta)
        check = x[:check_images]
        ref = predict_batch(loaded.model, check)
        got = predict_batch(_Wrap(run), check)
        diff = float(np.max(np.abs(ref - got)))
        agree = float(np.mean(np.argmax(ref, 1) == np.argmax(got, 1)))
        tol = TOLERANCE["tflite-int8" if quantize else fmt]
        if diff > tol:
            raise RunnerError(
                f"the {fmt} export does not reproduce the model",
                received=f"max |diff| {diff:.3g}",
                expected=f"<= {tol}",
                fix="report this model; the export was not written",
            )
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink()
    if fmt == "tflite":
        dest.with_name(dest.name + ".runner.json").write_text(json.dumps(meta))
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) if dest.is_dir() else dest.stat().st_size
    return ExportResult(
        path=str(dest),
        format=fmt,
        quantize=quantize,
        bytes=size,
        checked_images=len(check),
        max_abs_diff=diff,
        tolerance=tol,
        agreement=agree,
    )


class _Wrap:
    """Adapts an export's predict function to :func:`predict_batch`."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.fn(x)
