"""Model families: default search space, library-default configuration and the estimator pipeline.

Example:
    >>> family = get_family("xgboost")
    >>> space = family.search_space("classification")
    >>> estimator = family.build(family.default_config(task), task, seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tunegraph.tools.ml.all_classes import AllClassesClassifier
from tunegraph.tools.ml.search_space import SearchSpace
from tunegraph.tools.ml.tasks import Task, TaskError

ESTIMATOR_THREADS = 1  # one thread per fit: fast on small data, fair timings, no oversubscription


@dataclass(frozen=True)
class ModelFamily:
    name: str
    task_types: tuple[str, ...]
    needs_scaling: bool
    _space: Callable[[str], dict]
    _defaults: Callable[[str, int], dict]  # (task type, number of encoded features) -> config
    _make: Callable[[dict, Task, int, bool], Any]
    description: str = ""

    def search_space(self, task_type: str) -> SearchSpace:
        return SearchSpace.from_dict(self._space(task_type))

    def default_config(self, task: Task) -> dict[str, Any]:
        """The library's own defaults, expressed inside the search space."""
        width = len(preprocessor(task, self.needs_scaling).fit(task.X.head(200)).get_feature_names_out())
        return self.default_config_for(task.task_type, width)

    def default_config_for(self, task_type: str, n_encoded_features: int) -> dict[str, Any]:
        """The defaults from the task type and the number of features after encoding alone."""
        config, _ = self.search_space(task_type).clip(self._defaults(task_type, max(1, int(n_encoded_features))))
        return config

    def build(self, config: dict[str, Any], task: Task, seed: int = 0, needs_proba: bool = False):
        """A Pipeline: imputation, categorical encoding, scaling where the model needs it, model.

        A classifier is wrapped in :class:`AllClassesClassifier`: a training fold that lacks a
        rare class still fits (XGBoost wants labels 0..k-1), and ``predict_proba`` keeps one
        column per class of the task, so ROC AUC and log loss can score every fold.
        """
        if task.task_type not in self.task_types:
            raise TaskError(f"model family '{self.name}' does not do {task.task_type}")
        model = self._make(dict(config), task, seed, needs_proba)
        if task.task_type == "classification":
            model = AllClassesClassifier(model, classes=tuple(range(task.n_classes)))
        return Pipeline([("prep", preprocessor(task, self.needs_scaling)), ("model", model)])


def preprocessor(task: Task, scale: bool) -> ColumnTransformer:
    # keep_empty_features: a column with values only outside the training fold is filled with 0
    # there, not dropped (dropping every column left a model with 0 features on small, gappy data)
    numeric = [SimpleImputer(strategy="median", keep_empty_features=True)] + ([StandardScaler()] if scale else [])
    categorical = [SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                   OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=20, sparse_output=False)]
    parts = []
    if task.numeric_columns:
        parts.append(("num", make_pipeline(*numeric), task.numeric_columns))
    if task.categorical_columns:
        parts.append(("cat", make_pipeline(*categorical), task.categorical_columns))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


# ---- spaces and defaults ---------------------------------------------------------------------

def _xgb_space(task_type: str) -> dict:
    return {
        "n_estimators": {"type": "int", "low": 50, "high": 1000, "log": True},
        "learning_rate": {"type": "float", "low": 0.005, "high": 0.5, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 12},
        "min_child_weight": {"type": "float", "low": 0.1, "high": 20.0, "log": True},
        "subsample": {"type": "float", "low": 0.5, "high": 1.0},
        "colsample_bytree": {"type": "float", "low": 0.3, "high": 1.0},
        "reg_lambda": {"type": "float", "low": 0.001, "high": 10.0, "log": True},
        "reg_alpha": {"type": "float", "low": 0.001, "high": 10.0, "log": True},
    }


def _xgb_defaults(task_type: str, width: int) -> dict:
    return {"n_estimators": 100, "learning_rate": 0.3, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.001}


def _xgb_make(c: dict, task: Task, seed: int, needs_proba: bool):
    import xgboost as xgb

    common = dict(tree_method="hist", n_jobs=ESTIMATOR_THREADS, random_state=seed, verbosity=0, **c)
    return xgb.XGBClassifier(**common) if task.task_type == "classification" else xgb.XGBRegressor(**common)


def _lgbm_space(task_type: str) -> dict:
    return {
        "n_estimators": {"type": "int", "low": 50, "high": 1000, "log": True},
        "learning_rate": {"type": "float", "low": 0.005, "high": 0.5, "log": True},
        "num_leaves": {"type": "int", "low": 4, "high": 256, "log": True},
        "min_child_samples": {"type": "int", "low": 2, "high": 100, "log": True},
        "subsample": {"type": "float", "low": 0.5, "high": 1.0},
        "colsample_bytree": {"type": "float", "low": 0.3, "high": 1.0},
        "reg_lambda": {"type": "float", "low": 0.001, "high": 10.0, "log": True},
        "reg_alpha": {"type": "float", "low": 0.001, "high": 10.0, "log": True},
    }


def _lgbm_defaults(task_type: str, width: int) -> dict:
    # LightGBM's own regularization defaults are 0; the space's floor 0.001 is as close as a log range gets
    return {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "subsample": 1.0,
            "colsample_bytree": 1.0, "reg_lambda": 0.001, "reg_alpha": 0.001}


def _lgbm_make(c: dict, task: Task, seed: int, needs_proba: bool):
    import lightgbm as lgb

    # subsample only takes effect with bagging every iteration (subsample_freq=1)
    common = dict(n_jobs=ESTIMATOR_THREADS, random_state=seed, verbose=-1, subsample_freq=1, **c)
    return lgb.LGBMClassifier(**common) if task.task_type == "classification" else lgb.LGBMRegressor(**common)


def _forest_space(task_type: str) -> dict:
    return {
        "n_estimators": {"type": "int", "low": 50, "high": 500, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 40},
        "min_samples_split": {"type": "int", "low": 2, "high": 20},
        "min_samples_leaf": {"type": "int", "low": 1, "high": 20},
        "max_features": {"type": "float", "low": 0.05, "high": 1.0},
        "bootstrap": {"type": "categorical", "choices": [True, False]},
    }


def _forest_defaults(bootstrap: bool) -> Callable[[str, int], dict]:
    def defaults(task_type: str, width: int) -> dict:
        max_features = math.sqrt(width) / width if task_type == "classification" else 1.0
        return {"n_estimators": 100, "max_depth": 40, "min_samples_split": 2, "min_samples_leaf": 1,
                "max_features": max_features, "bootstrap": bootstrap}
    return defaults


def _forest_make(extra: bool) -> Callable:
    def make(c: dict, task: Task, seed: int, needs_proba: bool):
        from sklearn import ensemble

        cls = {(False, "classification"): ensemble.RandomForestClassifier,
               (False, "regression"): ensemble.RandomForestRegressor,
               (True, "classification"): ensemble.ExtraTreesClassifier,
               (True, "regression"): ensemble.ExtraTreesRegressor}[(extra, task.task_type)]
        return cls(n_jobs=ESTIMATOR_THREADS, random_state=seed, **c)
    return make


def _hgb_space(task_type: str) -> dict:
    return {
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.5, "log": True},
        "max_iter": {"type": "int", "low": 50, "high": 500, "log": True},
        "max_leaf_nodes": {"type": "int", "low": 7, "high": 255, "log": True},
        "min_samples_leaf": {"type": "int", "low": 2, "high": 100, "log": True},
        "l2_regularization": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
        "max_features": {"type": "float", "low": 0.3, "high": 1.0},
    }


def _hgb_defaults(task_type: str, width: int) -> dict:
    return {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31, "min_samples_leaf": 20,
            "l2_regularization": 1e-6, "max_features": 1.0}


def _hgb_make(c: dict, task: Task, seed: int, needs_proba: bool):
    from sklearn import ensemble

    cls = (ensemble.HistGradientBoostingClassifier if task.task_type == "classification"
           else ensemble.HistGradientBoostingRegressor)
    return cls(random_state=seed, early_stopping=False, **c)


def _linear_space(task_type: str) -> dict:
    if task_type == "classification":
        return {"C": {"type": "float", "low": 1e-4, "high": 1e3, "log": True},
                "class_weight": {"type": "categorical", "choices": [None, "balanced"]}}
    return {"alpha": {"type": "float", "low": 1e-4, "high": 1e3, "log": True}}


def _linear_defaults(task_type: str, width: int) -> dict:
    return {"C": 1.0, "class_weight": None} if task_type == "classification" else {"alpha": 1.0}


def _linear_make(c: dict, task: Task, seed: int, needs_proba: bool):
    from sklearn.linear_model import LogisticRegression, Ridge

    if task.task_type == "classification":
        return LogisticRegression(max_iter=2000, random_state=seed, **c)
    return Ridge(random_state=seed, **c)


def _svm_space(task_type: str) -> dict:
    space = {"C": {"type": "float", "low": 1e-3, "high": 1e3, "log": True},
             "gamma": {"type": "float", "low": 1e-4, "high": 10.0, "log": True}}
    if task_type == "regression":
        space["epsilon"] = {"type": "float", "low": 1e-3, "high": 1.0, "log": True}
    return space


def _svm_defaults(task_type: str, width: int) -> dict:
    config = {"C": 1.0, "gamma": 1.0 / width}  # 'scale' on standardized inputs
    if task_type == "regression":
        config["epsilon"] = 0.1
    return config


def _svm_make(c: dict, task: Task, seed: int, needs_proba: bool):
    from sklearn.svm import SVC, SVR

    if task.task_type == "classification":
        return SVC(probability=needs_proba, random_state=seed, **c)
    return SVR(**c)


def _knn_space(task_type: str) -> dict:
    return {"n_neighbors": {"type": "int", "low": 1, "high": 50, "log": True},
            "weights": {"type": "categorical", "choices": ["uniform", "distance"]},
            "p": {"type": "categorical", "choices": [1, 2]}}


def _knn_defaults(task_type: str, width: int) -> dict:
    return {"n_neighbors": 5, "weights": "uniform", "p": 2}


def _knn_make(c: dict, task: Task, seed: int, needs_proba: bool):
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if task.task_type == "classification" else KNeighborsRegressor
    return cls(n_jobs=ESTIMATOR_THREADS, **c)


def _mlp_space(task_type: str) -> dict:
    return {"hidden_units": {"type": "int", "low": 16, "high": 512, "log": True},
            "n_layers": {"type": "int", "low": 1, "high": 3},
            "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
            "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-1, "log": True},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5},
            "batch_size": {"type": "categorical", "choices": [32, 64, 128, 256]},
            "epochs": {"type": "int", "low": 10, "high": 200, "log": True}}


def _mlp_defaults(task_type: str, width: int) -> dict:
    return {"hidden_units": 64, "n_layers": 2, "learning_rate": 1e-3, "weight_decay": 1e-4, "dropout": 0.1,
            "batch_size": 64, "epochs": 50}


def _mlp_make(c: dict, task: Task, seed: int, needs_proba: bool):
    from tunegraph.tools.ml.torch_mlp import TorchMLPClassifier, TorchMLPRegressor

    cls = TorchMLPClassifier if task.task_type == "classification" else TorchMLPRegressor
    return cls(random_state=seed, **c)


BOTH = ("classification", "regression")
FAMILIES: dict[str, ModelFamily] = {f.name: f for f in [
    ModelFamily("xgboost", BOTH, False, _xgb_space, _xgb_defaults, _xgb_make, "gradient-boosted trees (XGBoost)"),
    ModelFamily("lightgbm", BOTH, False, _lgbm_space, _lgbm_defaults, _lgbm_make,
                "gradient-boosted trees (LightGBM)"),
    ModelFamily("random_forest", BOTH, False, _forest_space, _forest_defaults(True), _forest_make(False),
                "random forest (scikit-learn)"),
    ModelFamily("extra_trees", BOTH, False, _forest_space, _forest_defaults(False), _forest_make(True),
                "extremely randomized trees (scikit-learn)"),
    ModelFamily("hist_gradient_boosting", BOTH, False, _hgb_space, _hgb_defaults, _hgb_make,
                "histogram gradient boosting (scikit-learn)"),
    ModelFamily("logistic_regression", ("classification",), True, _linear_space, _linear_defaults, _linear_make,
                "L2-regularized logistic regression"),
    ModelFamily("ridge", ("regression",), True, _linear_space, _linear_defaults, _linear_make,
                "ridge regression"),
    ModelFamily("svm", BOTH, True, _svm_space, _svm_defaults, _svm_make, "RBF-kernel support vector machine"),
    ModelFamily("knn", BOTH, True, _knn_space, _knn_defaults, _knn_make, "k nearest neighbours"),
    ModelFamily("mlp", BOTH, True, _mlp_space, _mlp_defaults, _mlp_make, "multi-layer perceptron (torch)"),
]}


def get_family(name: str, task_type: str | None = None) -> ModelFamily:
    """Look a family up by name; with a task type, check the family can do it.

    ``auto`` (with a task type) is the search across families (tools/ml/cash.py).
    """
    if name == "auto" and task_type is not None:
        from tunegraph.tools.ml.cash import cash_family

        return cash_family(task_type)
    if name not in FAMILIES:
        raise TaskError(f"unknown model family '{name}'; choose one of: {', '.join(FAMILIES)}")
    family = FAMILIES[name]
    if task_type is not None and task_type not in family.task_types:
        usable = [f for f, fam in FAMILIES.items() if task_type in fam.task_types]
        raise TaskError(f"model family '{name}' does not do {task_type}; for {task_type} choose one of: "
                        f"{', '.join(usable)}")
    return family


def families_for(task_type: str) -> list[str]:
    return [name for name, fam in FAMILIES.items() if task_type in fam.task_types]


def allowed_families(requested: list[str] | None, task_type: str) -> list[str]:
    usable = families_for(task_type)
    if not requested:
        return usable
    bad = [f for f in requested if f not in usable]
    if bad:
        raise TaskError(f"families {', '.join(bad)} cannot do {task_type}; choose from: {', '.join(usable)}")
    return list(requested)
