"""Greedy ensemble selection (Caruana et al., ICML 2004) over the trials' out-of-fold predictions.

Each step adds, with replacement, the trial whose predictions improve the average most on the
run's metric; the best ensemble along the path wins, so it is never worse there than the best
single trial (the first pick). A trial picked 3 times of 10 gets weight 0.3.

Example:
    >>> folds = make_folds(task, 5, seed=0)                                              # doctest: +SKIP
    >>> oof = [oof_predictions(task, f, c, folds) for f, c in candidates]                 # doctest: +SKIP
    >>> selection = select_ensemble(oof, task.y, "roc_auc")                               # doctest: +SKIP
    >>> EnsembleModel([fit_model(task, *candidates[i]) for i in selection.members], selection.weights)  # doctest: +SKIP

The container is not scikit-learn's VotingClassifier/VotingRegressor: those fit (or take as
fitted) bare estimators on one shared input and encoded labels, while the members here are
FittedModels that carry the column preparation and label decoding; averaging them is a few lines.
"""

from __future__ import annotations

import math
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from tunegraph.errors import InputError
from tunegraph.tools.ml.fitted import FittedModel, Predictor, installed_versions, own_config
from tunegraph.tools.ml.models import ESTIMATOR_THREADS, get_family
from tunegraph.tools.ml.tasks import Task
from tunegraph.tools.trials.evaluation import (
    METRICS,
    Metric,
    fold_predictions,
    make_folds,
    out_of_fold_array,
    roc_auc_ovr,
)

MAX_MEMBERS = 25
OOF_MEMORY_CAP = 256 * 2**20  # bytes of out-of-fold predictions kept for a selection


def oof_bytes(n_rows: int, n_classes: int, n_trials: int) -> int:
    """Bytes of float64 out-of-fold predictions: rows x classes (1 for regression) x trials."""
    return 8 * int(n_rows) * max(int(n_classes), 1) * int(n_trials)


def oof_fits(n_rows: int, n_classes: int, n_trials: int, cap: int = OOF_MEMORY_CAP) -> bool:
    """Whether the out-of-fold predictions of ``n_trials`` trials fit under ``cap`` bytes
    (when not, a caller skips the ensemble with a note, or keeps fewer trials)."""
    return oof_bytes(n_rows, n_classes, n_trials) <= cap


def oof_predictions(task: Task, family: str, config: dict[str, Any], folds, seed: int = 0,
                    needs_proba: bool = True) -> np.ndarray:
    """Each row's prediction by the model fitted on the folds without it: ``(rows, classes)``
    probabilities for classification, ``(rows,)`` values for regression; aligned with ``task.y``.

    ``folds`` is a splitter (``make_folds``), a number of folds (made with ``make_folds(task,
    folds, seed)``, as cross-validation makes them) or a list of ``(train, test)`` index arrays.
    A classifier without probabilities (an SVM built with ``needs_proba=False``) votes: 1 for
    its predicted class. Rows no test fold covers stay NaN.
    """
    family, config = own_config(family, config)
    estimator = get_family(family, task.task_type).build(config, task, seed=seed, needs_proba=needs_proba)
    splits = make_folds(task, folds, seed) if isinstance(folds, int) else folds
    if hasattr(splits, "split"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            splits = list(splits.split(task.X, task.y))
    out = out_of_fold_array(task)
    for train, test in splits:
        model = clone(estimator)
        with warnings.catch_warnings(), threadpool_limits(limits=ESTIMATOR_THREADS):
            warnings.simplefilter("ignore")  # as in cross-validation (evaluation.run_folds)
            model.fit(task.X.iloc[train], task.y[train])
            out[test] = fold_predictions(model, task, task.X.iloc[test])
    return out


def oof_score(metric: str | Metric, y: np.ndarray, predictions: np.ndarray) -> float:
    """``metric`` of out-of-fold ``predictions`` in its own units (RMSE as a positive number).

    Classification takes class probabilities; accuracy, balanced accuracy and F1 score their
    argmax, as averaged probabilities are voted on.
    """
    spec = _metric(metric)
    y, p = np.asarray(y), np.asarray(predictions, dtype=float)
    if spec.task_type == "regression":
        if p.ndim != 1:
            raise InputError(f"regression predictions must be one value per row, got shape {p.shape}")
        return float({"rmse": lambda: math.sqrt(skm.mean_squared_error(y, p)),
                      "mae": lambda: skm.mean_absolute_error(y, p),
                      "r2": lambda: skm.r2_score(y, p)}[spec.name]())
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(f"classification predictions must be class probabilities (rows, classes), got {p.shape}")
    labels, k = np.arange(p.shape[1]), p.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. balanced accuracy when a class is never predicted
        score = {"accuracy": lambda: skm.accuracy_score(y, p.argmax(1)),
                 "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, p.argmax(1)),
                 "f1": lambda: skm.f1_score(y, p.argmax(1)) if k == 2 else skm.f1_score(y, p.argmax(1),
                                                                                          average="macro"),
                 "roc_auc": lambda: skm.roc_auc_score(y, p[:, 1]) if k == 2 else roc_auc_ovr(y, p, labels=labels),
                 "log_loss": lambda: skm.log_loss(y, p, labels=labels)}[spec.name]()
    return float(score)


@dataclass(frozen=True)
class EnsembleSelection:
    """The chosen ensemble: candidate indices (each once, in first-pick order) and their weights."""

    members: list[int]
    weights: list[float]  # share of the picks, summing to 1
    score: float  # the ensemble's out-of-fold score
    best_single: float  # the best single candidate's out-of-fold score
    best_index: int
    picks: list[int]  # the whole greedy path, repeats included
    path_scores: list[float]  # the ensemble's score after each pick


def select_ensemble(predictions: Sequence[np.ndarray], y: np.ndarray, metric: str | Metric,
                    max_members: int = MAX_MEMBERS) -> EnsembleSelection:
    """Caruana's greedy selection with replacement, for ``max_members`` picks, on ``metric``.

    ``predictions`` are out-of-fold predictions per candidate (:func:`oof_predictions`); a
    candidate with a missing or infinite value is never picked. Ties go to the earlier candidate.
    """
    spec = _metric(metric)
    if max_members < 1:
        raise InputError(f"an ensemble needs at least 1 member, got max_members={max_members}")
    preds = [np.asarray(p, dtype=float) for p in predictions]
    usable = [i for i, p in enumerate(preds) if p.shape[0] == len(y) and np.isfinite(p).all()]
    shapes = {preds[i].shape for i in usable}
    if not usable or len(shapes) > 1:
        raise InputError("no candidates with complete out-of-fold predictions of one shape "
                         f"({len(usable)} of {len(preds)} complete; shapes {sorted(shapes)})")
    sign = 1.0 if spec.direction == "maximize" else -1.0
    total = np.zeros(shapes.pop())
    picks: list[int] = []
    scores: list[float] = []
    for step in range(1, max_members + 1):
        best_i, best_s = None, math.nan
        for i in usable:
            s = oof_score(spec, y, (total + preds[i]) / step)
            if math.isfinite(s) and (best_i is None or sign * s > sign * best_s):
                best_i, best_s = i, s
        if best_i is None:
            break
        total += preds[best_i]
        picks.append(best_i)
        scores.append(best_s)
    if not picks:
        raise InputError(f"{spec.name} is undefined on every candidate's out-of-fold predictions")
    size = 1 + max(range(len(scores)), key=lambda n: (sign * scores[n], -n))  # the first best prefix
    counts = Counter(picks[:size])
    members = list(dict.fromkeys(picks[:size]))
    return EnsembleSelection(members, [counts[i] / size for i in members], scores[size - 1], scores[0], picks[0],
                             picks, scores)


class EnsembleModel(Predictor):
    """FittedModels of one task with weights: probabilities (or values) averaged, with the same
    column handling, ``predictions_frame`` and file format as a single FittedModel."""

    def __init__(self, members: Sequence[FittedModel], weights: Sequence[float] | None = None, *,
                 metric: str | None = None, score: float | None = None, study_name: str | None = None):
        members = list(members)
        weights = [1.0] * len(members) if weights is None else [float(w) for w in weights]
        if not members or len(weights) != len(members):
            raise InputError(f"an ensemble needs members and one weight each, got {len(members)} members "
                             f"and {len(weights)} weights")
        if min(weights) < 0 or sum(weights) <= 0:
            raise InputError(f"ensemble weights must be non-negative with a positive sum, got {weights}")
        first = members[0].info
        for m in members[1:]:
            same = (m.info.task_type, m.info.target, m.info.classes, m.info.features, m.info.columns)
            if same != (first.task_type, first.target, first.classes, first.features, first.columns):
                raise InputError("ensemble members must be fitted on the same task (same target, classes and columns)")
        self.members = members
        self.weights = [w / sum(weights) for w in weights]
        libraries = list(dict.fromkeys(lib for m in members for lib in m.info.libraries))
        self.info = replace(first, family="ensemble", config={}, metric=metric or first.metric, cv_score=score,
                            study_name=study_name or first.study_name, libraries=libraries,
                            versions=installed_versions(), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            members=[{"family": m.info.family, "config": m.info.config, "weight": w,
                                      "cv_score": m.info.cv_score} for m, w in zip(members, self.weights)])

    def __repr__(self) -> str:
        shown = ", ".join(f"{m.info.family} {w:.2f}" for m, w in zip(self.members, self.weights))
        return f"EnsembleModel({self.task_type}, target {self.info.target!r}: {shown})"

    def _predict_proba(self, X) -> np.ndarray:
        return sum(w * m._predict_proba(X) for m, w in zip(self.members, self.weights))

    def _predict(self, X) -> np.ndarray:
        if self.task_type == "classification":
            return self._predict_proba(X).argmax(axis=1)
        return sum(w * np.asarray(m._predict(X), dtype=float) for m, w in zip(self.members, self.weights))

    def _known_categories(self) -> dict[str, list]:
        return self.members[0]._known_categories()


def _metric(metric: str | Metric) -> Metric:
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise InputError(f"unknown metric '{metric}'; choose one of: {', '.join(METRICS)}")
    return METRICS[metric]


@dataclass(frozen=True)
class HeldOutCheck:
    """The guard against selection's optimism: each half of the rows scores the ensemble and the
    best single candidate, both chosen on the other half."""

    ensemble: list[float]  # held-out score per half
    single: list[float]
    wins: bool  # the ensemble is better on both halves


def held_out_check(predictions: Sequence[np.ndarray], y: np.ndarray, metric: str | Metric, seed: int = 0,
                   max_members: int = MAX_MEMBERS) -> HeldOutCheck:
    """Select on one half of the rows, score on the other, both ways (the rule ``--ensemble auto``
    applies, fixed before any measurement): out-of-fold scores of a selection are optimistic on the
    rows it was selected on, so the ensemble must beat the single best on rows it never saw."""
    spec = _metric(metric)
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    halves = np.zeros(len(y), dtype=bool)
    if spec.task_type == "classification":  # stratified: each half has each class's share
        for label in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == label))
            halves[rows[: len(rows) // 2]] = True
    else:
        halves[rng.permutation(len(y))[: len(y) // 2]] = True
    preds = [np.asarray(p, dtype=float) for p in predictions]
    sign = 1.0 if spec.direction == "maximize" else -1.0
    ens, single = [], []
    for pick in (halves, ~halves):
        chosen = select_ensemble([p[pick] for p in preds], y[pick], spec, max_members)
        rest = ~pick
        blend = sum(w * preds[i][rest] for i, w in zip(chosen.members, chosen.weights))
        ens.append(oof_score(spec, y[rest], blend))
        single.append(oof_score(spec, y[rest], preds[chosen.best_index][rest]))
    wins = all(math.isfinite(e) and math.isfinite(s) and sign * e > sign * s for e, s in zip(ens, single))
    return HeldOutCheck(ens, single, wins)
