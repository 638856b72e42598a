"""``runner predict``, ``runner evaluate``, ``runner export``: use a model that a search registered."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Annotated

import typer

from runner.cli.progress import Steps

MODEL_HELP = "models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest, runs:/RUN_ID/model, a run id, or .keras"
TrackingUri = Annotated[str | None, typer.Option(help="MLflow URI (default: $MLFLOW_TRACKING_URI or ./mlruns).")]
PREDICT_EXAMPLES = (
    "Examples:\n\n  runner predict models:/dogs-vs-cats-mobilenet_v2_035/latest test/ --out submission.csv\n\n"
    "  runner predict model.keras test.zip --format full --clip 0.005"
)
EVALUATE_EXAMPLES = (
    "Examples:\n\n  runner evaluate models:/dogs-vs-cats-mobilenet_v2_035/1 holdout/\n\n"
    "  runner evaluate RUN_ID holdout.zip --json"
)
EXPORT_EXAMPLES = (
    "Examples:\n\n  runner export models:/NAME/1 --format keras --out model.keras\n\n"
    "  runner export models:/NAME/1 --format tflite --quantize int8 --out model.tflite"
)


def predict(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    images: Annotated[
        str, typer.Argument(help="A folder of images (natural order), a .zip, or a CSV with a path column.")
    ],
    out: Annotated[str, typer.Option(help="Output CSV.")] = "predictions.csv",
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="kaggle (two classes: id,label = P(second class)) or full; default: kaggle for two classes"
        ),
    ] = None,
    clip: Annotated[float | None, typer.Option(help="Clip probabilities to [EPS, 1-EPS] (log-loss scoring).")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 32,
    tracking_uri: TrackingUri = None,
) -> None:
    """Predict every image into a CSV; unreadable files are listed with an empty prediction."""
    t0 = time.perf_counter()
    from runner.use.predict import predict as run

    with contextlib.redirect_stdout(sys.stderr):
        r = run(
            model,
            images,
            out,
            fmt=fmt,
            clip=clip,
            batch_size=batch_size,
            tracking_uri=tracking_uri,
            progress=Steps("predicting"),
        )
    if r.unreadable:
        print(
            f"warning: {len(r.unreadable)} unreadable file(s) listed with empty predictions: "
            f"{', '.join(r.unreadable[:5])}",
            file=sys.stderr,
        )
    waited = time.perf_counter() - t0
    typer.echo(
        f"wrote {r.n} predictions ({', '.join(r.columns)}) to {r.out} in {waited:.1f}s "
        f"({r.seconds:.1f}s predicting; the rest loading TensorFlow and the model)"
    )


def evaluate(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    data: Annotated[str, typer.Argument(help="Labelled images in any layout `runner search` accepts.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    experiment: Annotated[str, typer.Option(help="MLflow experiment for the evaluation run.")] = "runner",
    no_log: Annotated[bool, typer.Option("--no-log", help="Do not log an MLflow evaluation run.")] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Accuracy, log loss, ROC AUC, per-class precision/recall/F1, confusion matrix; logged to MLflow."""
    from runner.use.evaluate import evaluate as run

    with contextlib.redirect_stdout(sys.stderr):
        r = run(
            model, data, tracking_uri=tracking_uri, experiment=experiment, log=not no_log, progress=Steps("evaluating")
        )
    if as_json:
        typer.echo(json.dumps(r.to_dict()))
        return
    lines = [f"model     {r.model}", f"data      {r.data} ({r.n} images, {len(r.skipped)} unreadable)"]
    lines += [f"{k:10}{v:.4f}" for k, v in r.metrics.items()]
    lines += ["", f"{'class':16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    lines += [
        f"{c:16}{d['precision']:>10.4f}{d['recall']:>10.4f}{d['f1']:>10.4f}{d['support']:>9}"
        for c, d in r.per_class.items()
    ]
    width = max(len(c) for c in r.classes) + 2
    lines += [
        "",
        "confusion (rows: true, columns: predicted)",
        " " * width + "".join(f"{c:>{width}}" for c in r.classes),
    ]
    lines += [
        f"{c:{width}}" + "".join(f"{v:>{width}}" for v in row) for c, row in zip(r.classes, r.confusion, strict=True)
    ]
    if r.run_id:
        lines += ["", f"MLflow run {r.run_id}: {', '.join(r.artifacts)}"]
    else:
        lines += ["", "not logged: no MLflow store in this folder (pass --tracking-uri to log the evaluation)"]
    typer.echo("\n".join(lines))


def export(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    out: Annotated[str, typer.Option(help="Destination (.keras file, SavedModel folder, or .tflite file).")],
    fmt: Annotated[str, typer.Option("--format", help="keras | savedmodel | tflite")] = "keras",
    quantize: Annotated[str | None, typer.Option(help="int8 (TFLite only; calibrated on training images).")] = None,
    sample: Annotated[
        str | None, typer.Option(help="Images for checking/calibration (default: training data).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing export.")] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Export the end-to-end model; it is loaded back and checked against the source model."""
    from runner.use.export import export as run

    with contextlib.redirect_stdout(sys.stderr):
        r = run(model, fmt, out, quantize=quantize, sample=sample, force=force, tracking_uri=tracking_uri)
    typer.echo(
        f"exported {r.format}{' int8' if r.quantize else ''} to {r.path} ({r.bytes / 1e6:.1f} MB); "
        f"checked on {r.checked_images} images: max |diff| {r.max_abs_diff:.2e} <= {r.tolerance}, "
        f"same class {r.agreement:.0%}"
    )
