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
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import get_scorer
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
    """Outcome of one cross-validation. ``status`` is 'ok', 'failed' or 'timeout'."""

    status: str
    mean: float | None = None
    std: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    fit_time: float = 0.0  # mean seconds per fold fit
    wall_time: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_folds(task: Task, folds: int, seed: int):
    if folds < 2:
        raise TaskError(f"cross-validation needs at least 2 folds, got {folds}")
    if task.task_type == "classification":
        smallest = int(np.bincount(task.y).min())
        if smallest < folds:
            warnings.warn(f"smallest class has {smallest} rows; using {max(smallest, 2)} folds instead of {folds}",
                          stacklevel=2)
            folds = max(smallest, 2)
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=min(folds, len(task.y)), shuffle=True, random_state=seed)


def cross_validate_config(task: Task, family: str, config: dict[str, Any], metric: str | None = None,
                          folds: int = 5, seed: int = 0, time_limit: float | None = None,
                          isolate: bool = False) -> EvalResult:
    """Cross-validate ``config`` of ``family`` on ``task``; never raises for a failing model.

    ``time_limit`` (seconds) is checked after each fold: a configuration that runs past it is
    stopped there and reported with status 'timeout'. With ``isolate`` the folds run in a child
    process (tools.isolation): one fold that runs on past the limit is killed, and a model that
    crashes its process fails this trial only.
    """
    spec = get_metric(metric, task)
    fam = get_family(family, task.task_type)
    scorer_name = spec.scorer_multiclass if (task.n_classes > 2 and spec.scorer_multiclass) else spec.scorer
    sign = -1.0 if spec.direction == "minimize" else 1.0
    start = time.perf_counter()
    try:
        estimator = fam.build(config, task, seed=seed, needs_proba=spec.needs_proba)
        cv = make_folds(task, folds, seed)
    except Exception as exc:  # a bad configuration must not end the run
        return _failed("failed", _one_line(exc), [], [], start)
    if not isolate:
        return run_folds(task, estimator, cv, scorer_name, sign, time_limit)
    return _run_isolated(task, estimator, cv, scorer_name, sign, time_limit, start)


def run_folds(task: Task, estimator, cv, scorer_name: str, sign: float, time_limit: float | None) -> EvalResult:
    """Fit and score ``estimator`` on each fold of ``cv`` (module level: a child process runs it too)."""
    scorer = get_scorer(scorer_name)
    start = time.perf_counter()
    scores, fit_times = [], []
    try:
        for train, test in cv.split(task.X, task.y):
            model = clone(estimator)
            t0 = time.perf_counter()
            with warnings.catch_warnings(), threadpool_limits(limits=ESTIMATOR_THREADS):
                warnings.simplefilter("ignore")
                model.fit(task.X.iloc[train], task.y[train])
                fit_times.append(time.perf_counter() - t0)
                score = sign * float(scorer(model, task.X.iloc[test], task.y[test]))
            if not math.isfinite(score):
                return _failed("failed", f"score is {score} on a fold", scores, fit_times, start)
            scores.append(score)
            if time_limit is not None and time.perf_counter() - start > time_limit:
                return _failed("timeout", f"exceeded the time limit of {time_limit:g} s after "
                               f"{len(scores)} fold(s)", scores, fit_times, start)
    except MemoryError:
        return _failed("failed", "MemoryError: the model ran out of memory", scores, fit_times, start)
    except Exception as exc:  # a bad configuration must not end the run
        return _failed("failed", _one_line(exc), scores, fit_times, start)
    return EvalResult("ok", float(np.mean(scores)), float(np.std(scores)), [float(s) for s in scores],
                      float(np.mean(fit_times)), time.perf_counter() - start)


def _run_isolated(task: Task, estimator, cv, scorer_name: str, sign: float, time_limit: float | None,
                  start: float) -> EvalResult:
    from tunegraph.tools.trials.isolation import IsolationError, describe_exit, shared_runner

    runner = shared_runner()
    # the soft limit inside the child stops between folds; the kill waits a little longer for it
    hard_limit = None if time_limit is None else time_limit + max(1.0, 0.1 * time_limit)
    try:
        outcome, value = runner.call(run_folds, (task, estimator, cv, scorer_name, sign, time_limit),
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
