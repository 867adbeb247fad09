"""A model refitted on every row, for new data: the cross-validation's pipeline, the column
preparation of load time, the original class labels and what made it, saved as one file.

Example:
    >>> model = fit_model(load_task(data="churn.csv", target="churn"), "xgboost", config)   # doctest: +SKIP
    >>> model.save("churn.tgm")                                                             # doctest: +SKIP
    >>> predictions_frame(load_model("churn.tgm"), read_table("new_customers.csv"))         # doctest: +SKIP

The file is a zip of ``tunegraph.json`` (the metadata: readable, and checked, before anything is
unpickled) and ``model.joblib``. joblib rather than skops: skops' secure format refuses the types
it does not know unless each is trusted by name, and the pipelines hold this project's classes
(AllClassesClassifier, the torch MLP, whose torch modules skops cannot serialize at all) and
XGBoost/LightGBM boosters; trusting them all would leave pickle's risks without its reach. So,
as with any pickle: load only model files you trust.
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
import traceback
import warnings
import zipfile
from dataclasses import dataclass, field, fields, replace
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from tunegraph.errors import InputError
from tunegraph.tools.ml.columns import ColumnPlan
from tunegraph.tools.ml.models import ESTIMATOR_THREADS, get_family
from tunegraph.tools.ml.search_space import FAMILY_PARAM
from tunegraph.tools.ml.tasks import Task, TaskError, prepare_rows, quote_name

FORMAT = "tunegraph-model"
FORMAT_VERSION = 1
METADATA_FILE, MODEL_FILE = "tunegraph.json", "model.joblib"
LIBRARIES = ("tunegraph", "scikit-learn", "xgboost", "lightgbm", "torch", "numpy", "pandas")
FAMILY_LIBRARIES = {"xgboost": "xgboost", "lightgbm": "lightgbm", "mlp": "torch"}  # beyond scikit-learn


class ModelVersionWarning(UserWarning):
    """The model file was saved under other library versions than those installed."""


class ColumnWarning(UserWarning):
    """New rows have columns the model does not use, or categories it never saw."""


def installed_versions() -> dict[str, str | None]:
    """Python's and each library's version (None: not installed)."""
    from tunegraph import __version__

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = __version__ if name == "tunegraph" else importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class ModelInfo:
    """What a model is and what made it: ``tunegraph.json`` in its file."""

    task_type: str
    target: str
    classes: list
    features: dict[str, str]  # feature column -> its training dtype, in the training table's order
    columns: ColumnPlan  # how raw columns became the features
    family: str
    config: dict[str, Any]  # the family's own parameter names
    metric: str | None = None
    cv_score: float | None = None
    study_name: str | None = None
    seed: int = 0
    n_rows: int = 0
    members: list[dict] = field(default_factory=list)  # an ensemble's: family, config, weight, cv_score
    libraries: list[str] = field(default_factory=lambda: ["tunegraph", "scikit-learn"])  # checked on load
    versions: dict[str, str | None] = field(default_factory=installed_versions)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **data, "columns": self.columns.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        return cls(**{**values, "columns": ColumnPlan.from_dict(data["columns"])})


@dataclass(frozen=True)
class ColumnCheck:
    """What the last rows had beyond what the model needs (all of it ignored)."""

    ignored: tuple[str, ...] = ()  # columns the model does not use, the target excluded
    target: str | None = None  # the target column, when the rows have it
    unseen: dict[str, list] = field(default_factory=dict)  # categorical column -> values training never had

    def message(self) -> str:
        parts = []
        if self.ignored:
            parts.append(f"ignored {len(self.ignored)} column(s) the model does not use: {_names(self.ignored)}")
        if self.target:
            parts.append(f"ignored the target column {quote_name(self.target)}")
        if self.unseen:
            shown = "; ".join(f"{quote_name(c)}: {', '.join(map(quote_name, v[:5]))}{' ...' if len(v) > 5 else ''}"
                              for c, v in self.unseen.items())
            parts.append(f"categories not seen in training (encoded as in cross-validation: "
                         f"as no known category): {shown}")
        return ". ".join(parts)


class Predictor:
    """What a single model and an ensemble share: raw rows in, original labels out, one file format."""

    info: ModelInfo
    last_check: ColumnCheck | None = None  # of the last rows predicted, e.g. for a CLI to print

    @property
    def task_type(self) -> str:
        return self.info.task_type

    @property
    def classes(self) -> list:
        return list(self.info.classes)

    def check_columns(self, frame: pd.DataFrame) -> ColumnCheck:
        """The columns ``frame`` has beyond those needed; InputError naming any that are missing."""
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"new rows must be a pandas DataFrame, got {type(frame).__name__}")
        names = [str(c) for c in frame.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"the new rows have duplicate column names: {_names(duplicates)}")
        needed = self.info.columns.needed
        missing = [c for c in needed if c not in set(names)]
        if missing:
            raise InputError(f"the new rows lack {len(missing)} column(s) the model needs: {_names(missing)}")
        target = self.info.target if self.info.target in names else None
        return ColumnCheck(tuple(c for c in names if c not in set(needed) and c != target), target)

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (raw columns) as the model's input, prepared as the training table was.

        Warns (ColumnWarning) about ignored columns and unseen categories; ``last_check`` keeps them.
        """
        check = self.check_columns(frame)
        if len(frame) == 0:
            raise InputError("there are no rows to predict")
        try:
            X = prepare_rows(frame, self.info.columns, self.info.features)
        except TaskError as exc:
            raise InputError(str(exc)) from None
        unseen = {c: sorted(set(X[c].dropna()) - set(known), key=str)
                  for c, known in self._known_categories().items() if c in X}
        self.last_check = replace(check, unseen={c: v for c, v in unseen.items() if v})
        if self.last_check.message():
            warnings.warn(self.last_check.message(), ColumnWarning, stacklevel=3)
        return X

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Original class labels (classification) or values (regression), one per row of ``frame``."""
        return self._decode(self._predict(self.features(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """One column per class, in the order of ``classes``."""
        if self.task_type != "classification":
            raise InputError("a regression model predicts values, not class probabilities")
        return self._predict_proba(self.features(frame))

    def save(self, path: str | Path) -> Path:
        """Write the model file (a zip: tunegraph.json and model.joblib), replacing ``path`` at once."""
        path = Path(path).expanduser()
        text = json.dumps(self.info.to_dict(), indent=2, default=_plain)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(METADATA_FILE, text)
                buffer = io.BytesIO()
                joblib.dump(self, buffer)
                archive.writestr(MODEL_FILE, buffer.getvalue())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def _decode(self, out: np.ndarray) -> np.ndarray:
        if self.task_type == "classification":
            return np.asarray(self.info.classes)[np.asarray(out, dtype=np.int64)]
        return np.asarray(out, dtype=float)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "last_check": None}

    # what each kind of model answers on prepared features (class codes 0..k-1 for classification)
    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _known_categories(self) -> dict[str, list]:
        raise NotImplementedError


class FittedModel(Predictor):
    """One family's pipeline (the cross-validation's preprocessing and model) fitted on every row."""

    def __init__(self, pipeline, info: ModelInfo):
        self.pipeline = pipeline
        self.info = info

    def __repr__(self) -> str:
        return (f"FittedModel({self.info.family}, {self.task_type}, target {self.info.target!r}, "
                f"{len(self.info.features)} features)")

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        with warnings.catch_warnings():  # features() has said what is unseen, with the column names
            warnings.simplefilter("ignore")
            return self.pipeline.predict(X)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.pipeline.predict_proba(X)

    def _known_categories(self) -> dict[str, list]:
        return known_categories(self.pipeline)


def known_categories(pipeline) -> dict[str, list]:
    """Categorical column -> the categories its one-hot encoder learned (models.preprocessor)."""
    for name, transformer, columns in pipeline.named_steps["prep"].transformers_:
        if name == "cat":
            return {c: list(cats) for c, cats in zip(columns, transformer[-1].categories_)}
    return {}


def own_config(family: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(family, its own parameters)``: a configuration of the search across families
    (``family`` plus ``<family>.<name>``: tools/ml/cash.py) is split, any other kept."""
    if family == "auto" or FAMILY_PARAM in config:
        from tunegraph.tools.ml.cash import split

        return split(config)
    return family, dict(config)


def fit_model(task: Task, family: str, config: dict[str, Any], seed: int = 0, metric: str | None = None, *,
              cv_score: float | None = None, study_name: str | None = None) -> FittedModel:
    """Fit ``family`` with ``config`` on every row of ``task``, as one cross-validation fold was fitted.

    A classifier is built with probabilities on (an SVM's ``predict`` does not change with them),
    so a saved model can always give them.
    """
    family, config = own_config(family, config)
    if metric is not None:
        from tunegraph.tools.trials.evaluation import get_metric

        metric = get_metric(getattr(metric, "name", metric), task).name
    pipeline = get_family(family, task.task_type).build(config, task, seed=seed,
                                                        needs_proba=task.task_type == "classification")
    with warnings.catch_warnings(), threadpool_limits(limits=ESTIMATOR_THREADS):
        warnings.simplefilter("ignore")  # as in cross-validation (evaluation.run_folds)
        pipeline.fit(task.X, task.y)
    plan = task.column_plan
    if plan is None or plan.features != list(task.X.columns):  # a Task made or changed by hand
        plan = ColumnPlan(tuple(task.X.columns))
    libraries = ["tunegraph", "scikit-learn"] + ([FAMILY_LIBRARIES[family]] if family in FAMILY_LIBRARIES else [])
    info = ModelInfo(task_type=task.task_type, target=task.target, classes=list(task.classes),
                     features={c: str(task.X[c].dtype) for c in task.X.columns}, columns=plan, family=family,
                     config=config, metric=metric, cv_score=cv_score, study_name=study_name, seed=seed,
                     n_rows=len(task.y), libraries=libraries)
    return FittedModel(pipeline, info)


def load_model(path: str | Path) -> Predictor:
    """A model saved by :meth:`Predictor.save` (a FittedModel or an EnsembleModel).

    Warns (ModelVersionWarning) for each library the model uses whose installed version is not
    the one it was saved with; InputError for a file that is not a TuneGraph model.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"model file not found: {path}")
    not_model = (f"{path} is not a TuneGraph model file (one written by 'save' of a fitted model: "
                 f"a zip holding {METADATA_FILE} and {MODEL_FILE})")
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read(METADATA_FILE))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise InputError(not_model)
            if int(data.get("format_version", 0)) > FORMAT_VERSION:
                raise InputError(f"{path} was saved by a newer TuneGraph (model format {data['format_version']}, "
                                 f"this one reads {FORMAT_VERSION}); upgrade TuneGraph to load it")
            warn_versions(data, path)
            payload = archive.read(MODEL_FILE)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(not_model) from None
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as exc:
        line = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1][:300]
        saved = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items() if v)
        raise InputError(f"cannot load the model in {path}: {line}; it was saved with {saved}") from None
    if not isinstance(model, Predictor):
        raise InputError(not_model)
    return model


def warn_versions(data: dict[str, Any], path: str | Path) -> list[str]:
    """Warn once per library the model uses whose installed version differs from the saved one."""
    saved, now = data.get("versions") or {}, installed_versions()
    differ = [lib for lib in data.get("libraries", ["tunegraph", "scikit-learn"])
              if saved.get(lib) is not None and saved.get(lib) != now.get(lib)]
    for lib in differ:
        installed = now.get(lib) or "not installed"
        warnings.warn(f"model file {path} was saved with {lib} {saved[lib]}, but {lib} {installed} is installed: "
                      f"it may fail to load or predict differently; refit it, or install {lib}=={saved[lib]}",
                      ModelVersionWarning, stacklevel=3)
    return differ


def predictions_frame(model: Predictor, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows with a ``prediction`` column (original labels) and, for a classifier, a
    ``proba_<class>`` column per class (columns of those names in ``frame`` are replaced)."""
    X = model.features(frame)
    out = frame.copy()
    out["prediction"] = model._decode(model._predict(X))
    if model.task_type == "classification":
        proba = model._predict_proba(X)
        for i, label in enumerate(model.classes):
            out[f"proba_{label}"] = proba[:, i]
    return out


def _names(names, limit: int = 20) -> str:
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(quote_name(n) for n in names[:limit]) + more


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, tuple, np.ndarray)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
