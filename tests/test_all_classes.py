"""The classifier wrapper that answers for every class of the task, whatever its training fold held."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from sklearn.linear_model import LogisticRegression

from tunegraph.tools.ml.all_classes import AllClassesClassifier

X = np.array([[0.0], [0.1], [1.0], [1.1], [2.0], [2.1]])


def test_a_fold_without_a_class_gives_it_probability_zero():
    y = np.array([0, 0, 2, 2, 3, 3])  # class 1 of 0..3 is missing: XGBoost alone refuses these labels
    with pytest.raises(ValueError, match="Invalid classes"):
        xgb.XGBClassifier(n_estimators=5).fit(X, y)
    model = AllClassesClassifier(xgb.XGBClassifier(n_estimators=5), classes=(0, 1, 2, 3)).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (6, 4) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba[:, 1] == 0).all()
    assert set(model.predict(X)) <= {0, 2, 3} and list(model.classes_) == [0, 1, 2, 3]


def test_a_complete_fold_answers_as_the_model_alone():
    y = np.array([0, 0, 1, 1, 2, 2])
    alone = LogisticRegression().fit(X, y)
    wrapped = AllClassesClassifier(LogisticRegression(), classes=(0, 1, 2)).fit(X, y)
    np.testing.assert_array_equal(wrapped.predict_proba(X), alone.predict_proba(X))
    np.testing.assert_array_equal(wrapped.decision_function(X), alone.decision_function(X))
    np.testing.assert_array_equal(wrapped.predict(X), alone.predict(X))


def test_decision_function_only_when_the_fold_had_every_class():
    partial = AllClassesClassifier(LogisticRegression(), classes=(0, 1, 2)).fit(X, [0, 0, 0, 2, 2, 2])
    assert not hasattr(partial, "decision_function")  # its columns would not be the task's classes
    assert hasattr(partial, "predict_proba")


def test_a_single_class_fold_predicts_that_class():
    model = AllClassesClassifier(LogisticRegression(), classes=(0, 1, 2)).fit(X, [1] * 6)
    assert model.predict(X).tolist() == [1] * 6
    np.testing.assert_array_equal(model.predict_proba(X[:2]), [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])


def test_labels_outside_the_classes_are_refused():
    with pytest.raises(ValueError, match=r"labels \[7\] are not among the classes \[0, 1\]"):
        AllClassesClassifier(LogisticRegression(), classes=(0, 1)).fit(X, [0, 1, 7, 0, 1, 0])
