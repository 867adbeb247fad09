"""``TuneGraphSearchCV``: TuneGraph's search as a scikit-learn estimator (after Optuna's ``OptunaSearchCV``).

``fit(X, y)`` runs the optimize graph on the data (a real Optuna study of cross-validated trials,
in memory), then refits the best configuration on all of it. Without ``family`` it searches across
families, as the CLI and ``optimize`` do by default (the task's portfolio first, then TPE in the box of
past tasks' best configurations), and
``family_`` says which won.

Example:
    >>> from sklearn.datasets import load_wine
    >>> X, y = load_wine(return_X_y=True)
    >>> search = TuneGraphSearchCV(family="knn", n_trials=10, cv=3).fit(X, y)   # doctest: +SKIP
    >>> search.best_params_, search.best_score_, search.predict(X[:3])          # doctest: +SKIP
"""

from __future__ import annotations

import numbers
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import get_scorer
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from tunegraph.errors import InputError

TARGET = "__tunegraph_target__"
WARM_START_TRUE = 3  # warm_start=True: the 3 recommendations that measured best as a warm start


def _check_cells(X) -> None:
    """Cells must be numbers, strings, booleans or missing (as in scikit-learn's own estimators)."""
    if getattr(X, "dtype", None) != np.dtype(object):
        return
    for value in np.ravel(X):
        if not (value is None or isinstance(value, (str, numbers.Number, bool, np.bool_))):
            raise TypeError(f"argument must be a string or a number, got {type(value).__name__}")


def _own(params: dict[str, Any], model: str) -> tuple[str, dict[str, Any]]:
    """``(family, its own parameters)`` of a trial's parameters (joint ones across families)."""
    from tunegraph.tools.ml.cash import AUTO, split

    return split(params) if model == AUTO else (model, dict(params))


class TuneGraphSearchCV(BaseEstimator):
    """Hyperparameter search with TuneGraph's optimize graph, scikit-learn style.

    Args:
        family: model family to tune (``xgboost``, ``lightgbm``, ``random_forest``, ``knn``, ...); None
            searches across families (the default search, the one that measured best).
        n_trials: trials of the study. cv: as for GridSearchCV: a number of folds (>= 2; shuffled and seeded,
            stratified for classification), a scikit-learn splitter (``StratifiedKFold(3)``, ``GroupKFold``
            with ``fit(X, y, groups=...)``) or an iterable of (train, test) index pairs.
        scoring: a TuneGraph metric name (``accuracy``, ``roc_auc``, ``f1``, ``log_loss``, ``rmse``, ``mae``,
            ``r2``, ...); None: ROC AUC for two classes, accuracy for more, RMSE for regression.
        warm_start: the recommendation's top K configurations as the first trials (0 or False: none; True: 3).
        llm: ``none`` (default), ``embedded``, ``ollama:<model>`` or ``auto``. sampler: ``tpe``, ``llm_tpe``, ...
        task_type: ``classification`` or ``regression``; None infers it from ``y``.
        random_state: seed of the sampler, the folds and the models.
    Attributes after fit: best_params_ (the winning family's own parameters), best_score_ (the CV score in
    the metric's own units; lower is better for errors such as rmse), best_estimator_ (a Pipeline refitted
    on all data), cv_results_ (``family`` and each family's own ``params`` per trial), study_, family_,
    scoring_, classes_ (classification), n_features_in_.
    """

    def __init__(self, family: str | None = None, n_trials: int = 20, cv: Any = 5, scoring: str | None = None,
                 warm_start: int = 0, llm: str = "none", sampler: str = "tpe", task_type: str | None = None,
                 random_state: int | None = None):
        self.family = family
        self.n_trials = n_trials
        self.cv = cv
        self.scoring = scoring
        self.warm_start = warm_start
        self.llm = llm
        self.sampler = sampler
        self.task_type = task_type
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        task_type = getattr(self, "task_type_", None) or self.task_type  # known from y once fitted
        tags.estimator_type = {"classification": "classifier", "regression": "regressor"}.get(task_type)
        tags.input_tags.allow_nan = True  # imputed inside the pipeline
        if task_type == "classification":
            from sklearn.utils import ClassifierTags

            tags.classifier_tags = ClassifierTags()
        elif task_type == "regression":
            from sklearn.utils import RegressorTags

            tags.regressor_tags = RegressorTags()
        return tags

    # --- fitting ------------------------------------------------------------------------------
    def _check_params(self) -> None:
        from tunegraph.tools.ml.models import FAMILIES
        from tunegraph.tools.trials.evaluation import METRICS

        def integer(name: str, low: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise InputError(f"{name} must be an int >= {low}, got {value!r}")

        integer("n_trials", 1)
        if isinstance(self.cv, numbers.Integral) or self.cv is None:
            integer("cv", 2)
        elif not hasattr(self.cv, "split") and not hasattr(self.cv, "__iter__"):
            raise InputError(f"cv must be an int >= 2, a splitter or an iterable of (train, test) pairs, got {self.cv!r}")
        if not isinstance(self.warm_start, bool):  # scikit-learn's own checks set warm_start=False
            integer("warm_start", 0)
        if self.family is not None and self.family not in FAMILIES:
            raise InputError(f"family must be one of {', '.join(FAMILIES)} or None, got {self.family!r}")
        if self.scoring is not None and self.scoring not in METRICS:
            raise InputError(f"scoring must be one of {', '.join(METRICS)} or None, got {self.scoring!r}")
        if self.task_type not in (None, "classification", "regression"):
            raise InputError(f"task_type must be 'classification', 'regression' or None, got {self.task_type!r}")
        if self.sampler not in ("tpe", "llm_tpe", "llm", "random"):
            raise InputError(f"sampler must be one of tpe, llm_tpe, llm, random, got {self.sampler!r}")
        if self.random_state is not None and (isinstance(self.random_state, bool)
                                              or not isinstance(self.random_state, numbers.Integral)):
            raise InputError(f"random_state must be an int or None, got {self.random_state!r}")

    def fit(self, X, y, groups=None):
        """Search on (X, y) with cross-validation, then refit the best configuration on all of it.

        ``groups`` goes to a group splitter given as ``cv`` (GroupKFold, ...), as in GridSearchCV."""
        import optuna

        from tunegraph.api import optimize
        from tunegraph.tools.ml.cash import AUTO

        self._check_params()
        X, y = validate_data(self, X, y, dtype=None, ensure_all_finite="allow-nan", y_numeric=False)
        _check_cells(X)
        task_type = self.task_type or self._inferred_task_type(y)
        if task_type == "classification":
            if type_of_target(y) == "continuous":
                raise InputError("Unknown label type: y is continuous, but this search does classification "
                                 "(task_type='classification')")
            self.classes_, codes = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                label = self.classes_[0].item() if hasattr(self.classes_[0], "item") else self.classes_[0]
                raise InputError(f"y has 1 class ({label!r}); classification needs at least two")
            target = codes  # TuneGraph encodes classes itself; codes keep any label type round-trip safe
        else:
            target = np.asarray(y, dtype=float)
        frame = self._frame(X).assign(**{TARGET: target})
        seed = 0 if self.random_state is None else int(self.random_state)
        model = self.family or AUTO
        with tempfile.TemporaryDirectory(prefix="tunegraph-search-") as tmp:
            storage = f"sqlite:///{Path(tmp) / 'study.db'}"
            result = optimize(data=frame, target=TARGET, task_type=task_type, model=model, metric=self.scoring,
                              trials=self.n_trials, llm=self.llm, sampler=self.sampler, storage=storage,
                              study_name=f"search-{uuid.uuid4().hex[:12]}", seed=seed, save_model=False,
                              **self._folds(X, y, groups, task_type),
                              warm_start=WARM_START_TRUE if self.warm_start is True else int(self.warm_start))
            memory = optuna.storages.InMemoryStorage()  # the study outlives the temporary file
            optuna.copy_study(from_study_name=result["study_name"], from_storage=storage, to_storage=memory)
            self.study_ = optuna.load_study(study_name=result["study_name"], storage=memory)
        if result["best_params"] is None:
            reasons = sorted({t.user_attrs.get("error", "") for t in self.study_.trials} - {""})
            what = self.family or "any family"
            raise InputError(f"no trial of {what} succeeded; errors: {'; '.join(reasons)[:500] or 'unknown'}")
        family, params = result["best_family"], result["best_params"]
        self.family_, self.scoring_, self.task_type_ = family, result["metric"], task_type
        self.best_params_, self.best_score_ = params, float(result["best_value"])
        self.best_index_ = int(result["best_trial"]) - 1
        self.cv_results_ = self._cv_results(model)
        self.best_estimator_ = self._refit(frame, family, seed)
        return self

    def _folds(self, X, y, groups, task_type: str) -> dict[str, Any]:
        """The Context's folds: an int as TuneGraph folds it, anything else as the splitter splits."""
        if isinstance(self.cv, numbers.Integral):
            return {"folds": int(self.cv)}
        from sklearn.model_selection import check_cv

        splitter = check_cv(self.cv, y, classifier=task_type == "classification")
        splits = tuple((tuple(int(i) for i in train), tuple(int(i) for i in test))
                       for train, test in splitter.split(X, y, groups))
        if not splits:
            raise InputError(f"cv={self.cv!r} gave no (train, test) splits")
        return {"folds": max(2, len(splits)), "splits": splits}

    @staticmethod
    def _inferred_task_type(y) -> str:
        """As TuneGraph infers it from a file (few distinct integers or labels: classes); scikit-learn's
        classifier tag, when the search sits in a pipeline that says so, is set with ``task_type``."""
        from tunegraph.tools.ml.tasks import infer_task_type

        if type_of_target(y) == "continuous":
            return "regression"
        return infer_task_type(pd.Series(y))

    def _frame(self, X) -> pd.DataFrame:
        names = getattr(self, "feature_names_in_", None)
        columns = [str(c) for c in names] if names is not None else [f"x{i}" for i in range(X.shape[1])]
        return pd.DataFrame(X, columns=columns).infer_objects()

    def _refit(self, frame: pd.DataFrame, family: str, seed: int):
        from tunegraph.tools.ml.models import get_family
        from tunegraph.tools.ml.tasks import task_from_frame
        from tunegraph.tools.trials.evaluation import get_metric

        task = task_from_frame(frame, TARGET, name="search", task_type=self.task_type_)
        self._task_columns = list(task.X.columns)
        self._codes = task.classes  # TuneGraph's order of the class codes it was given
        needs_proba = get_metric(self.scoring_, task).needs_proba or self.task_type_ == "classification"
        return get_family(family, task.task_type).build(self.best_params_, task, seed=seed,
                                                        needs_proba=needs_proba).fit(task.X, task.y)

    def _cv_results(self, model: str) -> dict[str, Any]:
        trials = [t for t in self.study_.trials if t.state.is_finished()]
        own = [_own(t.params, model) if t.params else (None, {}) for t in trials]
        values = np.array([t.value if t.value is not None else np.nan for t in trials], dtype=float)
        sign = 1.0 if self.study_.direction.name == "MAXIMIZE" else -1.0
        ranked = (-sign * np.nan_to_num(values, nan=-sign * np.inf)).argsort(kind="stable")
        rank = np.empty(len(trials), dtype=int)
        rank[ranked] = np.arange(1, len(trials) + 1)
        return {"family": [f for f, _ in own], "params": [p for _, p in own], "mean_test_score": values,
                "std_test_score": np.array([t.user_attrs.get("cv_std", np.nan) or np.nan for t in trials], dtype=float),
                "rank_test_score": rank, "mean_fit_time": np.array([t.user_attrs.get("fit_time_s", np.nan) or np.nan
                                                                    for t in trials], dtype=float),
                "source": [t.user_attrs.get("source") for t in trials], "state": [t.state.name for t in trials]}

    # --- prediction ---------------------------------------------------------------------------
    def _prepared(self, X) -> pd.DataFrame:
        check_is_fitted(self, "best_estimator_")
        X = validate_data(self, X, dtype=None, ensure_all_finite="allow-nan", reset=False)
        return self._frame(X)[self._task_columns]

    def predict(self, X):
        """Predictions of the refitted best configuration, in the labels ``y`` had."""
        X = self._prepared(X)
        out = self.best_estimator_.predict(X)
        if self.task_type_ != "classification":
            return out
        return self.classes_[np.asarray(self._codes, dtype=int)[np.asarray(out, dtype=int)]]

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        if getattr(self, "task_type_", None) == "regression":
            raise AttributeError("predict_proba is for classification; this search did regression")
        X = self._prepared(X)
        proba = self.best_estimator_.predict_proba(X)
        out = np.zeros((proba.shape[0], len(self.classes_)))
        model_classes = self.best_estimator_[-1].classes_  # codes the model saw, in its column order
        out[:, np.asarray(self._codes, dtype=int)[np.asarray(model_classes, dtype=int)]] = proba
        return out

    def score(self, X, y) -> float:
        """The search's metric on (X, y), greater is better (errors such as rmse are negated, as in scikit-learn)."""
        from tunegraph.tools.trials.evaluation import METRICS

        check_is_fitted(self, "best_estimator_")
        metric = METRICS[self.scoring_]
        name = metric.scorer_multiclass if (self.task_type_ == "classification" and len(self.classes_) > 2
                                            and metric.scorer_multiclass) else metric.scorer
        return float(get_scorer(name)(self, X, y))
