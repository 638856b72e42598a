"""``FinetuneConfig``: every option of ``runner finetune``, its default, help text and validation, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from runner.errors import require
from runner.features.augment import Policy
from runner.options import option

REGISTER = ("if-better", "always", "never")


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning a search's best model: phase 1 the head with augmentation, phase 2 the top of the base."""

    unfreeze_layers: int | None = option(
        None, "Train the top N layers of the backbone (BatchNorm stays frozen).", decls=("--unfreeze",)
    )
    unfreeze_blocks: int | None = option(
        None, "Train the top N of the backbone's own blocks (default 1, e.g. VGG16 block5)."
    )
    lr: float = option(1e-5, "Learning rate of phase 2 (RMSprop).")
    head_lr: float | None = option(None, "Phase 1 learning rate (default: the best trial's rate / 10).")
    head_epochs: int = option(5, "Phase 1: epochs of the head alone, with augmentation.")
    epochs: int = option(20, "Phase 2: maximum epochs with the top of the base unfrozen.")
    patience: int = option(3, "Early stopping on validation loss, per phase.")
    batch_size: int = option(16, "Images per step.")
    augment_policy: str | None = option(None, "e.g. rotation=20,zoom=0.2,shift=0.1,contrast=0.2,flip=1 (the default).")
    register: str = option(
        "if-better", "if-better (a new version only if it beats the search's model) | always | never."
    )
    trials: int = option(0, "Run phase 2 this many times, searching the learning rate from --lr/10 to --lr*10.")
    resume: bool = option(False, "Continue the last interrupted fine-tuning of this search.")
    seed: int = option(0, "Seed of shuffling and augmentation.")
    tracking_uri: str | None = option(None, "MLflow URI (as for runner search).")
    code: tuple[str, ...] = option(
        (),
        "A .py file that registers the model's backbone/head (as given to runner search; repeatable).",
        type=list[str] | None,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", tuple(str(c) for c in (self.code or ())))  # normalised once, frozen after
        reg, lr, head_lr = self.register, self.lr, self.head_lr
        require(reg in REGISTER, "bad --register", reg, " | ".join(REGISTER), "pass --register if-better")
        require(
            isinstance(lr, float) and 0 < lr < 1, "bad --lr", lr, "a learning rate in (0, 1)", "pass e.g. --lr 1e-5"
        )
        for name, v in (("head-epochs", self.head_epochs), ("epochs", self.epochs)):
            require(isinstance(v, int) and v >= 0, f"bad --{name}", v, "an integer >= 0", f"pass e.g. --{name} 5")
        ok = head_lr is None or 0 < head_lr < 1
        require(ok, "bad --head-lr", head_lr, "a learning rate in (0, 1)", "pass 1e-4")
        t, p, b = self.trials, self.patience, self.batch_size
        require(isinstance(t, int) and t >= 0, "bad --trials", t, "an integer >= 0", "pass e.g. --trials 5")
        require(isinstance(p, int) and p >= 1, "bad --patience", p, "an integer >= 1", "pass 3")
        require(isinstance(b, int) and b >= 1, "bad --batch-size", b, "an integer >= 1", "16")
        layers, blocks = self.unfreeze_layers, self.unfreeze_blocks
        require(
            layers is None or blocks is None,
            "--unfreeze and --unfreeze-blocks are exclusive",
            f"--unfreeze {layers} --unfreeze-blocks {blocks}",
            "one of them",
            "drop one",
        )
        self.policy  # noqa: B018  (a bad --augment-policy fails before any work)

    @property
    def policy(self) -> Policy:
        return Policy.parse(self.augment_policy)
