"""Greedy ensemble selection over out-of-fold predictions, and the EnsembleModel built from its picks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tests.test_fitted_model import SMALL, odd_rows, user_tasks
from tunegraph.errors import InputError
from tunegraph.tools.ml.ensemble import (
    OOF_MEMORY_CAP,
    EnsembleModel,
    oof_bytes,
    oof_fits,
    oof_predictions,
    oof_score,
    select_ensemble,
)
from tunegraph.tools.ml.fitted import fit_model, load_model, predictions_frame
from tunegraph.tools.trials.evaluation import METRICS, cross_validate_config, make_folds

pytestmark = pytest.mark.filterwarnings("ignore::tunegraph.tools.ml.fitted.ColumnWarning")

CLASSIFIERS = [("logistic_regression", {"C": 0.01}), ("logistic_regression", {"C": 1.0}), ("knn", {"n_neighbors": 3}),
               ("knn", {"n_neighbors": 25}), ("random_forest", {"n_estimators": 20, "max_depth": 3})]
REGRESSORS = [("ridge", {"alpha": 0.1}), ("ridge", {"alpha": 100.0}), ("knn", {"n_neighbors": 5}),
              ("knn", {"n_neighbors": 30}), ("random_forest", {"n_estimators": 20, "max_depth": 4})]


def candidates_oof(task, candidates, folds: int = 3) -> list[np.ndarray]:
    splits = make_folds(task, folds, 0)
    return [oof_predictions(task, family, config, splits, seed=0) for family, config in candidates]


@pytest.fixture(scope="module")
def cancer_oof(breast_cancer):
    return candidates_oof(breast_cancer, CLASSIFIERS)


@pytest.fixture(scope="module")
def iris_oof(iris):
    return candidates_oof(iris, CLASSIFIERS[:4])


@pytest.fixture(scope="module")
def diabetes_oof(diabetes):
    return candidates_oof(diabetes, REGRESSORS)


def test_oof_predictions_are_aligned_with_the_rows(breast_cancer, cancer_oof):
    assert all(p.shape == (len(breast_cancer.y), 2) for p in cancer_oof)
    assert all(np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1) for p in cancer_oof)
    cv = cross_validate_config(breast_cancer, "knn", {"n_neighbors": 3}, metric="accuracy", folds=3, seed=0)
    # the same folds as cross-validation: pooled accuracy is the fold-size-weighted mean of its fold scores
    assert oof_score("accuracy", breast_cancer.y, cancer_oof[2]) == pytest.approx(cv.mean, abs=2e-3)


def prefix_size(selection) -> int:
    for size in range(1, len(selection.picks) + 1):
        counts = Counter(selection.picks[:size])
        if (list(dict.fromkeys(selection.picks[:size])) == selection.members
                and np.allclose(selection.weights, [counts[i] / size for i in selection.members])):
            return size
    raise AssertionError(f"weights {selection.weights} are not pick counts of a prefix of {selection.picks}")


def check_selection(selection, oof, y, metric, max_members):
    sign = 1 if METRICS[metric].direction == "maximize" else -1
    singles = [oof_score(metric, y, p) for p in oof]
    assert selection.best_single == pytest.approx(max(singles, key=lambda s: sign * s))
    assert sign * selection.score >= sign * selection.best_single  # never worse than the best single member
    assert len(selection.picks) == max_members and len(selection.members) <= max_members
    assert len(set(selection.members)) == len(selection.members)
    assert sum(selection.weights) == pytest.approx(1)
    size = prefix_size(selection)  # the weights are pick counts of the best prefix of the greedy path
    assert selection.score == pytest.approx(selection.path_scores[size - 1])  # (or a multiple of it)
    blend = sum(w * oof[i] for i, w in zip(selection.members, selection.weights))
    assert oof_score(metric, y, blend) == pytest.approx(selection.score)  # averaged probabilities, then the metric


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "log_loss"])
def test_binary_classification(metric, breast_cancer, cancer_oof):
    selection = select_ensemble(cancer_oof, breast_cancer.y, metric)
    check_selection(selection, cancer_oof, breast_cancer.y, metric, 25)
    assert len(set(selection.picks)) < len(selection.picks)  # 25 picks of 5 candidates: with replacement


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "log_loss", "f1", "balanced_accuracy"])
def test_multiclass_classification(metric, iris, iris_oof):
    selection = select_ensemble(iris_oof, iris.y, metric, max_members=10)
    check_selection(selection, iris_oof, iris.y, metric, 10)


@pytest.mark.parametrize("metric", ["rmse", "mae", "r2"])
def test_regression(metric, diabetes, diabetes_oof):
    selection = select_ensemble(diabetes_oof, diabetes.y, metric)
    check_selection(selection, diabetes_oof, diabetes.y, metric, 25)


def test_member_cap(breast_cancer, cancer_oof):
    selection = select_ensemble(cancer_oof, breast_cancer.y, "log_loss", max_members=3)
    assert len(selection.picks) == 3 and len(selection.members) <= 3
    assert prefix_size(selection) <= 3
    with pytest.raises(InputError, match="at least 1 member"):
        select_ensemble(cancer_oof, breast_cancer.y, "log_loss", max_members=0)


def test_picks_with_replacement_give_count_weights():
    y = np.zeros(50)
    over, under = y + 1.0, y - 3.0  # 3 x over + 1 x under averages to y exactly
    selection = select_ensemble([over, under], y, "rmse", max_members=6)
    assert selection.picks[:4] == [0, 0, 1, 0]
    assert (selection.members, selection.weights, selection.score) == ([0, 1], [0.75, 0.25], 0.0)
    assert selection.best_single == 1.0 and selection.best_index == 0


def test_candidates_with_gaps_are_never_picked(breast_cancer, cancer_oof):
    broken = cancer_oof[0].copy()
    broken[5] = np.nan
    selection = select_ensemble([broken, *cancer_oof[1:]], breast_cancer.y, "roc_auc")
    assert 0 not in selection.picks


def test_every_metric_has_an_oof_score(breast_cancer, diabetes, cancer_oof, diabetes_oof):
    for name, spec in METRICS.items():
        task, oof = (breast_cancer, cancer_oof) if spec.task_type == "classification" else (diabetes, diabetes_oof)
        assert np.isfinite(oof_score(name, task.y, oof[-1]))


def test_memory_bound():
    assert oof_bytes(1000, 3, 100) == 8 * 1000 * 3 * 100
    assert oof_bytes(1000, 0, 100) == 8 * 1000 * 100  # regression: one value per row
    assert oof_fits(10_000, 10, 100) and not oof_fits(1_000_000, 10, 100)
    assert oof_fits(100, 2, 10, cap=100 * 2 * 10 * 8) and not oof_fits(100, 2, 10, cap=100 * 2 * 10 * 8 - 1)
    assert OOF_MEMORY_CAP == 256 * 2**20


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return user_tasks(tmp_path_factory.mktemp("data"))


@pytest.mark.parametrize("task_type,metric", [("classification", "roc_auc"), ("regression", "rmse")])
def test_ensemble_model_round_trip(task_type, metric, tasks, tmp_path):
    task, raw = tasks[task_type]
    families = ["knn", "random_forest", "logistic_regression" if task_type == "classification" else "ridge"]
    candidates = [(f, SMALL[f]) for f in families]
    selection = select_ensemble(candidates_oof(task, candidates), task.y, metric, max_members=8)
    if len(selection.members) == 1:  # still an ensemble's round trip: weigh two members
        selection = type(selection)([0, 1], [0.5, 0.5], *[getattr(selection, f) for f in
                                                           ("score", "best_single", "best_index", "picks", "path_scores")])
    members = [fit_model(task, *candidates[i], metric=metric) for i in selection.members]
    ensemble = EnsembleModel(members, selection.weights, metric=metric, score=selection.score)
    rows = odd_rows(raw)
    if task_type == "classification":
        proba = ensemble.predict_proba(rows)
        expected = sum(w * m.predict_proba(rows) for m, w in zip(members, selection.weights))
        np.testing.assert_allclose(proba, expected)
        np.testing.assert_array_equal(ensemble.predict(rows), np.asarray(task.classes)[expected.argmax(axis=1)])
    else:
        expected = sum(w * m.predict(rows) for m, w in zip(members, selection.weights))
        np.testing.assert_allclose(ensemble.predict(rows), expected)
    assert ensemble.last_check.unseen == {"plan": ["enterprise"]}
    loaded = load_model(ensemble.save(tmp_path / "ensemble.tgm"))
    assert isinstance(loaded, EnsembleModel) and loaded.info.family == "ensemble"
    assert [m["family"] for m in loaded.info.members] == [families[i] for i in selection.members]
    assert loaded.info.cv_score == selection.score and loaded.info.metric == metric
    np.testing.assert_array_equal(loaded.predict(rows), ensemble.predict(rows))
    out = predictions_frame(loaded, rows)
    assert list(out.columns[: rows.shape[1]]) == list(rows.columns)
    assert [c for c in out.columns if c.startswith("proba_")] == (["proba_no", "proba_yes"]
                                                                  if task_type == "classification" else [])
    with pytest.raises(InputError, match="lack 1 column"):
        loaded.predict(rows.drop(columns=["income"]))


def test_members_must_share_a_task(tasks):
    (clf, _), (reg, _) = tasks["classification"], tasks["regression"]
    with pytest.raises(InputError, match="same task"):
        EnsembleModel([fit_model(clf, "knn", {}), fit_model(reg, "knn", {})])
