"""The configuration matrix: one shared pool of configurations per family, cross-validated on every task.

Pointwise meta-data (30 different configurations per task) cannot say which configuration
transfers from one task to another; a matrix of tasks x shared configurations can, and greedy
portfolios are built from it (tools/portfolio.py). Each family's pool holds:

* the library defaults (resolved per task: some depend on the number of features);
* the best configuration of every task in the meta-dataset (``origin`` ``best:<task>``, so a
  leave-one-dataset-out evaluation can drop the held-out task's own best);
* scrambled Sobol samples of the family's search space, at least ``min_sobol`` and enough for
  ``min_configs`` in all.

Every cell (task, configuration) records the CV mean, std, fit time and status; a failed cell is
an outcome (the worst regret), not a hole. The build appends each finished (task, family) unit to
a JSON-lines log next to the output, so it resumes where it stopped, and rewrites the Parquet
file after each unit.

Example:
    >>> build_matrix("../shared/datasets", "data/config_matrix.parquet", jobs=2)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunegraph.tools.meta import metadataset
from tunegraph.tools.meta.metabuild import load_indexed_task, read_index, resolve_family
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.ml.search_space import CategoricalParam, FloatParam, SearchSpace
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES, TaskError
from tunegraph.tools.trials.evaluation import cross_validate_config, default_metric, get_metric

MATRIX_FAMILIES = ("xgboost", "lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting", "linear", "knn")
# which task type a family's best configurations come from, for families that do only one
POOL_FAMILIES = ("xgboost", "lightgbm", "random_forest", "extra_trees", "hist_gradient_boosting",
                 "logistic_regression", "ridge", "knn")
CELL_COLUMNS = ["task", "task_type", "metric", "direction", "family", "config_id", "origin", "params", "status",
                "score_mean", "score_std", "fit_time_s", "n_folds", "error", *metadataset.MF_COLUMNS]


@dataclass(frozen=True)
class PoolConfig:
    """One shared configuration: ``params`` None stands for the library defaults of each task."""

    config_id: str
    family: str
    origin: str  # "default", "best:<task>" or "sobol"
    params: dict[str, Any] | None

    def resolve(self, task) -> dict[str, Any]:
        return get_family(self.family).default_config(task) if self.params is None else dict(self.params)


def sobol_configs(space: SearchSpace, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` scrambled Sobol points of ``space`` (log ranges sampled on the log scale)."""
    from scipy.stats import qmc

    with warnings.catch_warnings():  # n need not be a power of two for a space-filling start
        warnings.simplefilter("ignore")
        points = qmc.Sobol(d=len(space.params), scramble=True, seed=seed).random(n)
    configs = []
    for row in points:
        config = {}
        for u, (name, p) in zip(row, space.params.items()):
            if isinstance(p, CategoricalParam):
                config[name] = p.choices[min(int(u * len(p.choices)), len(p.choices) - 1)]
                continue
            low, high = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
            value = low + float(u) * (high - low)
            value = math.exp(value) if p.log else value
            config[name] = float(value) if isinstance(p, FloatParam) else int(min(max(round(value), p.low), p.high))
        configs.append(config)
    return configs


def best_configs(frame: pd.DataFrame, family: str) -> list[tuple[str, dict[str, Any]]]:
    """(task, params) of the best-scored configuration of ``family`` on each task of the meta-dataset."""
    rows = frame[frame["family"] == family]
    out = []
    for task, group in sorted(rows.groupby("task"), key=lambda kv: kv[0]):
        best = group.sort_values(["score_norm", "record_id"], ascending=[False, True]).iloc[0]
        out.append((str(task), json.loads(best["params"])))
    return out


def build_pool(frame: pd.DataFrame, families: tuple[str, ...] = POOL_FAMILIES, min_configs: int = 40,
               min_sobol: int = 4, seed: int = 0) -> list[PoolConfig]:
    """Each family's shared pool: defaults, every task's best (duplicates once), then Sobol samples."""
    pool: list[PoolConfig] = []
    for f_index, family in enumerate(families):
        fam = get_family(family)
        space = fam.search_space(fam.task_types[0])
        members = [PoolConfig(f"{family}:000", family, "default", None)]
        seen: set[str] = set()
        for task, params in best_configs(frame, family):
            clean, _ = space.clip(params)
            key = json.dumps(clean, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            members.append(PoolConfig(f"{family}:{len(members):03d}", family, f"best:{task}", clean))
        n_sobol = max(min_sobol, min_configs - len(members))
        for params in sobol_configs(space, 4 * n_sobol, seed=seed + 1000 * f_index):  # spares for repeats
            key = json.dumps(params, sort_keys=True)
            if key in seen:  # knn's small space repeats itself
                continue
            seen.add(key)
            members.append(PoolConfig(f"{family}:{len(members):03d}", family, "sobol", params))
            n_sobol -= 1
            if n_sobol == 0:
                break
        pool += members
    return pool


def save_pool(pool: list[PoolConfig], path: str | Path) -> None:
    Path(path).write_text(json.dumps([asdict(p) for p in pool], indent=1) + "\n")


def load_pool(path: str | Path) -> list[PoolConfig]:
    return [PoolConfig(**p) for p in json.loads(Path(path).read_text())]


def evaluate_unit(datasets_dir: str, entry: dict[str, Any], dataset: str, configs: list[PoolConfig], folds: int,
                  max_rows: int, seed: int, time_limit: float) -> list[dict[str, Any]]:
    """Cross-validate ``configs`` (one family) on one data set; one cell per configuration."""
    import torch

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    task = load_indexed_task(datasets_dir, dataset, entry, max_rows, seed)
    metric = get_metric(default_metric(task), task)
    mf = task.meta_features()
    cells = []
    for config in configs:
        params = config.resolve(task)
        result = cross_validate_config(task, config.family, params, metric.name, folds=folds, seed=seed,
                                       time_limit=time_limit or None)
        cells.append({
            "task": dataset, "task_type": task.task_type, "metric": metric.name, "direction": metric.direction,
            "family": config.family, "config_id": config.config_id, "origin": config.origin,
            "params": json.dumps(params, sort_keys=True), "status": result.status,
            "score_mean": result.mean, "score_std": result.std, "fit_time_s": float(result.fit_time),
            "n_folds": folds, "error": (result.error or "")[:300],
            **{f"mf_{k}": float(mf[k]) for k in META_FEATURE_NAMES}})
    return cells


def plan(index: dict[str, dict[str, Any]], pool: list[PoolConfig], families: tuple[str, ...],
         done: set[tuple[str, str]]) -> list[tuple[str, list[PoolConfig]]]:
    """(data set, configurations still to run) per unit, small data sets first."""
    units = []
    for name, entry in sorted(index.items(), key=lambda kv: (kv[1].get("rows") or 0, kv[0])):
        task_type = entry.get("task") or "classification"
        for family in families:
            resolved = resolve_family(family, task_type)
            todo = [p for p in pool if p.family == resolved and (name, p.config_id) not in done]
            if todo:
                units.append((name, todo))
    return units


def read_log(path: Path) -> list[dict[str, Any]]:
    """The cells written so far; a line cut off by a crash is skipped (its unit runs again)."""
    if not path.exists():
        return []
    cells = []
    for line in path.read_text().splitlines():
        try:
            cells.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return cells


def cells_to_frame(cells: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(cells, columns=CELL_COLUMNS)
    return frame.drop_duplicates(["task", "config_id"], keep="last").sort_values(["task", "config_id"]).reset_index(drop=True)


def save_matrix(frame: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False, compression="zstd")
    os.replace(tmp, path)


def load_matrix(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise metadataset.MetaDatasetError(f"configuration matrix not found: {path}; build it with "
                                           "'tunegraph metadata matrix'")
    frame = pd.read_parquet(path)
    missing = [c for c in CELL_COLUMNS if c not in frame.columns]
    if missing:
        raise metadataset.MetaDatasetError(f"{path} lacks columns: {', '.join(missing)}")
    return frame


def shipped_matrix_path() -> Path:
    """``$TUNEGRAPH_MATRIX`` or the matrix shipped next to the meta-dataset."""
    override = os.environ.get("TUNEGRAPH_MATRIX")
    return Path(override) if override else metadataset.shipped_path().with_name("config_matrix.parquet")


def build_matrix(datasets_dir: str | Path, out: str | Path, families: tuple[str, ...] = MATRIX_FAMILIES,
                 pool_from: str | Path | None = None, min_configs: int = 40, folds: int = 5, jobs: int = 1,
                 max_rows: int = 5000, seed: int = 0, time_limit: float = 120.0, only: list[str] | None = None,
                 on_progress: Callable[[str, str, int, int, int, float], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the matrix build; returns a summary.

    The pool is drawn once (from ``pool_from``, the meta-dataset) and saved as ``<out>.pool.json``;
    a resumed build keeps it. ``on_progress(data set, family, cells, units done, units total,
    seconds)`` is called as units finish.
    """
    index = read_index(datasets_dir, only)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pool_path, log_path = out.with_name(out.stem + ".pool.json"), out.with_name(out.name + ".log.jsonl")
    if pool_path.exists():
        pool = load_pool(pool_path)
    else:
        pool = build_pool(metadataset.load(pool_from or metadataset.shipped_path()), min_configs=min_configs, seed=seed)
        save_pool(pool, pool_path)
    cells = read_log(log_path)
    if not cells and out.exists():  # resume from a shipped matrix whose log was not kept
        cells = load_matrix(out).replace({np.nan: None}).to_dict("records")
    done = {(c["task"], c["config_id"]) for c in cells}
    units = plan(index, pool, families, done)
    start, finished = time.perf_counter(), 0
    args = [(str(datasets_dir), index[name], name, todo, folds, max_rows, seed, time_limit) for name, todo in units]

    def record(new: list[dict[str, Any]]) -> None:
        nonlocal finished
        with log_path.open("a") as fh:
            for cell in new:
                fh.write(json.dumps(cell, default=float) + "\n")
        cells.extend(new)
        save_matrix(cells_to_frame(cells), out)
        finished += 1
        if on_progress and new:
            on_progress(new[0]["task"], new[0]["family"], len(new), finished, len(units), time.perf_counter() - start)

    if jobs <= 1:
        for a in args:
            record(evaluate_unit(*a))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as executor:
            for future in as_completed([executor.submit(evaluate_unit, *a) for a in args]):
                record(future.result())
    frame = cells_to_frame(cells)
    if frame.empty:
        raise TaskError("the matrix build produced no cell")
    save_matrix(frame, out)
    return {"cells": int(len(frame)), "tasks": int(frame["task"].nunique()), "configs": int(frame["config_id"].nunique()),
            "failed": int((frame["status"] != "ok").sum()), "units_run": finished, "seconds": time.perf_counter() - start}


def matrix_records(matrix: pd.DataFrame) -> list[dict[str, Any]]:
    """The matrix's successful cells as meta-dataset records (source ``grid``), for the meta-learner."""
    records = []
    for cell in matrix[matrix["status"] == "ok"].to_dict("records"):
        records.append(metadataset.make_record(
            task=cell["task"], task_type=cell["task_type"], metric=cell["metric"], direction=cell["direction"],
            meta_features={k: cell[f"mf_{k}"] for k in META_FEATURE_NAMES}, family=cell["family"],
            params=json.loads(cell["params"]), score_mean=cell["score_mean"], score_std=cell["score_std"] or 0.0,
            fit_time_s=cell["fit_time_s"], n_folds=int(cell["n_folds"]), source="grid", created_at="2026-12-01T00:00:00"))
    return records


def without_tasks(matrix: pd.DataFrame, tasks: tuple[str, ...]) -> pd.DataFrame:
    """The matrix with the named tasks' columns and their own best configurations left out."""
    if not tasks:
        return matrix
    keep = ~matrix["task"].isin(tasks) & ~matrix["origin"].isin([f"best:{t}" for t in tasks])
    return matrix[keep].reset_index(drop=True)
