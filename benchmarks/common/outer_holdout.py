"""The outer-holdout measurement of issue 22 (benchmarks/holdout.py): a data set's rows split 80/20 by
seed, TuneGraph's default search on the 80% with its post-hoc ensemble planned and saved, and the
models scored on the 20% the run never saw; the peers (FLAML, AutoGluon) on the same split.

* ``outer_split``: the rows (an indexed data set's raw table, subsampled as ``load_indexed_task``
  does above ``max_rows``) and the held-out 20%, stratified by class for classification, by seed.
  Every class keeps at least one training row, so the 20% never holds a label the run never saw.
* ``run_default_search``: the optimize graph as ``graph_runs.run_graph`` runs the suite's default
  method (``tunegraph_box``: across families, the portfolio first, the box space, no LLM;
  ``exclude_tasks=[name]`` and the nested portfolio weighting), reading the 80% from a Parquet file
  of its raw rows (the graph's own loader prepares the columns), with ``save_model`` on, the run's
  ``ensemble`` setting and the node times: setup, search (the trials), the modeler node (refits).
* ``holdout_scores``: the saved model (ensemble='on': the ensemble where one was planned), the best
  single trial refit on the 80% (``fit_model``, timed with its save: what an ``ensemble='off'``
  run's modeler does), auto's model (the ensemble if the plan's ``auto`` rule says so, else the
  single) and a constant baseline (class shares / the mean), each scored on the 20% with the
  run's metric (``tools.ml.ensemble.oof_score``: probabilities for classification).
* ``run_flaml`` / ``run_autogluon``: the peers on the same 80% (the prepared columns TuneGraph's
  loader gives, text columns as pandas categories), scored on the same 20%; AutoGluon only where
  ``autogluon.tabular`` is installed (``autogluon_available``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common.graph_runs import graph_context, held_out_trials
from benchmarks.common.optuna_loops import dispose

METHOD = "tunegraph_box"  # the product's default search (benchmarks/common/methods.py: HEADLINE)
HOLDOUT_SHARE = 0.2
SUBSAMPLE_SEED = 0  # as load_indexed_task: the same rows for every seed; the split varies by seed
FLAML_METRICS = {"roc_auc": "roc_auc", "accuracy": "accuracy", "log_loss": "log_loss", "rmse": "rmse",
                 "mae": "mae", "r2": "r2"}
AUTOGLUON_METRICS = {"roc_auc": "roc_auc", "accuracy": "accuracy", "log_loss": "log_loss",
                     "balanced_accuracy": "balanced_accuracy", "rmse": "root_mean_squared_error",
                     "mae": "mean_absolute_error", "r2": "r2"}


# ---- the split ---------------------------------------------------------------------------------

@dataclass
class Split:
    """A data set's rows (raw columns, target included) and its outer split."""

    name: str
    frame: Any  # pandas DataFrame: the raw rows, subsampled, index 0..n-1
    target: str
    task_type: str
    train: np.ndarray  # row positions of the 80%
    test: np.ndarray  # row positions of the 20%
    labels: np.ndarray | None  # classification: each row's class code over the whole table

    @property
    def digest(self) -> str:
        """A short hash of the held-out rows: every method of a (data set, seed) reads the same split."""
        return hashlib.sha256(np.asarray(self.test, dtype=np.int64).tobytes()).hexdigest()[:12]

    def train_frame(self):
        return self.frame.iloc[self.train].reset_index(drop=True)

    def test_features(self):
        """The 20%'s raw columns without the target (as a user's new rows)."""
        return self.frame.iloc[self.test].drop(columns=[self.target]).reset_index(drop=True)

    def test_labels(self):
        return self.frame[self.target].iloc[self.test].reset_index(drop=True)


def class_codes(values) -> np.ndarray:
    """Class codes as ``task_from_frame`` makes them (numbers sorted as numbers, other labels as text)."""
    import pandas as pd

    labels = values.astype(str) if not pd.api.types.is_numeric_dtype(values) else values
    _, codes = np.unique(labels.to_numpy(), return_inverse=True)
    return codes.astype(np.int64)


def split_rows(labels: np.ndarray | None, n_rows: int, seed: int,
               share: float = HOLDOUT_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row positions: ``share`` of each class held out (rounded; at least one row of
    each class stays in training), or of all rows for regression; by ``seed``."""
    rng = np.random.default_rng([seed, 22])  # its own stream, not the one the run's seed drives
    if labels is None:
        test = rng.permutation(n_rows)[:int(round(share * n_rows))]
    else:
        parts = []
        for c in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(labels == c))
            parts.append(rows[:min(len(rows) - 1, int(round(share * len(rows))))])
        test = np.concatenate(parts)
    test = np.sort(test)
    train = np.setdiff1d(np.arange(n_rows), test)
    return train, test


def outer_split(datasets: str | Path, name: str, entry: dict[str, Any], seed: int, max_rows: int = 5000) -> Split:
    """Data set ``name``'s raw rows (those with a target value; subsampled, stratified, to ``max_rows``
    with seed 0 as ``load_indexed_task`` does) and its held-out 20% for ``seed``."""
    from tunegraph.tools.ml.tasks import read_table

    target = str(entry["target"]).strip()
    frame = read_table(Path(datasets) / entry["file"])
    frame = frame.loc[frame[target].notna()].reset_index(drop=True)
    task_type = entry.get("task") or "classification"
    labels = class_codes(frame[target]) if task_type == "classification" else None
    if max_rows and len(frame) > max_rows:
        rng = np.random.default_rng(SUBSAMPLE_SEED)
        if labels is not None:
            keep = np.concatenate([rng.choice(idx, max(1, round(len(idx) * max_rows / len(frame))), replace=False)
                                   for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))])
        else:
            keep = rng.choice(len(frame), max_rows, replace=False)
        keep.sort()
        frame = frame.iloc[keep].reset_index(drop=True)
        labels = labels[keep] if labels is not None else None
    train, test = split_rows(labels, len(frame), seed)
    return Split(name, frame, target, task_type, train, test, labels)


def write_train(split: Split, folder: Path) -> Path:
    """The 80%'s raw rows as Parquet, named after the data set (the run's task name)."""
    path = folder / f"{split.name}.parquet"
    split.train_frame().to_parquet(path)
    return path


def train_task(path: Path, split: Split):
    """The 80% as the optimize graph loads it (its loader: the column plan, codes, classes)."""
    from tunegraph.tools.ml.tasks import load_task

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_task(data=str(path), target=split.target, task_type=split.task_type)


def test_target(split: Split, task) -> np.ndarray:
    """The 20%'s target in the units the run scores: class codes of ``task`` (the 80%'s classes), or values."""
    y = split.test_labels()
    if task.task_type != "classification":
        return y.to_numpy(dtype=float)
    import pandas as pd

    labels = y.astype(str) if not pd.api.types.is_numeric_dtype(y) else y
    position = {str(c): i for i, c in enumerate(task.classes)}
    codes = [position.get(str(v)) for v in labels]
    if any(c is None for c in codes):
        raise RuntimeError(f"{split.name}: the held-out rows hold a class the training rows lack")
    return np.asarray(codes, dtype=np.int64)


def test_features_prepared(split: Split, task):
    """The 20% prepared as the run's loader prepared the 80% (the column plan found on the 80%)."""
    from tunegraph.tools.ml.tasks import prepare_rows

    dtypes = {c: str(task.X[c].dtype) for c in task.X.columns}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare_rows(split.test_features(), task.column_plan, dtypes)


# ---- scores ------------------------------------------------------------------------------------

def score_predictions(metric: str, task_type: str, y: np.ndarray, predictions: np.ndarray) -> float:
    """``metric`` on the 20% (RMSE positive): probabilities (rows, classes) for classification."""
    from tunegraph.tools.ml.ensemble import oof_score

    return float(oof_score(metric, y, np.asarray(predictions, dtype=float)))


def model_predictions(model, frame, task_type: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ignored target column, unseen categories: said in ColumnWarning
        return model.predict_proba(frame) if task_type == "classification" else model.predict(frame)


def constant_predictions(task, n: int) -> np.ndarray:
    """The baseline: the 80%'s class shares (ROC AUC 0.5, accuracy of the majority class) or mean."""
    if task.task_type == "classification":
        shares = np.bincount(task.y, minlength=task.n_classes) / len(task.y)
        return np.tile(shares, (n, 1))
    return np.full(n, float(np.mean(task.y)))


# ---- TuneGraph ---------------------------------------------------------------------------------

@contextlib.contextmanager
def timed_plan(spent: list[float]):
    """BENCHMARK DEVICE, not product behaviour: within this process only, the modeler's
    ``plan_ensemble`` (the selection over the kept predictions and the auto rule's held-out check)
    is timed, so the modeler node's time splits into the plan and the refits with the save."""
    import tunegraph.agents.modeler as modeler_module

    original = modeler_module.plan_ensemble

    def plan_ensemble(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    modeler_module.plan_ensemble = plan_ensemble
    try:
        yield
    finally:
        modeler_module.plan_ensemble = original


def run_default_search(split: Split, train_path: Path, seed: int, setting: dict[str, Any], workdir: Path,
                       budget: int, matrix: dict[str, Any] | None, ensemble: str) -> dict[str, Any]:
    """The default search on the 80% (``train_path``) in ``workdir`` (its ``.tunegraph/``: the kept
    out-of-fold predictions and the model), with the model saved and ``ensemble`` ('on' | 'off');
    returns the run's record with its node times, and ``run`` (the study and the task, for the scores)."""
    from optuna.trial import TrialState

    from tunegraph.graphs.optimize import builder
    from tunegraph.tools.ml.cash import AUTO
    from tunegraph.tools.trials.runs import open_checkpoints, open_run

    name = split.name
    study_name = f"holdout-{uuid.uuid4().hex[:12]}"
    storage = f"sqlite:///{workdir / 'studies.db'}"
    neighbors = int(((matrix or {}).get("neighbors") or {}).get(name, -1))
    model_path = workdir / "models" / f"{study_name}.tgm"
    context = dataclasses.replace(graph_context(METHOD, seed, setting, storage, budget, neighbors),
                                  save_model=True, ensemble=ensemble, model_path=str(model_path))
    inputs = {"data_path": str(train_path), "target": split.target, "task_type": split.task_type, "model": AUTO,
              "study_name": study_name, "exclude_tasks": [name]}
    config = {"configurable": {"thread_id": study_name}, "recursion_limit": 100_000}
    marks: dict[str, float] = {}
    start = time.perf_counter()
    plan_s: list[float] = []
    with contextlib.chdir(workdir), timed_plan(plan_s), open_checkpoints(workdir / "checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)
        for update in graph.stream(inputs, config, context=context, stream_mode="updates"):
            now = time.perf_counter() - start
            for node in update:
                marks.setdefault(node, now)  # the first time each node ended
                if node in ("evaluate", "summarize"):
                    marks["last_trial"] = now
        wall = time.perf_counter() - start
        final = graph.get_state(config).values
        oof_files = len(list((Path(".tunegraph") / "oof" / study_name).glob("*.npy")))
    run = open_run(inputs, storage=storage)
    trials = held_out_trials(run, name)
    search_end = marks.get("remember", marks.get("last_trial", wall))
    modeler_s = wall - search_end if "save_model" not in marks else marks["save_model"] - search_end
    return {"run": run, "final": final, "model_path": final.get("model_path"), "study_name": study_name,
            "record": {
                "values": [float(t.value) if t.state == TrialState.COMPLETE else None for t in trials],
                "sources": [t.user_attrs.get("source", "?") for t in trials],
                "families": [t.params.get("family", AUTO) for t in trials],
                "cv_wall_s": [float(t.user_attrs.get("cv_wall_s", 0.0)) for t in trials],
                "objective_s": float(sum(t.user_attrs.get("cv_wall_s", 0.0) for t in trials)),
                "setup_s": marks.get("initialize", 0.0), "search_s": search_end, "modeler_s": modeler_s,
                "plan_s": sum(plan_s),
                "wall_s": wall, "oof_files": oof_files, "stop_reason": final.get("stop_reason"),
                "model_note": final.get("model_note"),
                "context": {"method": METHOD, "model": AUTO, "sampler": context.sampler, "llm": context.llm,
                            "portfolio": context.portfolio, "portfolio_neighbors": context.portfolio_neighbors,
                            "space_box": context.space_box, "trials": context.trials, "folds": context.folds,
                            "ensemble": context.ensemble, "save_model": context.save_model,
                            "exclude_tasks": inputs["exclude_tasks"]}}}


def close_run(run) -> None:
    from tunegraph.tools.trials.runs import forget_runs

    dispose(run.study)
    forget_runs()


def holdout_scores(split: Split, search: dict[str, Any], seed: int, workdir: Path) -> dict[str, Any]:
    """The models of a run with ``ensemble='on'`` scored on the 20%: the saved model ('ensemble'), the
    best single trial refit on the 80% ('single', its fit and save timed), auto's pick and the baseline."""
    from tunegraph.tools.ml.fitted import fit_model, load_model
    from tunegraph.tools.trials.results import own_params

    run = search["run"]
    task, metric = run.task, run.metric.name
    best = run.study.best_trial
    family, params = own_params(best.params, run.family.name)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = fit_model(task, family, params, seed=seed, metric=metric, cv_score=float(best.value),
                           study_name=search["study_name"])
        single.save(workdir / "single.tgm")  # what an ensemble='off' run's modeler does: refit and save
    single_refit_s = time.perf_counter() - t0
    X_test, y_test = split.test_features(), test_target(split, task)
    plan = search["final"].get("ensemble") or {}
    scores: dict[str, float | None] = {"single": score_predictions(metric, task.task_type, y_test,
                                          model_predictions(single, X_test, task.task_type)),
              "dummy": score_predictions(metric, task.task_type, y_test, constant_predictions(task, len(y_test)))}
    saved_path = search["model_path"]
    if saved_path:
        saved = load_model(saved_path)
        scores["ensemble"] = score_predictions(metric, task.task_type, y_test,
                                               model_predictions(saved, X_test, task.task_type))
    else:  # the modeler's refit failed: the result says why (model_note)
        scores["ensemble"] = None
    scores["auto"] = scores["ensemble"] if plan.get("auto") else scores["single"]
    members = plan.get("members") or []
    return {"scores": scores, "single_refit_s": single_refit_s,
            "best": {"trial": best.number + 1, "family": family, "cv": float(best.value)},
            "plan": {"status": plan.get("status"), "note": plan.get("note"), "auto": plan.get("auto"),
                     "cv_ensemble": plan.get("score"), "cv_single": plan.get("best_single"),
                     "n_candidates": plan.get("n_candidates"), "held_out": plan.get("held_out"),
                     "members": [{"trial": m["trial"], "family": m["family"], "weight": m["weight"]}
                                 for m in members]},
            "n_train": int(len(task.y)), "n_test": int(len(y_test)), "n_classes": int(task.n_classes)}


# ---- the peers ---------------------------------------------------------------------------------

def peer_frames(split: Split, task):
    """(80% features, 20% features) as the peers get them: the columns TuneGraph's loader prepared,
    text columns as pandas categories (the 80%'s categories; another value in the 20% is missing)."""
    import pandas as pd

    X_train, X_test = task.X.copy(), test_features_prepared(split, task)
    for col in task.X.columns:
        if not pd.api.types.is_numeric_dtype(task.X[col]) or pd.api.types.is_bool_dtype(task.X[col]):
            X_train[col] = X_train[col].astype("category")
            cats = X_train[col].cat.categories
            X_test[col] = pd.Categorical(X_test[col], categories=cats)
    return X_train.reset_index(drop=True), X_test.reset_index(drop=True)


def run_flaml(split: Split, task, metric: str, seed: int, time_budget: float, workdir: Path) -> dict[str, Any]:
    """``flaml.AutoML().fit`` on the 80% with ``time_budget`` seconds (TuneGraph's wall time for the run),
    one thread (TuneGraph fits on one), scored on the 20%."""
    from flaml import AutoML

    if metric not in FLAML_METRICS:
        raise RuntimeError(f"no FLAML metric for '{metric}'")
    X_train, X_test = peer_frames(split, task)
    y_test = test_target(split, task)
    automl = AutoML()
    t0 = time.perf_counter()
    with warnings.catch_warnings(), contextlib.chdir(workdir):
        warnings.simplefilter("ignore")
        automl.fit(X_train, task.y, task=task.task_type, metric=FLAML_METRICS[metric], time_budget=time_budget,
                   seed=seed, n_jobs=1, verbose=0, log_file_name="")
        fit_s = time.perf_counter() - t0
        if automl.model is None:
            raise RuntimeError(f"FLAML trained no model in {time_budget:.1f} s")
        predictions = automl.predict_proba(X_test) if task.task_type == "classification" else automl.predict(X_test)
    if task.task_type == "classification":  # columns: the classes seen in training, sorted (all of them here)
        predictions = np.asarray(predictions, dtype=float)
        if predictions.shape[1] != task.n_classes:
            raise RuntimeError(f"FLAML gave {predictions.shape[1]} probability columns for {task.n_classes} classes")
    return {"score": score_predictions(metric, task.task_type, y_test, predictions), "fit_s": fit_s,
            "time_budget_s": time_budget, "best_estimator": str(automl.best_estimator),
            "best_config": {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
                            for k, v in (automl.best_config or {}).items()}}


def autogluon_available() -> bool:
    """Whether ``autogluon.tabular`` is installed (it is not a dependency: see the report)."""
    try:
        return importlib.util.find_spec("autogluon.tabular") is not None
    except (ImportError, ValueError):
        return False


def run_autogluon(split: Split, task, metric: str, seed: int, time_limit: float, workdir: Path) -> dict[str, Any]:
    """``autogluon.tabular.TabularPredictor`` (default preset) with ``time_limit`` seconds on the 80%,
    scored on the 20%; it may stop early (its wall time is recorded)."""
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    if metric not in AUTOGLUON_METRICS:
        raise RuntimeError(f"no AutoGluon metric for '{metric}'")
    X_train, X_test = peer_frames(split, task)
    y_test = test_target(split, task)
    label = "__tunegraph_target__"
    problem = ("regression" if task.task_type == "regression" else "binary" if task.n_classes == 2 else "multiclass")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = TabularPredictor(label=label, problem_type=problem, eval_metric=AUTOGLUON_METRICS[metric],
                                     path=str(workdir / "autogluon"), verbosity=0)
        predictor.fit(X_train.assign(**{label: task.y}), time_limit=time_limit, random_seed=seed)
        fit_s = time.perf_counter() - t0
        if task.task_type == "classification":
            proba = predictor.predict_proba(X_test)
            predictions = pd.DataFrame(proba).reindex(columns=list(range(task.n_classes)), fill_value=0.0).to_numpy()
        else:
            predictions = np.asarray(predictor.predict(X_test), dtype=float)
    return {"score": score_predictions(metric, task.task_type, y_test, predictions), "fit_s": fit_s,
            "time_budget_s": time_limit, "best_estimator": str(predictor.model_best)}
