"""K-fold cross-validation of one configuration, with failures recorded instead of raised.

Example:
    >>> task = load_task(dataset="breast_cancer")                                  # doctest: +SKIP
    >>> result = cross_validate_config(task, "xgboost", config, metric="roc_auc")  # doctest: +SKIP
    >>> result.ok, result.mean, result.fit_time                                    # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import get_scorer, log_loss, make_scorer, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from tunegraph.tools.ml.models import ESTIMATOR_THREADS, get_family
from tunegraph.tools.ml.tasks import Task, TaskError


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str  # "maximize" | "minimize"
    task_type: str
    scorer: str  # scikit-learn scorer name; its sign is undone for "minimize" metrics
    scorer_multiclass: str | None = None
    needs_proba: bool = False


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("accuracy", "maximize", "classification", "accuracy"),
    Metric("balanced_accuracy", "maximize", "classification", "balanced_accuracy"),
    Metric("roc_auc", "maximize", "classification", "roc_auc", "roc_auc_ovr", needs_proba=True),
    Metric("f1", "maximize", "classification", "f1", "f1_macro"),
    Metric("log_loss", "minimize", "classification", "neg_log_loss", needs_proba=True),
    Metric("rmse", "minimize", "regression", "neg_root_mean_squared_error"),
    Metric("mae", "minimize", "regression", "neg_mean_absolute_error"),
    Metric("r2", "maximize", "regression", "r2"),
]}


def default_metric(task: Task) -> str:
    """ROC AUC for two classes, accuracy for more, RMSE for regression."""
    if task.task_type == "regression":
        return "rmse"
    return "roc_auc" if task.n_classes == 2 else "accuracy"


def get_metric(name: str | None, task: Task) -> Metric:
    """The named metric, checked against the task; ``None`` gives the task's default."""
    name = name or default_metric(task)
    if name not in METRICS:
        raise TaskError(f"unknown metric '{name}'; choose one of: {', '.join(METRICS)}")
    metric = METRICS[name]
    if metric.task_type != task.task_type:
        fitting = [m for m, spec in METRICS.items() if spec.task_type == task.task_type]
        raise TaskError(f"metric '{name}' is for {metric.task_type}, but this task is {task.task_type}; "
                        f"choose one of: {', '.join(fitting)}")
    return metric


@dataclass
class EvalResult:
    """Outcome of one cross-validation. ``status`` is 'ok', 'failed', 'timeout' or 'pruned'."""

    status: str
    mean: float | None = None
    std: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    fit_time: float = 0.0  # mean seconds per fold fit
    wall_time: float = 0.0
    error: str | None = None
    # each row's prediction by the model of the fold that held it out (keep_oof): class probabilities
    # (rows, classes) or values (rows,); for the post-hoc ensemble, never in graph state
    oof: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "oof"}


class FixedSplits:
    """Given (train rows, test rows) pairs as a splitter: a user's own CV (``Context.splits``)."""

    def __init__(self, splits: Sequence[tuple[Sequence[int], Sequence[int]]]):
        self.splits = [(np.asarray(train, dtype=int), np.asarray(test, dtype=int)) for train, test in splits]

    def split(self, X=None, y=None, groups=None):
        return iter(self.splits)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return len(self.splits)


def make_folds(task: Task, folds: int, seed: int):
    """The splitter: shuffled and seeded, stratified by class for classification.

    A class with fewer rows than ``folds`` keeps the requested number of folds, with a warning
    naming it. Dropping to fewer folds (as this did before) changed every trial's training share
    and score for the sake of one class, and did not even help: a class of 1 row is missing
    from a training fold however few folds there are. The models cope instead (a fold without
    a class gives it probability 0: tools/ml/all_classes.py) and so do the metrics (FoldScorer).
    """
    if folds < 2:
        raise TaskError(f"cross-validation needs at least 2 folds, got {folds}")
    n_rows = len(task.y)
    if folds > n_rows:  # every test fold needs a row
        warnings.warn(f"only {n_rows} rows: using {n_rows} folds instead of {folds}", stacklevel=3)
        folds = n_rows
    if task.task_type != "classification":
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    counts = np.bincount(task.y, minlength=task.n_classes)
    if counts.max() < folds:  # StratifiedKFold refuses when every class is smaller than the fold count
        warnings.warn(f"every class has fewer rows than the {folds} folds: the folds are not stratified", stacklevel=3)
        return KFold(n_splits=folds, shuffle=True, random_state=seed)
    rare = [(task.classes[i] if i < len(task.classes) else i, int(c)) for i, c in enumerate(counts) if c < folds]
    if rare:
        shown = ", ".join(f"{label!r} ({c} row{'' if c == 1 else 's'})" for label, c in rare[:10])
        warnings.warn(f"{len(rare)} class{'' if len(rare) == 1 else 'es'} with fewer rows than the {folds} folds: "
                      f"{shown}{' ...' if len(rare) > 10 else ''}; keeping {folds} folds: a model trained on a "
                      "fold without such a class gives it probability 0", stacklevel=3)
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)


def roc_auc_ovr(y_true, y_score, *, labels: Sequence) -> float:
    """One-vs-rest ROC AUC: the mean over the classes present in ``y_true`` (column i is ``labels[i]``).

    The same as scikit-learn's ``roc_auc_ovr`` when the test fold has every class. A class
    missing from it has no positives, so its AUC is undefined: scikit-learn then makes the
    whole fold NaN (with ``labels``) or raises (without); here it is left out of the mean.
    """
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    aucs = [roc_auc_score(y_true == label, y_score[:, i]) for i, label in enumerate(labels)
            if 0 < int((y_true == label).sum()) < len(y_true)]
    return float(np.mean(aucs)) if aucs else float("nan")


@dataclass(frozen=True)
class FoldScorer:
    """Scores a fitted model on one test fold, knowing every class of the task.

    A test fold may lack a rare class: log loss is then told the labels (scikit-learn infers
    them from the fold and refuses the extra probability column), multiclass ROC AUC averages
    over the classes present (:func:`roc_auc_ovr`), and a fold with a single class cannot be
    scored by ROC AUC at all, so ``defined_on`` says to skip it. Accuracy, balanced accuracy
    and F1 need nothing: they use the classes present in the fold.
    """

    metric: str
    scorer: Callable
    needs_two_classes: bool = False

    def defined_on(self, y) -> bool:
        return not self.needs_two_classes or len(np.unique(y)) >= 2

    def __call__(self, model, X, y) -> float:
        return float(self.scorer(model, X, y))


def fold_scorer(spec: Metric, task: Task) -> FoldScorer:
    """The :class:`FoldScorer` of metric ``spec`` on ``task``."""
    labels = list(range(task.n_classes))
    multiclass = task.n_classes > 2
    if spec.name == "log_loss":
        scorer = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba", labels=labels)
    elif spec.name == "roc_auc" and multiclass:
        scorer = make_scorer(roc_auc_ovr, response_method="predict_proba", labels=labels)
    else:
        scorer = get_scorer(spec.scorer_multiclass if (multiclass and spec.scorer_multiclass) else spec.scorer)
    return FoldScorer(spec.name, scorer, needs_two_classes=spec.name == "roc_auc")


def cross_validate_config(task: Task, family: str, config: dict[str, Any], metric: str | None = None,
                          folds: int | Sequence = 5, seed: int = 0, time_limit: float | None = None,
                          isolate: bool = False, on_fold: Callable[[int, float], bool] | None = None,
                          keep_oof: bool = False) -> EvalResult:
    """Cross-validate ``config`` of ``family`` on ``task``; never raises for a failing model.

    ``time_limit`` (seconds) is checked after each fold: a configuration that runs past it is
    stopped there and reported with status 'timeout'. With ``isolate`` the folds run in a child
    process (tools.isolation): one fold that runs on past the limit is killed, and a model that
    crashes its process fails this trial only.

    ``on_fold(fold, running mean)`` is called after each fold (in this process only; fold-level
    pruning): when it returns True the remaining folds are skipped and the result is 'pruned'.
    ``folds`` is a number of folds (shuffled, seeded, stratified for classes) or the (train, test)
    row pairs of a user's own splitter. ``keep_oof`` keeps each row's out-of-fold prediction in
    ``EvalResult.oof`` (one more predict per fold), for the post-hoc ensemble.
    """
    spec = get_metric(metric, task)
    fam = get_family(family, task.task_type)
    scorer = fold_scorer(spec, task)
    sign = -1.0 if spec.direction == "minimize" else 1.0
    start = time.perf_counter()
    try:
        estimator = fam.build(config, task, seed=seed, needs_proba=spec.needs_proba)
        cv = make_folds(task, folds, seed) if isinstance(folds, int) else FixedSplits(folds)
    except Exception as exc:  # a bad configuration must not end the run
        return _failed("failed", _one_line(exc), [], [], start)
    if not isolate:
        return run_folds(task, estimator, cv, scorer, sign, time_limit, on_fold, keep_oof)
    return _run_isolated(task, estimator, cv, scorer, sign, time_limit, start, keep_oof)


def run_folds(task: Task, estimator, cv, scorer: FoldScorer, sign: float, time_limit: float | None,
              on_fold: Callable[[int, float], bool] | None = None, keep_oof: bool = False) -> EvalResult:
    """Fit and score ``estimator`` on each fold of ``cv`` (module level: a child process runs it too).

    A test fold the metric cannot score (ROC AUC on a single class) is left out; the trial
    fails only when no fold can be scored.
    """
    start = time.perf_counter()
    scores, fit_times, skipped = [], [], 0
    oof = out_of_fold_array(task) if keep_oof else None
    try:
        with warnings.catch_warnings():  # make_folds has said which classes are rare, in plainer words
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            splits = list(cv.split(task.X, task.y))
        for train, test in splits:
            if not scorer.defined_on(task.y[test]):
                skipped += 1
                continue
            model = clone(estimator)
            t0 = time.perf_counter()
            with warnings.catch_warnings(), threadpool_limits(limits=ESTIMATOR_THREADS):
                warnings.simplefilter("ignore")
                model.fit(task.X.iloc[train], task.y[train])
                fit_times.append(time.perf_counter() - t0)
                score = sign * scorer(model, task.X.iloc[test], task.y[test])
                if oof is not None:
                    oof[test] = fold_predictions(model, task, task.X.iloc[test])
            if not math.isfinite(score):
                return _failed("failed", f"score is {score} on a fold", scores, fit_times, start)
            scores.append(score)
            if on_fold is not None and len(scores) < len(splits) and on_fold(len(scores) - 1, float(np.mean(scores))):
                return EvalResult("pruned", float(np.mean(scores)), float(np.std(scores)), [float(s) for s in scores],
                                  float(np.mean(fit_times)), time.perf_counter() - start,
                                  f"pruned after {len(scores)} of {len(splits)} folds: behind the earlier trials there")
            if time_limit is not None and time.perf_counter() - start > time_limit:
                return _failed("timeout", f"exceeded the time limit of {time_limit:g} s after "
                               f"{len(scores)} fold(s)", scores, fit_times, start)
    except MemoryError:
        return _failed("failed", "MemoryError: the model ran out of memory", scores, fit_times, start)
    except Exception as exc:  # a bad configuration must not end the run
        return _failed("failed", _one_line(exc), scores, fit_times, start)
    if not scores:
        return _failed("failed", f"{scorer.metric} is undefined on every fold: each of the {skipped} test folds "
                       "has a single class; choose another --metric (e.g. accuracy) or fewer --folds",
                       scores, fit_times, start)
    return EvalResult("ok", float(np.mean(scores)), float(np.std(scores)), [float(s) for s in scores],
                      float(np.mean(fit_times)), time.perf_counter() - start,
                      oof=oof if oof is not None and not skipped else None)  # a skipped fold leaves rows unknown


def out_of_fold_array(task: Task) -> np.ndarray:
    """NaN-filled room for each row's out-of-fold prediction: (rows, classes) or (rows,)."""
    shape = (len(task.y), task.n_classes) if task.task_type == "classification" else (len(task.y),)
    return np.full(shape, np.nan)


def fold_predictions(model, task: Task, X) -> np.ndarray:
    """A fitted fold model's predictions for the ensemble: class probabilities (a classifier without
    them votes 1 for its class) or values."""
    if task.task_type != "classification":
        return np.asarray(model.predict(X), dtype=float)
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(X), dtype=float)
    return np.eye(task.n_classes)[np.asarray(model.predict(X), dtype=np.int64)]


def _run_isolated(task: Task, estimator, cv, scorer: FoldScorer, sign: float, time_limit: float | None,
                  start: float, keep_oof: bool = False) -> EvalResult:
    from tunegraph.tools.trials.isolation import IsolationError, describe_exit, shared_runner

    runner = shared_runner()
    # the soft limit inside the child stops between folds; the kill waits a little longer for it
    hard_limit = None if time_limit is None else time_limit + max(1.0, 0.1 * time_limit)
    try:
        outcome, value = runner.call(run_folds, (task, estimator, cv, scorer, sign, time_limit, None, keep_oof),
                                     timeout=hard_limit if hard_limit is not None else 1e9)
    except IsolationError as exc:
        return _failed("failed", str(exc), [], [], start)
    except Exception as exc:  # the configuration could not be sent (it does not pickle)
        return _failed("failed", _one_line(exc), [], [], start)
    if outcome == "ok":
        return value
    if outcome == "timeout":
        return _failed("timeout", f"killed after {hard_limit:.3g} s: a fold ran past the time limit of "
                                  f"{time_limit:g} s", [], [], start)
    return _failed("failed", f"the evaluation process died ({describe_exit(value)}): out of memory, or a crash "
                             "in the model's native code", [], [], start)


def _one_line(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1][:500]


def _failed(status: str, error: str, scores: list, fit_times: list, start: float) -> EvalResult:
    return EvalResult(status, None, None, [float(s) for s in scores],
                      float(np.mean(fit_times)) if fit_times else 0.0, time.perf_counter() - start, error)
