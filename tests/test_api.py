"""The public API: `from tunegraph import ...`, recommend/optimize as functions, TuneGraphSearchCV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import tunegraph
from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tests.test_recommend_portfolio import shipped, use_shipped  # noqa: F401  (fixtures)
from tunegraph import Context, LLMTPESampler, TuneGraphSearchCV, optimize, recommend


def test_the_public_names_import_from_the_package():
    assert set(tunegraph.__all__) >= {"recommend", "optimize", "TuneGraphSearchCV", "LLMTPESampler", "Context"}
    assert Context(llm="none").llm == "none" and LLMTPESampler.__name__ == "LLMTPESampler"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tunegraph.nope  # noqa: B018


def test_optimize_on_a_dataframe_numbers_trials_from_one():
    frame = load_iris(as_frame=True).frame
    seen = []
    result = optimize(data=frame, target="target", model="knn", trials=4, folds=3, on_trial=seen.append)
    assert result["n_trials"] == 4 and result["searched"] == "knn" and result["metric"] == "accuracy"
    assert result["model"].info.family == "knn" and list(result["model"].predict(frame.head(3))) == \
        list(result["model"].predict(frame.drop(columns=["target"]).head(3)))  # the target column is ignored
    assert [t["number"] for t in seen] == [1, 2, 3, 4] == [t["number"] for t in result["trials"]]
    best = max(result["trials"], key=lambda t: t["value"])
    assert result["best_value"] == pytest.approx(best["value"]) and 1 <= result["best_trial"] <= 4
    assert result["best_params"] == result["trials"][result["best_trial"] - 1]["params"]


def test_bad_data_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="exactly one of dataset"):
        optimize(dataset="iris", data=pd.DataFrame({"a": [1]}), target="a")
    with pytest.raises(ValueError, match="needs target"):
        recommend(data=pd.DataFrame({"a": [1, 2]}))


def test_recommend_returns_plain_results(use_shipped):  # noqa: F811 - a fixture
    advice = recommend(dataset="wine", evaluate=True, folds=3)
    assert advice["source"] == "portfolio" and advice["family"] in {"knn", "logistic_regression"}
    assert advice["evaluation"]["status"] == "ok" and advice["judgement"]["passed"]
    assert advice["evidence"]["candidates"][0]["params"] == advice["params"]


def test_search_fits_predicts_in_the_original_labels_and_reports_results():
    X, y = load_wine(return_X_y=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[y]
    search = TuneGraphSearchCV(family="knn", n_trials=4, cv=3, random_state=1).fit(X, labels)
    assert set(search.predict(X[:20])) <= set(labels) and list(search.classes_) == sorted(set(labels))
    proba = search.predict_proba(X[:5])
    assert proba.shape == (5, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert search.classes_[proba.argmax(axis=1)].tolist() == search.predict(X[:5]).tolist()
    results = search.cv_results_
    assert len(results["params"]) == 4 and results["rank_test_score"].min() == 1
    assert results["params"][int(np.argmin(results["rank_test_score"]))] == search.best_params_
    assert search.best_score_ == pytest.approx(np.nanmax(results["mean_test_score"]))
    assert len(search.study_.trials) == 4 and search.study_.trials[0].user_attrs["source"] == "init"
    assert 0.5 < search.score(X, labels) <= 1.0


def test_search_without_a_family_searches_across_families_and_refits_the_winner(use_shipped):  # noqa: F811
    from tunegraph.tools.ml.cash import CASH_FAMILIES
    from tunegraph.tools.ml.models import get_family

    X, y = load_wine(return_X_y=True)
    search = TuneGraphSearchCV(n_trials=4, cv=3, random_state=0).fit(X, y)
    assert search.family_ in CASH_FAMILIES["classification"]
    assert set(search.best_params_) == set(get_family(search.family_).search_space("classification").names())
    results = search.cv_results_
    best = int(np.argmin(results["rank_test_score"]))
    assert results["family"][best] == search.family_ and results["params"][best] == search.best_params_
    assert results["source"][:2] == ["portfolio", "portfolio"]  # the default search: the portfolio first
    assert all(f in CASH_FAMILIES["classification"] for f in results["family"])
    assert 0.5 < search.score(X, y) <= 1.0


def test_search_regression_in_a_pipeline_and_under_cross_val_score():
    X, y = load_diabetes(return_X_y=True)
    search = TuneGraphSearchCV(family="ridge", n_trials=3, cv=3)
    pipe = make_pipeline(StandardScaler(), search)
    scores = cross_val_score(pipe, X[:200], y[:200], cv=2)
    assert scores.shape == (2,) and np.isfinite(scores).all() and (scores < 0).all()  # negated RMSE
    fitted = pipe.fit(X, y)[-1]
    assert fitted.scoring_ == "rmse" and fitted.task_type_ == "regression"


@pytest.mark.parametrize("params, match", [
    ({"n_trials": 0}, "n_trials must be an int >= 1"), ({"cv": 1}, "cv must be an int >= 2"),
    ({"family": "gbm"}, "family must be one of"), ({"scoring": "auc"}, "scoring must be one of"),
    ({"task_type": "ranking"}, "task_type must be"), ({"random_state": "0"}, "random_state must be an int"),
])
def test_parameters_are_validated_in_fit(params, match):
    X, y = load_iris(return_X_y=True)
    search = TuneGraphSearchCV(**params)  # __init__ only stores, as scikit-learn asks
    with pytest.raises(ValueError, match=match):
        search.fit(X, y)


# scikit-learn's estimator checks, on a search small enough to fit dozens of times: all pass (the array-API
# check is skipped by scikit-learn itself without SCIPY_ARRAY_API).
@parametrize_with_checks([TuneGraphSearchCV(family="knn", n_trials=2, cv=2, task_type="classification")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
