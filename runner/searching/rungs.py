"""Multi-fidelity search on cached features: successive halving over the number of training rows.

A trial first trains on a small stratified sample of the training rows (validated on a sample of the validation
rows); only trials among the best third of those that reached a rung go on to three times as many rows, up to
all of them, from the weights they had (about as many row-epochs on every rung as on their first).
Samples are nested and the same for every trial (seeded), so trials on one rung are compared on the same rows.
Steps reported to Optuna encode the rung: epoch ``e`` of rung ``r`` is step ``r * STRIDE + e`` and the rung's
score is step ``r * STRIDE + END`` (:class:`runner.searching.pruner.RungPruner` reads them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRIDE = 10_000  # steps per rung (epochs never reach it: --epochs is capped below END)
END = STRIDE - 1  # the step of a rung's score
REDUCTION = 3  # each rung has 3x the rows of the last; a third of its trials go on
AUTO_ROWS = 2500  # the first rung's training rows when --halving is left to choose
MIN_VAL = 1000  # validation rows of any rung below the last (fewer make the comparison noisy)


MIN_EPOCHS = 3  # the fewest epochs a promoted trial gets on a rung


@dataclass(frozen=True)
class Rung:
    """Positions into the training and validation splits that one rung trains and validates on."""

    train: np.ndarray
    val: np.ndarray

    def epochs(self, first: Rung, epochs: int, used: int | None = None) -> int:
        """Epochs allowed on this rung: ``epochs`` on the first; on a later rung about as many row-epochs as the
        trial used on the first (``used`` epochs; ``epochs`` when not given): a promoted trial goes on from its
        weights for fewer epochs on more rows; at least :data:`MIN_EPOCHS`, at most ``epochs``."""
        if len(self.train) <= len(first.train):
            return epochs
        spent = epochs if used is None else used
        return min(epochs, max(MIN_EPOCHS, int(np.ceil(spent * len(first.train) / len(self.train)))))


def first_rows(halving: int | None, n_train: int, folds: int, repeats: int) -> int:
    """The first rung's training rows; 0 when there is one rung (halving off, too few rows, or cross-validation)."""
    if halving == 0 or folds > 1 or repeats > 1:
        return 0
    first = AUTO_ROWS if halving is None else halving
    return first if n_train >= REDUCTION * first else 0


def sizes(first: int, n: int) -> list[int]:
    """Rows per rung: ``first``, 3x, 9x ... while below ``n``, then ``n``; a rung within 2x of ``n`` is dropped."""
    if first <= 0 or first >= n:
        return [n]
    out = [first]
    while out[-1] * REDUCTION < n:
        out.append(out[-1] * REDUCTION)
    if n < 2 * out[-1] and len(out) > 1:
        out.pop()
    return out + [n] if out[-1] < n else out


def stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of the rows whose every prefix keeps the classes' proportions (to within one row)."""
    rng = np.random.default_rng(seed)
    key = np.empty(len(y), np.float64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        key[rng.permutation(idx)] = (np.arange(len(idx)) + rng.uniform(0, 1)) / len(idx)
    return np.argsort(key, kind="stable")


def rungs(y_train: np.ndarray, y_val: np.ndarray, first: int, seed: int) -> list[Rung]:
    """The rungs of a search (one, over all rows, when ``first`` is 0): nested, stratified, seeded samples."""
    n, n_val = len(y_train), len(y_val)
    counts = sizes(first, n)
    if len(counts) == 1:
        return [Rung(np.arange(n), np.arange(n_val))]
    order, val_order = stratified_order(y_train, seed), stratified_order(y_val, seed + 1)
    out = []
    for k in counts[:-1]:
        v = min(n_val, max(MIN_VAL, int(round(n_val * k / n))))
        out.append(Rung(np.sort(order[:k]), np.sort(val_order[:v])))
    return out + [Rung(np.arange(n), np.arange(n_val))]
