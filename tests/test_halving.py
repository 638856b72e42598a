"""Multi-fidelity search (successive halving over training rows) and trials within --memory-budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_folders

import runner
from runner import tracking
from runner.errors import RunnerError
from runner.searching.rungs import END, STRIDE, first_rows, rungs, sizes, stratified_order

FAST = {"refit": False, "ensemble": 1, "tta": False, "calibrate": False}
SMALL = {"backbone": "mobilenet_v2_035", "weights": "none", "image_size": 32, "epochs": 3, **FAST}


def test_rung_sizes_grow_threefold_up_to_all_rows() -> None:
    assert sizes(2500, 20000) == [2500, 7500, 20000]
    assert sizes(2500, 8000) == [2500, 8000]  # 7,500 is within 2x of 8,000: not worth its own rung
    assert sizes(0, 2400) == [2400] and sizes(3000, 2400) == [2400]
    assert first_rows(None, 20000, 1, 1) == 2500 and first_rows(None, 2400, 1, 1) == 0  # automatic
    assert first_rows(0, 20000, 1, 1) == 0 and first_rows(100, 20000, 5, 1) == 0 and first_rows(100, 400, 1, 1) == 100


def test_a_promoted_trial_gets_about_as_many_row_epochs_on_each_rung() -> None:
    got = rungs(np.arange(20000) % 2, np.arange(5000) % 2, 2500, seed=0)
    assert [r.epochs(got[0], 30) for r in got] == [30, 10, 4]  # 2,500 x 30, 7,500 x 10, 20,000 x 4 rows x epochs
    assert [r.epochs(got[0], 30, used=18) for r in got] == [30, 6, 3]  # as many as the trial used on the first
    assert [r.epochs(got[0], 5) for r in got] == [5, 3, 3]  # never fewer than 3 (nor more than --epochs)


def test_rungs_are_nested_stratified_and_seeded() -> None:
    y = np.array([0] * 700 + [1] * 300)
    yv = np.array([0] * 1400 + [1] * 600)
    got = rungs(y, yv, 100, seed=4)
    assert [len(r.train) for r in got] == [100, 300, 1000] and [len(r.val) for r in got] == [1000, 1000, 2000]
    assert set(got[0].train) <= set(got[1].train) and set(got[0].val) <= set(got[1].val)
    assert np.mean(y[got[0].train]) == pytest.approx(0.3, abs=0.011)  # the classes' proportions, to one row
    again = rungs(y, yv, 100, seed=4)
    assert all(np.array_equal(a.train, b.train) for a, b in zip(got, again, strict=True))
    order = stratified_order(y, 0)
    assert sorted(order) == list(range(1000)) and not np.array_equal(order, stratified_order(y, 1))


def test_pruner_promotes_the_best_third_of_a_rung_and_applies_the_median_within_it() -> None:
    import optuna

    from runner.searching.pruner import RungPruner

    st = optuna.create_study(pruner=RungPruner(startup=2, warmup=1))
    pruned = []
    for value in (0.5, 0.6, 0.4, 0.7, 0.3, 0.45):  # rung-0 scores, in the order trials report them
        t = st.ask()
        t.report(value, END)
        pruned.append(t.should_prune())
        st.tell(t, state=optuna.trial.TrialState.PRUNED if pruned[-1] else None, values=None if pruned[-1] else value)
    # alone: on; then only the best so far (fewer than 3 scores); then the best len // 3 of all scores
    assert pruned == [False, True, False, True, False, True]
    t = st.ask()  # the median rule within the last rung: epochs compared with completed trials at the same step
    for epoch, v in enumerate((0.9, 0.9, 0.9)):
        t.report(v, STRIDE + epoch)
    assert t.should_prune() is False  # no completed trial reported at step STRIDE + 2
    done = [st.ask() for _ in range(2)]
    for d in done:
        for epoch in range(3):
            d.report(0.5, STRIDE + epoch)
        st.tell(d, 0.5)
    assert t.should_prune() is True
    # on a lower rung, the trials that finished it count, pruned at its end or not (not only complete ones)
    early = st.ask()
    for epoch in range(3):
        early.report(0.9, epoch)
    assert early.should_prune() is False  # nobody reported epoch 2 of the first rung
    rung0 = [st.ask() for _ in range(2)]
    for d in rung0:
        for epoch in range(3):
            d.report(0.5, epoch)
        d.report(0.5, END)
        st.tell(d, state=optuna.trial.TrialState.PRUNED)
    assert early.should_prune() is True  # worse than the median of the two pruned trials' first rungs


def test_halving_search_prunes_at_rung_ends_keeps_the_total_and_repeats(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=30)
    args = {**SMALL, "halving": 12, "seed": 2, "epochs": 2}
    r = runner.search(str(root), trials=6, study="h1", **args)
    assert sum(r.n_trials.values()) == 6 and r.n_trials["complete"] >= 1  # pruned trials count towards the total
    import optuna

    storage = tracking.default_storage(tracking.tracking_uri())
    trials = optuna.load_study(study_name="h1", storage=storage).trials
    rung_ends = [t for t in trials if END in t.intermediate_values]
    assert len(rung_ends) == 6  # every trial trained on the first rung (12 of 48 training rows) first
    assert any(t.state.name == "PRUNED" and max(t.intermediate_values) == END for t in trials)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert all(max(t.intermediate_values) > STRIDE for t in complete)  # and went on to all rows
    cl = tracking.client(tracking.tracking_uri())
    run = cl.get_run(complete[0].user_attrs["mlflow_run_id"])
    assert run.data.metrics["rung0_rows"] == 12 and "rung0_val_log_loss" in run.data.metrics
    # (a seeded search with successive halving, stopped and resumed, decides as the uninterrupted one: test_search.py)


def test_a_head_too_large_for_the_memory_budget_is_pruned_with_the_reason(workdir: Path) -> None:
    root = make_folders(workdir / "train", per_class=6)
    warnings: list[str] = []

    def on_event(kind: str, payload: dict) -> None:
        if kind == "warning":
            warnings.append(payload["message"])

    with pytest.raises(RunnerError, match="no trial completed"):
        runner.search(str(root), trials=2, memory_budget=0.001, on_event=on_event, **SMALL)
    assert len(warnings) == 2
    assert all("too large for --memory-budget" in w and "raise --memory-budget" in w for w in warnings)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"halving": -1}, "bad --halving"),
        ({"halving": 100, "folds": 3}, "does not combine with --folds"),
        ({"epochs": END}, "bad --epochs"),
    ],
)
def test_bad_halving_arguments(kwargs: dict, match: str) -> None:
    from runner.searching.config import SearchConfig

    with pytest.raises(RunnerError, match=match):
        SearchConfig(**kwargs)


def test_lower_rungs_warm_start_the_last_trains_from_scratch_and_a_member_is_trained_again_exactly() -> None:
    import optuna

    from runner.plugins.registry import get_head
    from runner.searching.arrays import Arrays
    from runner.searching.choice import Choice
    from runner.searching.config import SearchConfig
    from runner.searching.objective import Objective

    rng = np.random.default_rng(0)
    y = np.arange(120) % 2
    x = (rng.normal(size=(120, 2, 2, 4)) + y[:, None, None, None]).astype(np.float32)
    cfg = SearchConfig(halving=10, epochs=4, seed=0)
    arrays = {"b": Arrays(x[:100], y[:100], x[100:], y[100:], 2)}
    objective = Objective(cfg, {"linear": get_head("linear")}, arrays, None, "", "", lambda kind, p: None)
    assert [len(r.train) for r in objective.rungs("b")] == [10, 30, 100]
    choice = Choice("b", "linear", {"pooling": "avg", "l2": 1e-4, "learning_rate": 1e-2, "batch_size": 32})
    calls: list[tuple[int, bool, int | None]] = []
    fit_rung = objective.fit_rung

    def spy(choice, number, rung=None, hook=None, history=None, initial=None, epochs=None):  # type: ignore[no-untyped-def]
        calls.append((len(rung.train), initial is not None, epochs))
        return fit_rung(choice, number, rung, hook, history, initial, epochs)

    objective.fit_rung = spy  # type: ignore[method-assign]

    class Trial:  # what climb() asks of an Optuna trial
        number, reports, prune = 1, [], False

        def report(self, value: float, step: int) -> None:
            self.reports.append(step)

        def should_prune(self) -> bool:
            return self.prune

    trial, logged = Trial(), {}
    searched = objective.climb(choice, 1, trial, logged=logged)
    # rung 1 goes on from rung 0's weights for fewer epochs; the last rung starts afresh with --epochs
    assert [c[:2] for c in calls] == [(10, False), (30, True), (100, False)] and calls[2][2] is None
    assert trial.reports == [END, STRIDE + END] and logged["rung1_rows"] == 30 and "rung0_val_log_loss" in logged
    calls.clear()
    again = objective.climb(choice, 1)  # a member trained again: the last rung alone, same seed, same weights
    assert [c[0] for c in calls] == [100]
    cold = fit_rung(choice, 1)  # all rows from the start: what a search without halving trains for this trial
    for a, b, c in zip(searched.model.get_weights(), again.model.get_weights(), cold.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    trial.prune, trial.reports = True, []
    with pytest.raises(optuna.TrialPruned, match="pruned after rung 1 of 3 \\(10 rows\\)"):
        objective.climb(choice, 1, trial)
    assert trial.reports == [END]


def test_a_promoted_rung_applies_the_median_rule_after_two_trials_finished_it() -> None:
    import optuna

    from runner.searching.pruner import RungPruner

    st = optuna.create_study(pruner=RungPruner(startup=5, warmup=1))
    for _ in range(2):  # two finalists, complete on the last rung (STRIDE + epoch)
        d = st.ask()
        for epoch in range(3):
            d.report(0.5, epoch)
            d.report(0.1, STRIDE + epoch)
        st.tell(d, 0.1)
    late = st.ask()
    for epoch in range(3):
        late.report(0.9, STRIDE + epoch)
    assert late.should_prune() is True  # worse than both at the same epoch of the same rung
    first = st.ask()
    for epoch in range(3):
        first.report(0.9, epoch)
    assert first.should_prune() is False  # the first rung still waits for 5 trials
