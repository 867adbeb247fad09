"""The meta-learner: XGBoost regressors of normalized score and log fit time from
(task meta-features, model family, hyperparameters), with candidate generation and SHAP evidence.

Example:
    >>> learner = MetaLearner().fit(metadataset.load("data/metadataset.parquet"))   # doctest: +SKIP
    >>> top = learner.candidates(task.meta_features(), "classification", ["xgboost", "knn"])  # doctest: +SKIP
    >>> learner.explain(top[0]).sentences()                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunegraph.errors import InputError
from tunegraph.tools.meta.metadataset import MF_COLUMNS, params_of
from tunegraph.tools.meta.retrieval import (  # one identity of a meta-dataset for the learner and the indexes
    fingerprint,
    write_atomic,
)
from tunegraph.tools.ml.models import FAMILIES, families_for
from tunegraph.tools.ml.search_space import CategoricalParam, IntParam, SearchSpace
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES

FAMILY_COLUMNS = [f"family_{name}" for name in FAMILIES]


def _hp_columns() -> list[str]:
    names = []
    for fam_name, fam in FAMILIES.items():
        for task_type in fam.task_types:
            for param in fam.search_space(task_type).names():
                col = f"hp_{fam_name}_{param}"
                if col not in names:
                    names.append(col)
    return names


HP_COLUMNS = _hp_columns()
FEATURES = [*MF_COLUMNS, *FAMILY_COLUMNS, *HP_COLUMNS]


class MetaLearnerError(InputError):
    """The meta-learner cannot be trained or used as asked."""


@cache
def _space(family: str, task_type: str) -> SearchSpace:
    return FAMILIES[family].search_space(task_type)


def encode_params(family: str, task_type: str, params: dict[str, Any]) -> dict[str, float]:
    """Hyperparameters as numbers: log10 for log-scaled ranges, choice index for categoricals."""
    out: dict[str, float] = {}
    for name, spec in _space(family, task_type).params.items():
        if name not in params:
            continue
        value = params[name]
        if isinstance(spec, CategoricalParam):
            matches = [i for i, c in enumerate(spec.choices) if c == value and type(c) is type(value)]
            out[f"hp_{family}_{name}"] = float(matches[0]) if matches else math.nan
        else:
            number = float(value)
            out[f"hp_{family}_{name}"] = math.log10(number) if spec.log and number > 0 else number
    return out


def feature_frame(meta_features: list[dict[str, float]] | dict[str, float], families: list[str],
                  task_types: list[str], params: list[dict[str, Any]]) -> pd.DataFrame:
    if isinstance(meta_features, dict):
        meta_features = [meta_features] * len(params)
    rows = []
    for mf, fam, tt, p in zip(meta_features, families, task_types, params):
        row = {f"mf_{k}": float(mf[k]) for k in META_FEATURE_NAMES}
        row.update({c: 0.0 for c in FAMILY_COLUMNS})
        row[f"family_{fam}"] = 1.0
        row.update(encode_params(fam, tt, p))
        rows.append(row)
    return pd.DataFrame(rows, columns=FEATURES, dtype=float)


def training_frame(frame: pd.DataFrame) -> pd.DataFrame:
    mfs = frame[MF_COLUMNS].rename(columns=lambda c: c[3:]).to_dict("records")
    return feature_frame(mfs, frame["family"].tolist(), frame["task_type"].tolist(), params_of(frame))


@dataclass
class Candidate:
    family: str
    params: dict[str, Any]
    predicted_score: float  # normalized within task: 1 = as good as the best known configuration
    predicted_fit_time_s: float
    origin: str  # "default", "sampled" or "similar:<task>"
    rank_score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": self.params, "predicted_score": round(self.predicted_score, 4),
                "predicted_fit_time_s": round(self.predicted_fit_time_s, 4), "origin": self.origin}


@dataclass
class Evidence:
    """SHAP contributions of one candidate's predicted score, largest first."""

    base_value: float
    prediction: float
    contributions: list[tuple[str, Any, float]] = field(default_factory=list)  # (feature, value, shap)

    def sentences(self, top: int = 5) -> list[str]:
        out = []
        for name, value, effect in self.contributions[:top]:
            direction = "raises" if effect > 0 else "lowers"
            out.append(f"{readable(name)} = {value} {direction} the predicted score by {abs(effect):.3f}")
        return out


def readable(feature: str) -> str:
    if feature.startswith("hp_"):
        for fam in sorted(FAMILIES, key=len, reverse=True):
            if feature.startswith(f"hp_{fam}_"):
                return feature[len(f"hp_{fam}_"):]
    if feature.startswith("mf_"):
        return "data set " + feature[3:].replace("_", " ")
    if feature.startswith("family_"):
        return "model family " + feature[7:]
    return feature


class MetaLearner:
    """Two XGBoost regressors: normalized score and log10 fit time."""

    def __init__(self, n_estimators: int = 400, max_depth: int = 6, learning_rate: float = 0.05, seed: int = 0):
        self.params = dict(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                           subsample=0.8, colsample_bytree=0.8, random_state=seed, n_jobs=0, tree_method="hist")
        self.score_model = None
        self.time_model = None
        self.fingerprint = ""
        self.tasks: pd.DataFrame | None = None  # per task: meta-features and best configurations

    # --- training and persistence -----------------------------------------------------------
    def fit(self, frame: pd.DataFrame) -> MetaLearner:
        import xgboost as xgb

        if frame.empty or frame["task"].nunique() < 2:
            raise MetaLearnerError("the meta-learner needs experiments from at least two tasks")
        X = training_frame(frame)
        self.score_model = xgb.XGBRegressor(**self.params).fit(X, frame["score_norm"].to_numpy(dtype=float))
        log_time = np.log10(np.clip(frame["fit_time_s"].to_numpy(dtype=float), 1e-4, None))
        self.time_model = xgb.XGBRegressor(**self.params).fit(X, log_time)
        self.fingerprint = fingerprint(frame)
        self.tasks = frame
        return self

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._check_fitted()
        # atomic files, meta.json last: parallel runs fitting the same cache never read half a model
        write_atomic(directory / "score_model.json", lambda p: self.score_model.save_model(p))
        write_atomic(directory / "time_model.json", lambda p: self.time_model.save_model(p))
        meta = json.dumps({"fingerprint": self.fingerprint, "params": self.params, "features": FEATURES})
        write_atomic(directory / "meta.json", lambda p: p.write_text(meta))
        return directory

    @classmethod
    def load(cls, directory: str | Path, frame: pd.DataFrame) -> MetaLearner:
        """Reload a saved learner for ``frame``; MetaLearnerError when it was trained on other data."""
        import xgboost as xgb

        directory = Path(directory)
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise MetaLearnerError(f"no saved meta-learner in {directory}: {exc}") from None
        if meta.get("fingerprint") != fingerprint(frame) or meta.get("features") != FEATURES:
            raise MetaLearnerError("the saved meta-learner was trained on another meta-dataset; retrain it")
        learner = cls()
        learner.params = meta["params"]
        learner.score_model, learner.time_model = xgb.XGBRegressor(), xgb.XGBRegressor()
        try:
            learner.score_model.load_model(directory / "score_model.json")
            learner.time_model.load_model(directory / "time_model.json")
        except (OSError, ValueError, xgb.core.XGBoostError) as exc:  # a damaged cache is refitted, not fatal
            raise MetaLearnerError(f"the saved meta-learner in {directory} cannot be read: {exc}") from None
        learner.fingerprint, learner.tasks = meta["fingerprint"], frame
        return learner

    @classmethod
    def load_or_fit(cls, directory: str | Path, frame: pd.DataFrame) -> MetaLearner:
        """The saved learner when it matches ``frame``, else a new one trained and saved."""
        try:
            return cls.load(directory, frame)
        except MetaLearnerError:
            learner = cls().fit(frame)
            learner.save(directory)
            return learner

    def _check_fitted(self) -> None:
        if self.score_model is None:
            raise MetaLearnerError("the meta-learner is not trained: call fit() first")

    # --- prediction ------------------------------------------------------------------------------
    def predict(self, meta_features: dict[str, float], family: str, task_type: str,
                configs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted normalized scores and fit times (seconds) of ``configs`` of ``family``."""
        return self.predict_mixed(meta_features, task_type, [family] * len(configs), configs)

    def predict_mixed(self, meta_features: dict[str, float], task_type: str, families: list[str],
                      configs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`predict`, for configurations of several families in one batch (one call per model)."""
        self._check_fitted()
        X = feature_frame(meta_features, families, [task_type] * len(configs), configs)
        return self.score_model.predict(X).astype(float), 10 ** self.time_model.predict(X).astype(float)

    def _explainer(self):
        import shap

        # building a TreeExplainer parses every tree (0.3 s for 400): once per fitted model
        if getattr(self, "_tree_explainer", None) is None or self._explained_model is not self.score_model:
            self._tree_explainer, self._explained_model = shap.TreeExplainer(self.score_model), self.score_model
        return self._tree_explainer

    def candidates(self, meta_features: dict[str, float], task_type: str, families: list[str] | None = None,
                   n_per_family: int = 200, similar: list[tuple[str, str, dict]] | None = None,
                   time_weight: float = 0.0, seed: int = 0, top: int = 10) -> list[Candidate]:
        """Rank sampled configurations, the library defaults and the best ones of similar tasks.

        ``similar`` is ``[(task, family, params), ...]`` (e.g. from the FAISS task retriever).
        ``time_weight`` trades score for speed: the rank is predicted score minus
        ``time_weight`` x log10(predicted fit time).
        """
        families = families or families_for(task_type)
        unknown = [f for f in families if f not in FAMILIES or task_type not in FAMILIES[f].task_types]
        if unknown:
            raise MetaLearnerError(f"families {', '.join(unknown)} do not do {task_type}; "
                                   f"choose from {', '.join(families_for(task_type))}")
        rng = np.random.default_rng(seed)
        out: list[Candidate] = []
        for family in families:
            space = _space(family, task_type)
            # the encoded width is not known without the data: the raw feature count stands in
            default = FAMILIES[family].default_config_for(task_type, int(meta_features.get("n_features", 1)))
            configs: list[tuple[dict, str]] = [(default, "default")]
            configs += [(c, f"similar:{t}") for t, f, c in (similar or []) if f == family and space.contains(c)]
            configs += [(sample_config(space, rng), "sampled") for _ in range(n_per_family)]
            scores, times = self.predict(meta_features, family, task_type, [c for c, _ in configs])
            for (config, origin), s, t in zip(configs, scores, times):
                rank = float(s) - time_weight * math.log10(max(float(t), 1e-4))
                out.append(Candidate(family, config, float(s), float(t), origin, rank))
        out.sort(key=lambda c: c.rank_score, reverse=True)
        return out[:top]

    # --- explanations ----------------------------------------------------------------------------
    def explain(self, candidate: Candidate, meta_features: dict[str, float], task_type: str) -> Evidence:
        """SHAP TreeExplainer contributions to the candidate's predicted score."""
        self._check_fitted()
        X = feature_frame(meta_features, [candidate.family], [task_type], [candidate.params])
        explainer = self._explainer()
        values = explainer.shap_values(X)[0]
        shown = {c: v for c, v in zip(FEATURES, X.iloc[0]) if not (isinstance(v, float) and math.isnan(v))}
        raw = {f"hp_{candidate.family}_{k}": v for k, v in candidate.params.items()}
        items = []
        for name, effect in zip(FEATURES, values):
            if name not in shown or abs(effect) < 1e-6 or (name.startswith("family_") and shown[name] == 0):
                continue
            value = raw.get(name, shown[name])
            items.append((name, _short(value), float(effect)))
        items.sort(key=lambda item: abs(item[2]), reverse=True)
        return Evidence(float(np.ravel(explainer.expected_value)[0]), float(values.sum() + np.ravel(explainer.expected_value)[0]), items)

    def global_importance(self, frame: pd.DataFrame, sample: int = 2000, seed: int = 0) -> list[tuple[str, float]]:
        """Mean |SHAP| per feature over (a sample of) the meta-dataset, largest first."""
        import shap

        self._check_fitted()
        X = training_frame(frame.sample(min(sample, len(frame)), random_state=seed))
        values = np.abs(shap.TreeExplainer(self.score_model).shap_values(X)).mean(axis=0)
        return sorted(((readable(f), float(v)) for f, v in zip(FEATURES, values) if v > 0), key=lambda x: -x[1])

    def plot_summary(self, frame: pd.DataFrame, path: str | Path, sample: int = 2000, seed: int = 0) -> Path:
        """Write SHAP's summary plot of the score model as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import shap

        self._check_fitted()
        X = training_frame(frame.sample(min(sample, len(frame)), random_state=seed))
        values = shap.TreeExplainer(self.score_model).shap_values(X)
        shap.summary_plot(values, X.rename(columns=readable), show=False, max_display=20)
        plt.tight_layout()
        plt.savefig(path, dpi=120)
        plt.close("all")
        return Path(path)


def sample_config(space: SearchSpace, rng: np.random.Generator) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, p in space.params.items():
        if isinstance(p, CategoricalParam):
            config[name] = p.choices[int(rng.integers(len(p.choices)))]
        else:
            if p.log:
                value = 10 ** rng.uniform(math.log10(p.low), math.log10(p.high))
            else:
                value = rng.uniform(p.low, p.high)
            config[name] = int(round(value)) if isinstance(p, IntParam) else float(value)
    return config


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value


def leave_one_dataset_out(frame: pd.DataFrame, tasks: list[str] | None = None, **learner_args) -> pd.DataFrame:
    """Evaluate the meta-learner on each task with that task's rows held out of training.

    Per held-out task: Spearman correlation between predicted and true normalized score over
    its evaluated configurations; normalized regret (1 - score_norm, 0 = best known) of the
    top-1 predicted configuration; the same regret for the portfolio baseline (the library
    defaults of the family with the best average normalized score in training) and for a
    configuration picked at random (expected value).
    """
    from scipy.stats import spearmanr

    rows = []
    for task in tasks or sorted(frame["task"].unique()):
        train, test = frame[frame["task"] != task], frame[frame["task"] == task].reset_index(drop=True)
        learner = MetaLearner(**learner_args).fit(train)
        predicted = np.empty(len(test))
        for family, group in test.groupby("family"):
            mf = {k[3:]: float(group.iloc[0][k]) for k in MF_COLUMNS}
            predicted[group.index] = learner.predict(mf, family, group.iloc[0]["task_type"], params_of(group))[0]
        truth = test["score_norm"].to_numpy(dtype=float)
        family_means = train[train["task_type"] == test["task_type"].iloc[0]].groupby("family")["score_norm"].mean()
        best_family = family_means[family_means.index.isin(test["family"])].idxmax()
        defaults = test[(test["family"] == best_family) & (test["source"] == "default")]
        portfolio = defaults if len(defaults) else test[test["family"] == best_family]
        rows.append({"task": task, "n_configs": len(test),
                     "spearman": float(spearmanr(predicted, truth).statistic) if np.ptp(truth) > 0 else np.nan,
                     "regret_top1": float(1.0 - truth[int(np.argmax(predicted))]),
                     "regret_portfolio": float(1.0 - portfolio["score_norm"].mean()),
                     "portfolio_family": best_family,
                     "regret_random": float(1.0 - truth.mean())})
    return pd.DataFrame(rows)
