"""A TPE sampler seeded per trial: resumed and parallel searches propose what an uninterrupted one would.

Imported only where a study is opened (Optuna is not imported by ``import runner``).
"""

from __future__ import annotations

from typing import Any

import optuna


class SeededSampler(optuna.samplers.BaseSampler):
    """TPE whose randomness for trial N comes from ``seed + N`` alone, not from a process-local generator: a
    seeded search resumed after a crash proposes for trial N what the uninterrupted one would, given the same
    finished trials."""

    def __init__(self, seed: int) -> None:
        if not isinstance(seed, int):
            raise TypeError(f"seed must be an int, received {seed!r}")
        self.seed = seed
        self._inner: dict[int, optuna.samplers.TPESampler] = {}

    def _for(self, trial: Any) -> optuna.samplers.TPESampler:
        if trial.number not in self._inner:
            self._inner[trial.number] = optuna.samplers.TPESampler(seed=self.seed + trial.number)
        return self._inner[trial.number]

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Any, trial: Any) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self._for(trial).after_trial(study, trial, state, values)
        self._inner.pop(trial.number, None)
