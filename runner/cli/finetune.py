"""``runner finetune``: augmentation + fine-tuning the top of the backbone, on a finished search's best model."""

from __future__ import annotations

import contextlib
import inspect
import json
import shlex
import sys
from typing import Annotated, Any

import typer

from runner import interrupts
from runner.cli.options import with_options
from runner.cli.progress import Steps
from runner.finetuning.config import FinetuneConfig

EXAMPLES = (
    "Examples:\n\n"
    "  runner finetune 3f2a...e9                       # a search's parent run id (printed by runner search)\n\n"
    "  runner finetune models:/train-vgg16/1 --unfreeze-blocks 1 --lr 1e-5\n\n"
    "  runner finetune models:/train-vgg16/1 --unfreeze 4 --epochs 30 --register always --json\n\n"
    "  runner finetune 3f2a...e9 --resume               # continue an interrupted fine-tuning"
)


class Epochs:
    """An epoch line per epoch; on a terminal also a progress bar per phase (epochs done, elapsed, remaining)."""

    def __init__(self) -> None:
        self.steps: Steps | None = None
        self.phase = ""

    def __call__(self, kind: str, p: dict[str, Any]) -> None:
        if kind != "epoch":
            return
        if self.steps is None or p["phase"] != self.phase:
            self.close()
            self.steps, self.phase = Steps(p["phase"], unit="epoch"), p["phase"]
        val = f" val_loss {p['val_loss']:.4f} val_accuracy {p['val_accuracy']:.4f}" if "val_loss" in p else ""
        line = f"{p['phase']:8} epoch {p['epoch']}/{p['epochs']}  loss {p.get('loss', float('nan')):.4f}{val}"
        self.steps.line(line if self.steps.live else f"{line}  ETA {p['eta']:.0f}s")
        if self.steps.live:
            self.steps(p["epoch"], p["epochs"], note=val.strip())

    def close(self) -> None:
        if self.steps is not None:
            self.steps.close()


SOURCE = inspect.Parameter(
    "source",
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    annotation=Annotated[str, typer.Argument(help="The search's parent run id, or its registered model URI.")],
)
JSON_OUT = inspect.Parameter(
    "as_json",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")],
)


@with_options(FinetuneConfig, before=[SOURCE], after=[JSON_OUT])
def finetune(source: str, as_json: bool = False, **options: Any) -> None:
    """Fine-tune a search's best model: head with augmentation, then the top of the backbone at a low rate."""
    from runner.finetuning.run import FinetuneInterrupted
    from runner.finetuning.run import finetune as run_finetune

    config = FinetuneConfig(**options)
    epochs = Epochs()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            r = run_finetune(source, config, on_event=epochs)
    except FinetuneInterrupted as err:
        epochs.close()
        args = [a for a in sys.argv[1:] if a != "--resume"]
        command = " ".join(shlex.quote(a) for a in ["runner", *args, "--resume"])
        typer.echo(
            f"interrupted: run {err.run_id} kept its checkpoint in {err.checkpoint}; continue with: {command}", err=True
        )
        interrupts.reported()
        raise typer.Exit(130) from None
    finally:
        epochs.close()
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
