"""The models a finished study hands back: the finished trials' stored predictions, the blend decided on them
(:mod:`runner.searching.ensemble`), and each member's head trained again on all labelled rows (the refit)."""

from __future__ import annotations

from typing import Any

import numpy as np

from runner import tracking
from runner.features.endtoend import Member
from runner.metrics import classification_metrics
from runner.searching import honest
from runner.searching.choice import Choice
from runner.searching.ensemble import OUT_OF_FOLD, Blend, decide, greedy
from runner.searching.objective import Objective
from runner.searching.predictions import PREDICTIONS
from runner.searching.probe import NAME, PROBE, Probe, member_name, pooled, refitted, scored


def scored_labels(objective: Objective, backbone: str) -> np.ndarray:
    """The labels of the rows trials are scored on: the validation rows, or the training rows with --folds."""
    a = objective.arrays[backbone]
    return a.y_train if objective.config.folds > 1 else a.y_val


def choose(
    cl: Any, objective: Objective, done: list[Any], best: Any, sizes: dict[str, int]
) -> tuple[Blend, list[Any], Probe | None]:
    """The blend of the finished trials and the probe (the best trial alone when predictions are missing), its
    trials, and the probe when the blend chose it; members share the best trial's input size (one end-to-end model
    takes one image size). Decided on out-of-fold predictions (:func:`cross_fitted`) where the candidates can be
    cross-fitted, else on the trials' validation predictions, starting from the study's best trial."""
    cfg = objective.config
    backbone = Choice.of(best).backbone
    size, y, n_classes = sizes[backbone], scored_labels(objective, backbone), objective.arrays[backbone].n_classes
    if cfg.ensemble > 1 and cfg.select_folds > 1 and not objective.cross:
        candidates = honest.candidates(objective, done, size, sizes)
        if candidates:
            return cross_fitted(objective, candidates, backbone)
    plain: dict[int, np.ndarray] = {}
    mirror: dict[int, np.ndarray] = {}
    by_number = {t.number: t for t in done}
    wanted = done if cfg.ensemble > 1 else [best]
    for t in wanted:
        name = Choice.of(t).backbone
        if sizes.get(name) != size:
            continue
        run_id = t.user_attrs.get("mlflow_run_id")
        arrays = tracking.load_arrays(cl, run_id, PREDICTIONS) if run_id else None
        if arrays is None or len(arrays["proba"]) != len(y):
            continue
        plain[t.number] = arrays["proba"].astype(np.float64)
        if "mirror" in arrays:
            mirror[t.number] = arrays["mirror"].astype(np.float64)
    if best.number not in plain:  # a study from an older runner: the best trial alone, as it was
        return Blend({best.number: 1.0}, first=best.number), [best], None
    probe = None
    features = pooled(objective.arrays[backbone]) if cfg.ensemble > 1 and cfg.probe else None
    if features is not None:
        probe, preds = scored(features, cfg.folds, cfg.seed, backbone)
        plain[PROBE] = preds["proba"]
        if "mirror" in preds:
            mirror[PROBE] = preds["mirror"]
    use_mirror = cfg.tta and len(mirror) == len(plain)
    blend = decide(
        plain,
        mirror if use_mirror else None,
        y,
        n_classes,
        best.number,
        cfg.ensemble,
        cfg.metric,
        cfg.calibrate,
    )
    if PROBE in plain:  # the probe's own validation score, beside the best trial's (logged as val_probe_*)
        blend.scores["probe"] = classification_metrics(y, plain[PROBE], n_classes)
    chosen = [by_number[n] for n in blend.members if n != PROBE]
    return blend, chosen, probe if PROBE in blend.members else None


def cross_fitted(objective: Objective, trials: list[Any], backbone: str) -> tuple[Blend, list[Any], Probe | None]:
    """The blend decided on the candidates' out-of-fold predictions (:mod:`runner.searching.honest`): greedy
    selection on all labelled rows from the best candidate alone, mirror and temperature on the validation rows."""
    cfg = objective.config
    a = objective.arrays[backbone]
    features = pooled(a) if cfg.probe else None
    h = honest.predictions(objective, trials, features, cfg.select_folds, backbone)
    first = h.best(a.n_classes, cfg.metric)
    chosen = greedy(h.plain, h.y, a.n_classes, first, cfg.ensemble, cfg.metric)
    on_val = {t: p[h.val] for t, p in h.plain.items()}
    mirror = h.mirror if cfg.tta and h.mirror else None
    # the temperature may only soften: it is fitted on fold models trained on 2/3 of the rows the registered members
    # are refitted on, which are the more confident for it (a sharpening one fitted here cost 0.02 log loss on one
    # split of 2,000 photos: 0.1098 against 0.0883 without)
    y_val, n = h.y[h.val], a.n_classes
    blend = decide(on_val, mirror, y_val, n, first, cfg.ensemble, cfg.metric, cfg.calibrate, chosen, soften_only=True)
    blend.decided_on = OUT_OF_FOLD
    if PROBE in on_val:
        blend.scores["probe"] = classification_metrics(y_val, on_val[PROBE], n)
    by_number = {t.number: t for t in trials}
    members = [by_number[n] for n in blend.members if n != PROBE]
    return blend, members, h.probe if PROBE in blend.members else None


def steady(trial: Any, after: int = 3, tolerance: float = 1.1) -> bool:
    """Whether the trial's validation loss stayed within ``tolerance`` x its minimum over the ``after`` epochs that
    followed it (on average). A model that is good only when stopped at exactly the right epoch cannot be trained
    again blind, without validation rows to stop on: measured on 2,000 photos (5 splits), refits of such dense heads
    lost 0.05 to 0.09 log loss on average, while those of steady linear heads gained 0.003."""
    val = trial.user_attrs.get("history", {}).get("val_loss", [])
    if not val:
        return False
    best = int(np.argmin(val))
    following = val[best + 1 : best + 1 + after]
    return not following or float(np.mean(following)) <= tolerance * float(val[best])


def train_member(objective: Objective, trial: Any, refit: bool, measured: bool = False) -> tuple[Any, bool]:
    """The trial's head model: trained again on training + validation rows for its refit epochs (``refit``; only
    for a :func:`steady` trial unless ``measured``: chosen on out-of-fold predictions of that very training; not for
    one trained on augmented views, which exist for the training rows only, and not after successive halving: see
    :meth:`Objective._score`), else its own weights (kept on disk by this process, or trained again with its seed:
    deterministic; after successive halving only its last rung, which trained from scratch).
    Returns (model, refitted)."""
    cfg = objective.config
    choice = Choice.of(trial)
    head, a = objective.heads[choice.head], objective.features(choice)
    if refit and not choice.views and "refit_epochs" in trial.user_attrs and (measured or steady(trial)):
        x = a.x_train.concat(a.x_val)
        y = np.concatenate([a.y_train, a.y_val])
        epochs = int(trial.user_attrs["refit_epochs"])
        fit = objective.fit(choice, x, y, None, None, cfg.seed + trial.number, epochs)
        return objective.full(choice, fit.model), True
    if trial.number in objective.kept:
        shape = objective.arrays[choice.backbone].x_train.shape[1:]
        model = head.build(tuple(shape), a.n_classes, dict(choice.params))
        model.set_weights(objective.kept.get(trial.number))
        return model, False
    return objective.full(choice, objective.climb(choice, trial.number).model), False


def validated(objective: Objective, trial: Any) -> tuple[Any, dict[str, float]]:
    """The trial's head trained on the training rows as the search validated it (its weights from this process,
    else trained again with its seed), and its metrics on the validation rows (empty when the weights were kept)."""
    if trial.number in objective.kept:
        return train_member(objective, trial, refit=False)[0], {}
    choice = Choice.of(trial)
    fit = objective.climb(choice, trial.number)
    return objective.full(choice, fit.model), fit.metrics


def lead(objective: Objective, blend: Blend, done: list[Any], probe: Probe | None) -> tuple[Any, dict[str, float]]:
    """The member the blend started from, as validated (trained on the training rows only; fine-tuning starts there),
    and its validation metrics (see :func:`validated`)."""
    if blend.first == PROBE and probe is not None:
        return probe.head(tuple(objective.arrays[probe.backbone].x_train.shape[1:])), {}
    return validated(objective, next(t for t in done if t.number == blend.first))


def members(
    objective: Objective, prep: Any, blend: Blend, trials: list[Any], refit: bool, probe: Probe | None = None
) -> tuple[list[Member], int]:
    """The blend's members as end-to-end parts (the probe last), and how many were refitted."""
    out, done = [], 0
    for t in trials:
        choice = Choice.of(t)
        fs = prep.sets[choice.backbone]
        model, again = train_member(objective, t, refit, blend.decided_on == OUT_OF_FOLD)
        done += again
        out.append(Member(t.number, fs.spec, fs.size, fs.weights, fs.entry, model, blend.members[t.number]))
    if probe is not None:
        a, fs = objective.arrays[probe.backbone], prep.sets[probe.backbone]
        if refit:
            probe = refitted(pooled(a), probe)  # type: ignore[arg-type]
            done += 1
        model = probe.head(tuple(a.x_train.shape[1:]))
        out.append(Member(PROBE, fs.spec, fs.size, fs.weights, fs.entry, model, blend.members[PROBE], name=NAME))
    return out, done


def log_blend(cl: Any, run_id: str, blend: Blend, refitted: int, n_classes: int) -> None:
    """Members, weights, decisions and the validation score of each stage on the parent run; the reliability
    diagram before/after temperature scaling as ``plots/reliability.png``."""
    from runner.tracking.plots import reliability

    members = ",".join(f"{member_name(t)}:{w:.3g}" for t, w in blend.members.items())
    tracking.log_params(
        cl,
        run_id,
        {"ensemble_members": members, "tta_kept": blend.tta, "temperature": round(blend.temperature, 4)},
    )
    scores = {f"val_{stage}_{k}": v for stage, m in blend.scores.items() for k, v in m.items()}
    tracking.log_metrics(cl, run_id, scores | {f"ece_{k}": v for k, v in blend.ece.items()} | {"refitted": refitted})
    cl.log_dict(run_id, blend.summary() | {"refitted": refitted}, "model_choice.json")
    if "y" in blend.curves:
        y = blend.curves["y"]
        curves = {k: v for k, v in blend.curves.items() if k != "y"}
        if blend.temperature == 1.0:
            curves = {"model": curves["before"]}
        fig = reliability(y, curves, n_classes)
        cl.log_figure(run_id, fig, "plots/reliability.png")
        import matplotlib.pyplot as plt

        plt.close(fig)
