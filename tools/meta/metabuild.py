"""Building the meta-dataset from real cross-validated experiments over a folder of data sets.

For every data set listed in the folder's ``index.json`` and every model family that fits its
task, an Optuna study evaluates the library defaults, then random configurations (the first
half of the budget), then TPE-guided ones, so both the space and its good regions are covered.
The studies live in an Optuna journal file next to the output, which makes the build resumable
(finished experiments are never redone) and safe for several worker processes.

Example:
    >>> build_metadataset("../shared/datasets", "data/metadataset.parquet", jobs=2)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tunegraph.tools.meta import metadataset
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.ml.tasks import Task, TaskError, read_table, task_from_frame
from tunegraph.tools.trials.evaluation import cross_validate_config, default_metric, get_metric
from tunegraph.tools.trials.storage import bind

DEFAULT_FAMILIES = ("xgboost", "lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting", "linear", "knn")


@dataclass(frozen=True)
class Unit:
    """One (data set, model family) study of the build."""

    dataset: str
    family: str


def read_index(datasets_dir: str | Path, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The folder's index.json, checked: every entry names an existing file and its target.
    ``only`` keeps the named data sets (each must be in the index)."""
    folder = Path(datasets_dir)
    index_path = folder / "index.json"
    if not index_path.is_file():
        raise TaskError(f"{folder} has no index.json (expected entries like "
                        '{"name": {"file": "name.csv", "target": "y", "task": "classification"}})')
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as exc:
        raise TaskError(f"{index_path} is not valid JSON: {exc}") from None
    if not isinstance(index, dict) or not index:
        raise TaskError(f"{index_path} lists no data sets")
    for name, entry in index.items():
        if not isinstance(entry, dict) or not entry.get("file") or not entry.get("target"):
            raise TaskError(f"{index_path}: entry '{name}' needs 'file' and 'target'")
        if not (folder / entry["file"]).is_file():
            raise TaskError(f"{index_path}: entry '{name}' names a missing file {entry['file']}")
    if only:
        unknown = [n for n in only if n not in index]
        if unknown:
            raise TaskError(f"not in index.json: {', '.join(unknown)}")
        index = {n: index[n] for n in only}
    return index


def load_indexed_task(datasets_dir: str | Path, name: str, entry: dict[str, Any], max_rows: int = 0,
                      seed: int = 0) -> Task:
    """Load one indexed data set; larger ones are subsampled (stratified) to ``max_rows``."""
    frame = read_table(Path(datasets_dir) / entry["file"])
    task = task_from_frame(frame, entry["target"], name=name, task_type=entry.get("task"),
                           source=str(Path(datasets_dir) / entry["file"]))
    if max_rows and len(task.y) > max_rows:
        rng = np.random.default_rng(seed)
        if task.task_type == "classification":  # keep every class, in proportion
            keep = np.concatenate([rng.choice(idx, max(1, round(len(idx) * max_rows / len(task.y))), replace=False)
                                   for idx in (np.flatnonzero(task.y == c) for c in np.unique(task.y))])
        else:
            keep = rng.choice(len(task.y), max_rows, replace=False)
        keep.sort()
        task = Task(task.name, task.X.iloc[keep].reset_index(drop=True), task.y[keep], task.task_type,
                    task.target, task.classes, task.source)
    return task


def resolve_family(family: str, task_type: str) -> str:
    """``linear`` stands for logistic_regression or ridge, whichever fits the task."""
    if family == "linear":
        return "logistic_regression" if task_type == "classification" else "ridge"
    return family


def plan_units(index: dict[str, dict[str, Any]], families: tuple[str, ...]) -> list[Unit]:
    units = []
    for name, entry in sorted(index.items(), key=lambda kv: kv[1].get("rows") or 0):  # small data first
        task_type = entry.get("task") or "classification"
        for family in families:
            resolved = resolve_family(family, task_type)
            get_family(resolved, task_type)  # an unknown family fails before any work starts
            units.append(Unit(name, resolved))
    return units


def journal_storage(path: str | Path) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(path)))


def run_unit(datasets_dir: str, entry: dict[str, Any], unit: Unit, n_configs: int, folds: int, max_rows: int,
             seed: int, journal: str, trial_timeout: float) -> tuple[Unit, int, int]:
    """Run one unit's study up to ``n_configs`` finished configurations; returns (unit, ok, failed)."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = load_indexed_task(datasets_dir, unit.dataset, entry, max_rows, seed)
    family = get_family(unit.family, task.task_type)
    metric = get_metric(default_metric(task), task)
    space = family.search_space(task.task_type)
    storage = journal_storage(journal)
    n_random = n_configs // 2
    study = optuna.create_study(study_name=f"{unit.dataset}:{unit.family}", storage=storage,
                                direction=metric.direction, load_if_exists=True)
    if not study.user_attrs:
        for key, value in {"task": unit.dataset, "task_type": task.task_type, "metric": metric.name,
                           "family": unit.family, "n_folds": folds, "meta_features": task.meta_features()}.items():
            study.set_user_attr(key, value)
        study.enqueue_trial(family.default_config(task), user_attrs={"source": "default"})
    stored = bind(study, storage)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # killed mid-trial earlier
        stored.set_trial_user_attr(trial.number, "interrupted", True)
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    counted = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished() and not t.user_attrs.get("interrupted")]
    # a resumed unit gets a fresh seed: the same one would replay its random trials as duplicates
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=n_random)
    while len(counted) < n_configs:
        n_complete = sum(1 for t in counted if t.state == TrialState.COMPLETE)
        trial = study.ask(space.to_optuna())
        if "source" not in trial.user_attrs:
            trial.set_user_attr("source", "random" if n_complete < n_random else "tpe")
        result = cross_validate_config(task, family.name, trial.params, metric.name, folds=folds, seed=seed,
                                       time_limit=trial_timeout or None)
        trial.set_user_attr("cv_std", result.std)
        trial.set_user_attr("fit_time_s", result.fit_time)
        if result.ok:
            told = study.tell(trial, result.mean)
        else:
            trial.set_user_attr("error", (result.error or result.status)[:300])
            told = study.tell(trial, state=TrialState.FAIL)
        counted.append(told)
    ok = sum(1 for t in counted if t.state == TrialState.COMPLETE)
    return unit, ok, len(counted) - ok


def export_records(journal: str | Path) -> list[dict[str, Any]]:
    """Meta-dataset records of every completed trial in the build's journal."""
    storage = journal_storage(journal)
    records = []
    for name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        if "meta_features" not in study.user_attrs:  # a unit killed before it tagged its study
            continue
        try:
            records += metadataset.records_from_study(study, default_source="tpe")
        except metadataset.MetaDatasetError:  # a unit with no completed trial yet
            continue
    return records


def build_metadataset(datasets_dir: str | Path, out: str | Path, families: tuple[str, ...] = DEFAULT_FAMILIES,
                      configs_per_family: int = 30, folds: int = 5, jobs: int = 1, max_rows: int = 5000,
                      seed: int = 0, trial_timeout: float = 120.0, only: list[str] | None = None,
                      on_progress: Callable[[Unit, int, int, int, int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the build and write the meta-dataset to ``out``; returns its summary.

    ``on_progress(unit, ok, failed, units_done, units_total)`` is called as units finish.
    """
    if configs_per_family < 2:
        raise TaskError(f"--configs-per-family must be at least 2, got {configs_per_family}")
    index = read_index(datasets_dir, only)
    units = plan_units(index, tuple(families))
    out = Path(out)
    journal = out.with_name(out.name + ".journal")
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [(str(datasets_dir), index[u.dataset], u, configs_per_family, folds, max_rows, seed, str(journal),
             trial_timeout) for u in units]
    done = 0
    if jobs <= 1:
        for a in args:
            unit, ok, failed = run_unit(*a)
            done += 1
            if on_progress:
                on_progress(unit, ok, failed, done, len(units))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_unit, *a) for a in args]
            for future in as_completed(futures):
                unit, ok, failed = future.result()
                done += 1
                if on_progress:
                    on_progress(unit, ok, failed, done, len(units))
    frame = metadataset.records_to_frame(export_records(journal))
    if frame.empty:
        raise TaskError("the build produced no successful experiment")
    metadataset.save(frame, out)
    return metadataset.summary(frame)


def default_jobs() -> int:
    return max(1, (os.cpu_count() or 1))
