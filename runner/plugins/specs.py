"""What a backbone or a head is: small, declarative specs that the registry hands out."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import RegistryError, RunnerError

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import optuna

PREPROCESS_MODES = ("caffe", "tf", "torch", "none")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def keras_home() -> Path:
    """Where Keras caches downloads (mirrors keras.utils.get_file's choice)."""
    base = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    if "KERAS_HOME" not in os.environ and not os.access(base if base.exists() else base.parent, os.W_OK):
        base = Path("/tmp/.keras")
    return base


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise RegistryError(
            f"invalid {kind} name",
            received=name,
            expected="lower-case snake_case starting with a letter (e.g. 'my_backbone')",
            fix="rename it in the register call",
        )
    return name


@dataclass(frozen=True)
class BackboneSpec:
    """A frozen convolutional base.

    ``build(input_shape, weights)`` returns a Keras model mapping *preprocessed* images to the last
    convolutional feature map; ``weights`` is ``"imagenet"`` or ``None``. ImageNet weights are the
    file ``weights_file(size)`` in Keras's cache (``$KERAS_HOME/models``), fetched from
    ``weights_url(size)`` when missing, and loaded with ``model.load_weights`` as Keras itself does.
    ``preprocess`` names the affine input transform the network was trained with (see :mod:`runner.plugins.preprocess`).
    """

    name: str
    build: Callable[[tuple[int, int, int], str | None], keras.Model]
    preprocess: str
    default_size: int
    min_size: int
    feature_shape: Callable[[int], tuple[int, int, int]]
    weights_file: Callable[[int], str] | None = None
    weights_url: Callable[[int], str] | None = None  # where Keras downloads ``weights_file(size)`` from
    family: str = ""
    description: str = ""
    params: int | None = None  # parameter count of the no-top model
    licence: str = ""  # licence of the ImageNet weights, where known
    block_of: Callable[[str], str | None] | None = None  # layer name -> block name, for fine-tuning (default: Keras's)
    memo: dict[int, str] = field(default_factory=dict, compare=False, repr=False, hash=False)  # architecture digests

    def __post_init__(self) -> None:
        check_name("backbone", self.name)
        if self.preprocess not in PREPROCESS_MODES:
            raise RegistryError(
                f"backbone {self.name!r} declares an unknown preprocessing",
                received=self.preprocess,
                expected=f"one of {', '.join(PREPROCESS_MODES)}",
                fix="fix the spec's preprocess field",
            )
        if not (isinstance(self.min_size, int) and isinstance(self.default_size, int)) or not (
            0 < self.min_size <= self.default_size
        ):
            raise RegistryError(
                f"backbone {self.name!r} declares bad sizes",
                received=(self.min_size, self.default_size),
                expected="0 < min_size <= default_size (ints)",
                fix="fix the spec's min_size/default_size",
            )


def input_size(spec: BackboneSpec, requested: int | None, demo: bool) -> int:
    """``--image-size`` if given (checked against the backbone's minimum), else the backbone's default size (its
    minimum for the 8x8 demo digits)."""
    size = requested or (spec.min_size if demo else spec.default_size)
    if not (isinstance(size, int) and size >= spec.min_size):
        raise RunnerError(
            "image size too small for the backbone",
            received=size,
            expected=f"an integer >= {spec.min_size} for {spec.name}",
            fix=f"pass --image-size {max(spec.min_size, 32)} or more",
        )
    return size


class Head:
    """Base class of classifier heads; subclasses declare their own search space.

    A head maps a cached feature map ``(h, w, c)`` to class probabilities: ``Dense(1, sigmoid)``
    for two classes, ``Dense(K, softmax)`` for K classes. The search code never names a
    hyperparameter: it asks the head for ``suggest(trial)`` and passes the result back.
    """

    name: str = ""
    description: str = ""

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        raise NotImplementedError

    def build(self, feature_shape: tuple[int, ...], n_classes: int, params: dict[str, Any]) -> keras.Model:
        raise NotImplementedError

    def optimizer(self, params: dict[str, Any]) -> keras.optimizers.Optimizer:
        raise NotImplementedError

    def batch_size(self, params: dict[str, Any]) -> int:
        raise NotImplementedError

    def pools(self, params: dict[str, Any]) -> bool:
        """Whether the head with ``params`` uses the feature map only through its average over the positions
        (``GlobalAveragePooling2D`` first): the search then trains it on features averaged once, built on a
        ``(1, 1, c)`` map (the same weights; at 224 px, 49x fewer inputs to read per epoch). Default: False."""
        return False
