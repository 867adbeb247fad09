"""Cross-validation of one configuration: scores, metrics and their signs, failures and time limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from tunegraph.tools.ml.models import FAMILIES, get_family
from tunegraph.tools.ml.tasks import Task, TaskError, task_from_frame
from tunegraph.tools.trials.evaluation import (
    METRICS,
    EvalResult,
    cross_validate_config,
    default_metric,
    get_metric,
    make_folds,
)


def defaults(family: str, task: Task) -> dict:
    return FAMILIES[family].default_config(task)


def linear(task: Task) -> str:
    return "logistic_regression" if task.task_type == "classification" else "ridge"


# --- a successful cross-validation -----------------------------------------------------------------

def test_cross_validate_breast_cancer_with_logistic_regression(breast_cancer):
    result = cross_validate_config(breast_cancer, "logistic_regression",
                                   defaults("logistic_regression", breast_cancer), folds=5, seed=0)
    assert result.status == "ok" and result.ok and result.error is None
    assert len(result.fold_scores) == 5
    assert result.mean == pytest.approx(np.mean(result.fold_scores))
    assert result.std == pytest.approx(np.std(result.fold_scores))
    assert 0.95 < result.mean <= 1.0  # ROC AUC, the default metric for two classes
    assert all(0.9 < s <= 1.0 for s in result.fold_scores)
    assert result.fit_time > 0 and result.wall_time >= result.fit_time
    assert set(result.to_dict()) == {"status", "mean", "std", "fold_scores", "fit_time", "wall_time", "error"}


def test_same_seed_same_scores_other_seed_other_folds(iris):
    config = defaults("knn", iris)
    first = cross_validate_config(iris, "knn", config, folds=5, seed=3)
    again = cross_validate_config(iris, "knn", config, folds=5, seed=3)
    assert first.fold_scores == again.fold_scores
    split = lambda seed: [tuple(test) for _, test in make_folds(iris, 5, seed).split(iris.X, iris.y)]  # noqa: E731
    assert split(3) != split(4)


def test_scores_match_scikit_learn(diabetes, breast_cancer):
    for task, metric, scoring, sign in [(diabetes, "rmse", "neg_root_mean_squared_error", -1.0),
                                        (breast_cancer, "roc_auc", "roc_auc", 1.0)]:
        family = linear(task)
        config = defaults(family, task)
        result = cross_validate_config(task, family, config, metric=metric, folds=4, seed=1)
        expected = sign * cross_val_score(get_family(family).build(config, task, seed=1), task.X, task.y,
                                          cv=make_folds(task, 4, 1), scoring=scoring)
        np.testing.assert_allclose(result.fold_scores, expected, rtol=1e-9)


# --- metrics -------------------------------------------------------------------------------------

def test_default_metric(breast_cancer, iris, diabetes):
    assert default_metric(breast_cancer) == "roc_auc"
    assert default_metric(iris) == "accuracy"
    assert default_metric(diabetes) == "rmse"
    assert get_metric(None, diabetes) is METRICS["rmse"]


def test_metric_directions():
    minimized = {name for name, m in METRICS.items() if m.direction == "minimize"}
    assert minimized == {"log_loss", "rmse", "mae"}
    assert {m.direction for m in METRICS.values()} == {"minimize", "maximize"}


@pytest.mark.parametrize("metric, dataset, low, high", [
    ("accuracy", "breast_cancer", 0.9, 1.0),
    ("accuracy", "iris", 0.8, 1.0),
    ("balanced_accuracy", "breast_cancer", 0.9, 1.0),
    ("balanced_accuracy", "iris", 0.8, 1.0),
    ("roc_auc", "breast_cancer", 0.95, 1.0),
    ("roc_auc", "iris", 0.95, 1.0),  # multiclass: one-vs-rest
    ("f1", "breast_cancer", 0.9, 1.0),
    ("f1", "iris", 0.8, 1.0),  # multiclass: macro average
    ("log_loss", "breast_cancer", 0.0, 0.5),  # positive: the scorer's sign is undone
    ("log_loss", "iris", 0.0, 0.7),
    ("rmse", "diabetes", 40.0, 80.0),  # positive, in the target's units
    ("mae", "diabetes", 30.0, 70.0),
    ("r2", "diabetes", 0.2, 1.0),
])
def test_each_metric_on_a_fitting_task(metric, dataset, low, high, request):
    task = request.getfixturevalue(dataset)
    family = linear(task)
    result = cross_validate_config(task, family, defaults(family, task), metric=metric, folds=3)
    assert result.status == "ok", result.error
    assert low < result.mean <= high
    assert all(low < s <= high for s in result.fold_scores)


def test_mae_is_at_most_rmse(diabetes):
    config = defaults("ridge", diabetes)
    rmse = cross_validate_config(diabetes, "ridge", config, metric="rmse", folds=3)
    mae = cross_validate_config(diabetes, "ridge", config, metric="mae", folds=3)
    for a, r in zip(mae.fold_scores, rmse.fold_scores):
        assert 0 < a <= r


def test_roc_auc_with_svm_needs_probabilities(breast_cancer):
    result = cross_validate_config(breast_cancer, "svm", defaults("svm", breast_cancer), metric="roc_auc", folds=3)
    assert result.status == "ok" and result.mean > 0.95


@pytest.mark.parametrize("metric, dataset, fitting", [
    ("rmse", "iris", ["accuracy", "balanced_accuracy", "roc_auc", "f1", "log_loss"]),
    ("r2", "breast_cancer", ["accuracy", "balanced_accuracy", "roc_auc", "f1", "log_loss"]),
    ("accuracy", "diabetes", ["rmse", "mae", "r2"]),
    ("roc_auc", "diabetes", ["rmse", "mae", "r2"]),
])
def test_metric_that_does_not_fit_the_task(metric, dataset, fitting, request):
    task = request.getfixturevalue(dataset)
    with pytest.raises(TaskError) as info:
        cross_validate_config(task, linear(task), defaults(linear(task), task), metric=metric)
    message = str(info.value)
    assert f"metric '{metric}' is for" in message and f"this task is {task.task_type}" in message
    assert message.split("choose one of: ")[1].split(", ") == fitting


def test_unknown_metric_lists_all(iris):
    with pytest.raises(TaskError) as info:
        get_metric("auc_pr", iris)
    assert str(info.value).split("choose one of: ")[1].split(", ") == list(METRICS)


def test_family_that_does_not_fit_the_task_raises(iris):
    with pytest.raises(TaskError, match="model family 'ridge' does not do classification"):
        cross_validate_config(iris, "ridge", {"alpha": 1.0})


# --- failures are recorded, not raised ------------------------------------------------------------

def test_xgboost_negative_depth_fails_cleanly(breast_cancer):
    config = dict(defaults("xgboost", breast_cancer), max_depth=-5)
    result = cross_validate_config(breast_cancer, "xgboost", config, folds=3)
    assert result.status == "failed" and not result.ok
    assert isinstance(result.error, str) and "max_depth" in result.error
    assert result.mean is None and result.std is None and result.fold_scores == []


def test_knn_with_more_neighbours_than_rows_fails_cleanly(iris):
    config = dict(defaults("knn", iris), n_neighbors=1000)
    result = cross_validate_config(iris, "knn", config, folds=3)
    assert result.status == "failed"
    assert "n_neighbors" in result.error and "1000" in result.error
    assert result.mean is None


@pytest.mark.parametrize("family, change, fragment", [
    ("knn", {"weights": "bogus"}, "'weights' parameter"),
    ("knn", {"leaf_shape": 3}, "TypeError: KNeighborsClassifier.__init__() got an unexpected keyword argument "
                               "'leaf_shape'"),  # the estimator itself cannot be built
    ("mlp", {"n_layers": 0, "epochs": 2}, "ValueError: n_layers, hidden_units and epochs must be >= 1"),
    ("svm", {"C": -1.0}, "'C' parameter of SVC"),
])
def test_bad_configs_fail_with_a_message(iris, family, change, fragment):
    config = dict(defaults(family, iris), **change)
    result = cross_validate_config(iris, family, config, folds=3)
    assert result.status == "failed"
    assert fragment in result.error
    assert len(result.error) <= 500 and "\n" not in result.error


def test_time_limit_stops_after_the_first_fold(breast_cancer):
    result = cross_validate_config(breast_cancer, "logistic_regression",
                                   defaults("logistic_regression", breast_cancer), folds=5, time_limit=0.0001)
    assert result.status == "timeout" and not result.ok
    assert "time limit" in result.error and "after 1 fold(s)" in result.error
    assert len(result.fold_scores) == 1 and result.mean is None
    assert result.fit_time > 0


def test_generous_time_limit_is_ok(iris):
    result = cross_validate_config(iris, "knn", defaults("knn", iris), folds=3, time_limit=120)
    assert result.status == "ok" and len(result.fold_scores) == 3


def test_failed_result_to_dict():
    result = EvalResult("failed", error="boom")
    assert result.to_dict() == {"status": "failed", "mean": None, "std": None, "fold_scores": [],
                                "fit_time": 0.0, "wall_time": 0.0, "error": "boom"}
    assert not result.ok


# --- folds ---------------------------------------------------------------------------------------

def small_class_task() -> Task:
    rng = np.random.default_rng(0)
    labels = ["x"] * 20 + ["z"] * 20 + ["w"] * 3
    frame = pd.DataFrame({"a": rng.normal(size=43) + np.repeat([0.0, 3.0, -3.0], [20, 20, 3]),
                          "b": rng.normal(size=43), "y": labels})
    return task_from_frame(frame, "y", name="small")


def test_class_smaller_than_the_fold_count_keeps_the_folds():
    task = small_class_task()
    with pytest.warns(UserWarning, match=r"1 class with fewer rows than the 5 folds: 'w' \(3 rows\); keeping 5 folds"):
        result = cross_validate_config(task, "logistic_regression", defaults("logistic_regression", task), folds=5)
    assert result.status == "ok", result.error
    assert len(result.fold_scores) == 5
    assert 0.0 <= result.mean <= 1.0


def rare_class_task(n_rows: int = 300, n_classes: int = 10) -> Task:
    """``n_classes`` classes, class 4 of a single row: 4 of 5 training folds and 4 of 5 test folds lack it."""
    rng = np.random.default_rng(0)
    others = [c for c in range(n_classes) if c != 4]  # the rare class in the middle: XGBoost wants 0..k-1
    y = np.append(rng.choice(others, size=n_rows - 1), 4)
    frame = pd.DataFrame(rng.normal(size=(n_rows, 3)), columns=["a", "b", "c"])
    frame["a"] += y  # learnable, so the scores mean something
    frame["y"] = [f"class {v}" for v in y]
    return task_from_frame(frame, "y", name="rare")


@pytest.mark.parametrize("family", ["xgboost", "lightgbm", "random_forest", "logistic_regression"])
@pytest.mark.parametrize("metric", ["accuracy", "balanced_accuracy", "f1", "roc_auc", "log_loss"])
def test_a_one_row_class_keeps_every_fold_and_every_metric(family, metric):
    """Before: xgboost failed with 'Invalid classes inferred from unique values of y', and every
    family failed ROC AUC and log loss (fewer probability columns than classes), on 2 folds."""
    task = rare_class_task()
    config = defaults(family, task)
    if "n_estimators" in config:
        config["n_estimators"] = 20
    with pytest.warns(UserWarning, match=r"'class 4' \(1 row\); keeping 5 folds"):
        result = cross_validate_config(task, family, config, metric=metric, folds=5)
    assert result.status == "ok", result.error
    assert len(result.fold_scores) == 5 and all(math.isfinite(s) for s in result.fold_scores)
    if metric == "log_loss":
        assert result.mean > 0
    else:
        assert 1 / 9 < result.mean <= 1.0  # better than chance: the models learned from the other classes


def test_roc_auc_ovr_is_scikit_learns_when_every_class_is_there_and_skips_a_missing_one(iris):
    from sklearn.metrics import roc_auc_score

    from tunegraph.tools.trials.evaluation import roc_auc_ovr

    model = get_family("logistic_regression").build(defaults("logistic_regression", iris), iris).fit(iris.X, iris.y)
    proba = model.predict_proba(iris.X)
    assert roc_auc_ovr(iris.y, proba, labels=[0, 1, 2]) == pytest.approx(
        roc_auc_score(iris.y, proba, multi_class="ovr"), abs=1e-12)
    two = iris.y != 2  # a fold without class 2: scikit-learn gives NaN for the whole fold
    with pytest.warns(Warning):
        assert math.isnan(roc_auc_score(iris.y[two], proba[two], multi_class="ovr", labels=[0, 1, 2]))
    expected = np.mean([roc_auc_score(iris.y[two] == c, proba[two][:, c]) for c in (0, 1)])
    assert roc_auc_ovr(iris.y[two], proba[two], labels=[0, 1, 2]) == pytest.approx(expected)
    assert math.isnan(roc_auc_ovr(np.zeros(5), np.ones((5, 3)) / 3, labels=[0, 1, 2]))  # one class: undefined


def test_roc_auc_skips_single_class_test_folds_and_says_so_when_none_is_left():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=40), "y": [1] * 2 + [0] * 38})
    task = task_from_frame(frame, "y")
    with pytest.warns(UserWarning, match=r"1 \(2 rows\)"):
        result = cross_validate_config(task, "logistic_regression", defaults("logistic_regression", task),
                                       metric="roc_auc", folds=5)
    assert result.status == "ok" and len(result.fold_scores) == 2  # the 3 folds without a positive row are left out
    accuracy = cross_validate_config(task, "logistic_regression", defaults("logistic_regression", task),
                                     metric="accuracy", folds=5)
    assert len(accuracy.fold_scores) == 5  # accuracy is defined on every fold
    tiny = task_from_frame(pd.DataFrame({"a": [0.0, 1.0], "y": [0, 1]}), "y")
    with pytest.warns(UserWarning, match="not stratified"):
        result = cross_validate_config(tiny, "logistic_regression", defaults("logistic_regression", tiny),
                                       metric="roc_auc", folds=2)
    assert result.status == "failed"
    assert result.error.startswith("roc_auc is undefined on every fold: each of the 2 test folds has a single class")


def test_make_folds():
    task = small_class_task()
    cv = make_folds(task, 3, seed=0)
    assert isinstance(cv, StratifiedKFold) and cv.get_n_splits() == 3
    tiny = task_from_frame(pd.DataFrame({"a": [1, 2, 3], "y": [0.5, 1.5, 2.5]}), "y")
    with pytest.warns(UserWarning, match="only 3 rows: using 3 folds instead of 5"):
        cv = make_folds(tiny, 5, seed=0)
    assert isinstance(cv, KFold) and cv.get_n_splits() == 3  # never more folds than rows
    for bad in (1, 0, -2):
        with pytest.raises(TaskError, match=f"at least 2 folds, got {bad}"):
            make_folds(task, bad, seed=0)


def test_regression_fold_scores_are_finite(diabetes):
    result = cross_validate_config(diabetes, "knn", defaults("knn", diabetes), metric="r2", folds=3)
    assert result.status == "ok"
    assert all(math.isfinite(s) and s <= 1.0 for s in result.fold_scores)
