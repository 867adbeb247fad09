"""A classifier that answers for every class of the task, whichever classes its training fold had.

A class rarer than the number of folds is missing from some training folds. XGBoost then
refuses the labels (it wants 0..k-1: "Invalid classes inferred from unique values of y"),
and the others give ``predict_proba`` fewer columns than the task has classes, which ROC AUC
and log loss reject. Wrapping the model keeps every family usable on such folds.

Example:
    >>> from sklearn.linear_model import LogisticRegression
    >>> model = AllClassesClassifier(LogisticRegression(), classes=(0, 1, 2))
    >>> model.fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 2, 2]).predict_proba([[3.0]]).shape
    (1, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.metaestimators import available_if


def _inner_has(method: str):
    def check(self) -> bool:
        # decision_function has one column per class seen: only usable when the fold saw them all
        if method == "decision_function" and not getattr(self, "complete_", True):
            return False
        return hasattr(self.estimator, method)
    return check


class AllClassesClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on the classes present in ``y``, re-encoded to 0..k'-1, and answer for all ``classes``.

    ``predict`` returns labels of ``classes``; ``predict_proba`` has one column per class of
    ``classes``, 0 for a class the training fold did not have. A fold with a single class needs
    no model: it predicts that class with probability 1 (a model cannot learn from one class,
    and most refuse to try). When the fold has every class, the wrapped model is fitted on the
    same codes and answers exactly as it would alone.
    """

    def __init__(self, estimator: Any, classes: Sequence | None = None):
        self.estimator = estimator
        self.classes = classes

    def fit(self, X, y, **fit_params):
        y = np.asarray(y)
        seen, codes = np.unique(y, return_inverse=True)
        self.classes_ = np.asarray(self.classes) if self.classes is not None else seen
        unknown = np.setdiff1d(seen, self.classes_)
        if unknown.size:
            raise ValueError(f"labels {[v.item() for v in unknown[:5]]} are not among the classes "
                             f"{[v.item() for v in self.classes_[:20]]} given to AllClassesClassifier")
        self.seen_ = seen
        self.columns_ = np.array([int(np.flatnonzero(self.classes_ == c)[0]) for c in seen])  # where each goes
        self.complete_ = len(seen) == len(self.classes_)
        self.estimator_ = None if len(seen) == 1 else clone(self.estimator).fit(X, codes, **fit_params)
        return self

    def predict(self, X):
        if self.estimator_ is None:
            return np.full(_n_rows(X), self.seen_[0])
        codes = np.asarray(self.estimator_.predict(X))
        valid = codes.size == 0 or (np.issubdtype(codes.dtype, np.number) and np.isfinite(codes).all()
                                    and (np.mod(codes, 1) == 0).all() and codes.min() >= 0
                                    and codes.max() < len(self.seen_))
        if not valid:  # NaN or made-up labels: pass them on, so the scorer rejects them with its own message
            return codes
        return self.seen_[codes.astype(np.int64)]

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        proba = np.zeros((_n_rows(X), len(self.classes_)))
        if self.estimator_ is None:
            proba[:, self.columns_[0]] = 1.0
        else:
            proba[:, self.columns_] = self.estimator_.predict_proba(X)
        return proba

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        return self.estimator_.decision_function(X)


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)
