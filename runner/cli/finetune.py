"""``runner finetune``: augmentation + fine-tuning the top of the backbone, on a finished search's best model."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Annotated, Any

import typer

EXAMPLES = (
    "Examples:\n\n"
    "  runner finetune 3f2a...e9                       # a search's parent run id (printed by runner search)\n\n"
    "  runner finetune models:/train-vgg16/1 --unfreeze-blocks 1 --lr 1e-5\n\n"
    "  runner finetune models:/train-vgg16/1 --unfreeze 4 --epochs 30 --register always --json\n\n"
    "  runner finetune 3f2a...e9 --resume               # continue an interrupted fine-tuning"
)


def _progress(kind: str, p: dict[str, Any]) -> None:
    if kind == "epoch":
        val = f" val_loss {p['val_loss']:.4f} val_accuracy {p['val_accuracy']:.4f}" if "val_loss" in p else ""
        print(
            f"{p['phase']:8} epoch {p['epoch']}/{p['epochs']}  loss {p.get('loss', float('nan')):.4f}{val}"
            f"  ETA {p['eta']:.0f}s",
            file=sys.stderr,
        )


def finetune(
    source: Annotated[str, typer.Argument(help="The search's parent run id, or its registered model URI.")],
    unfreeze: Annotated[
        int | None, typer.Option(help="Train the top N layers of the backbone (BatchNorm stays frozen).")
    ] = None,
    unfreeze_blocks: Annotated[
        int | None, typer.Option(help="Train the top N of the backbone's own blocks (default 1, e.g. VGG16 block5).")
    ] = None,
    lr: Annotated[float, typer.Option(help="Learning rate of phase 2 (RMSprop).")] = 1e-5,
    head_lr: Annotated[
        float | None, typer.Option(help="Phase 1 learning rate (default: the best trial's rate / 10).")
    ] = None,
    head_epochs: Annotated[int, typer.Option(help="Phase 1: epochs of the head alone, with augmentation.")] = 5,
    epochs: Annotated[int, typer.Option(help="Phase 2: maximum epochs with the top of the base unfrozen.")] = 20,
    patience: Annotated[int, typer.Option(help="Early stopping on validation loss, per phase.")] = 3,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 16,
    augment_policy: Annotated[
        str | None, typer.Option(help="e.g. rotation=20,zoom=0.2,shift=0.1,contrast=0.2,flip=1 (the default).")
    ] = None,
    register: Annotated[
        str, typer.Option(help="if-better (a new version only if it beats the search's model) | always | never.")
    ] = "if-better",
    trials: Annotated[
        int, typer.Option(help="Run phase 2 this many times, searching the learning rate from --lr/10 to --lr*10.")
    ] = 0,
    resume: Annotated[bool, typer.Option(help="Continue the last interrupted fine-tuning of this search.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of shuffling and augmentation.")] = 0,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow URI (as for runner search).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Fine-tune a search's best model: head with augmentation, then the top of the backbone at a low rate."""
    from runner.finetuning.run import finetune as run_finetune

    with contextlib.redirect_stdout(sys.stderr):
        r = run_finetune(
            source,
            unfreeze_layers=unfreeze,
            unfreeze_blocks=unfreeze_blocks,
            lr=lr,
            head_lr=head_lr,
            head_epochs=head_epochs,
            epochs=epochs,
            patience=patience,
            batch_size=batch_size,
            augment_policy=augment_policy,
            register=register,
            trials=trials,
            resume=resume,
            seed=seed,
            tracking_uri=tracking_uri,
            on_event=_progress,
        )
    if as_json:
        typer.echo(json.dumps(r.to_dict(), default=str))
        return
    m = r.metric
    reg = f"models:/{r.registered['name']}/{r.registered['version']}" if r.registered else "not registered"
    names = ", ".join(r.unfrozen[:4]) + (" ..." if len(r.unfrozen) > 4 else "")
    typer.echo(
        f"\n{'unfrozen':14}{len(r.unfrozen)} layer(s): {names}"
        f"\n{'before':14}val_{m} {r.before[m]:.4g}  val_accuracy {r.before['accuracy']:.4f}"
        f"\n{'after':14}val_{m} {r.after[m]:.4g}  val_accuracy {r.after['accuracy']:.4f}"
        f"\n{'epochs':14}{r.epochs}\n{'seconds':14}{r.seconds}"
        f"\n{'run':14}{r.run_id} (child of {r.parent_run_id})\n{'registered':14}{reg}"
    )
