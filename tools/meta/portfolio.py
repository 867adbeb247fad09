"""Greedy zero-shot portfolios from the configuration matrix (Auto-sklearn 2.0, TabRepo, FLAML zero-shot).

Each next member is the configuration that most lowers the (weighted) mean over training tasks
of the best normalized regret within the portfolio so far, so later members cover the tasks the
earlier ones do badly on. The task-conditional variant weights the training tasks by their
nearness to the new task (FAISS task index distances).

Why not a library's loop: FLAML's ``flaml.default.greedy.construct_portfolio`` stops as soon as
one more member does not lower its loss (no fixed length K), takes no task weights, and draws
candidates from a ``set`` (tie order depends on PYTHONHASHSEED); TabRepo's zero-shot selection
is not on PyPI. The loop below is the same criterion (a test checks it picks what FLAML picks with
regret bound 0) in a dozen lines of NumPy.

Example:
    >>> regret = regret_table(load_matrix(shipped_matrix_path()))              # doctest: +SKIP
    >>> members = greedy_portfolio(regret.to_numpy(), k=16)                    # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tunegraph.tools.ml.models import get_family

FAILED_REGRET = 1.0  # a failed cell is as bad as the task's worst working configuration


def regret_table(matrix: pd.DataFrame, scale: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Tasks x configurations of normalized regret: 0 = the task's best cell, 1 = its worst.

    A failed cell gets ``FAILED_REGRET``; a configuration its family cannot run on the task (ridge on
    classification) is NaN. ``scale`` (task -> (best, worst) score) widens the range, e.g. with the
    meta-dataset's best and worst known scores; otherwise it is the task's own cells.
    """
    ok = matrix[matrix["status"] == "ok"]
    sign = np.where(matrix["direction"] == "minimize", -1.0, 1.0)
    oriented = pd.Series(matrix["score_mean"].astype(float).to_numpy() * sign, index=matrix.index)
    best = oriented[ok.index].groupby(matrix.loc[ok.index, "task"]).max()
    worst = oriented[ok.index].groupby(matrix.loc[ok.index, "task"]).min()
    if scale:
        for task, (b, w) in scale.items():
            if task in best.index:
                s = -1.0 if matrix.loc[matrix["task"] == task, "direction"].iloc[0] == "minimize" else 1.0
                best[task], worst[task] = max(best[task], s * b), min(worst[task], s * w)
    span = (best - worst).replace(0.0, np.nan)
    task = matrix["task"]
    regret = ((task.map(best) - oriented) / task.map(span)).fillna(0.0).clip(0.0, 1.0)
    regret[matrix["status"] != "ok"] = FAILED_REGRET
    table = pd.DataFrame({"task": task, "config_id": matrix["config_id"], "regret": regret})
    return table.pivot(index="task", columns="config_id", values="regret")


def greedy_portfolio(regret: np.ndarray, k: int, weights: np.ndarray | None = None,
                     allowed: np.ndarray | None = None, prior: np.ndarray | None = None,
                     tie: float = 1e-3) -> list[int]:
    """Column indices of the greedy portfolio of size ``k`` over ``regret`` (tasks x configurations).

    NaN (not applicable) counts as the worst regret. Ties go to the lower weighted mean regret, then
    the lower index, so the order is deterministic. ``allowed`` masks the columns that may be picked.
    With ``prior`` (higher is better, e.g. the meta-learner's predicted score on the new task),
    losses within ``tie`` of each other count as tied and the prior decides between them.
    """
    r = np.where(np.isnan(regret), FAILED_REGRET, regret)
    w = np.ones(r.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    mean = w @ r
    free = np.ones(r.shape[1], dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
    second = np.round(mean, 12) if prior is None else -np.nan_to_num(np.asarray(prior, dtype=float), nan=-np.inf)
    decimals = 12 if prior is None else max(0, int(round(-np.log10(tie))))
    best_so_far = np.full(r.shape[0], np.inf)
    chosen: list[int] = []
    for _ in range(min(k, int(free.sum()))):
        loss = w @ np.minimum(best_so_far[:, None], r)
        order = np.lexsort((np.arange(r.shape[1]), second, np.round(loss, decimals)))
        pick = int(next(j for j in order if free[j]))
        chosen.append(pick)
        free[pick] = False
        best_so_far = np.minimum(best_so_far, r[:, pick])
    return chosen


def similarity_weights(distances: dict[str, float], tasks: list[str], n_neighbors: int,
                       floor: float) -> np.ndarray:
    """Weight 1 for the ``n_neighbors`` nearest training tasks, ``floor`` for the others."""
    nearest = set(sorted((t for t in tasks if t in distances), key=lambda t: (distances[t], t))[:n_neighbors])
    return np.array([1.0 if t in nearest else floor for t in tasks])


@dataclass(frozen=True)
class PortfolioSetting:
    """How a task's portfolio is built: global (``n_neighbors`` 0) or weighted toward its neighbours."""

    n_neighbors: int = 0
    floor: float = 0.1

    def label(self) -> str:
        return "global" if self.n_neighbors == 0 else f"{self.n_neighbors} nearest (others x{self.floor:g})"


# The shipped setting: the one the benchmark's inner leave-one-out (benchmarks/zero_shot_portfolio.py,
# best of the first 5 members) picks over all 37 data sets of the shipped matrix, for both task types:
# mean regret 0.033 against 0.042 (global) in classification, 0.029 against 0.032 in regression.
DEFAULT_SETTING = PortfolioSetting(n_neighbors=5, floor=0.1)
SETTINGS = (PortfolioSetting(0), PortfolioSetting(5, 0.1), PortfolioSetting(10, 0.1))


def portfolio_setting(neighbors: int) -> PortfolioSetting:
    """The setting of ``Context.portfolio_neighbors``: -1 (or less) the shipped one, 0 global, N the N nearest."""
    if neighbors < 0:
        return DEFAULT_SETTING
    return PortfolioSetting(int(neighbors), DEFAULT_SETTING.floor)


@dataclass
class Member:
    family: str
    config_id: str
    params: dict[str, Any] | None  # None: the library defaults of the user's task
    origin: str
    mean_regret: float  # over the weighted training tasks
    near_best: int  # similar tasks on which it was within 1% of the best (normalized regret <= 0.01)
    n_similar: int
    similar_mean_regret: float

    def resolve(self, task) -> dict[str, Any]:
        return get_family(self.family).default_config(task) if self.params is None else dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "config_id": self.config_id, "params": self.params, "origin": self.origin,
                "mean_regret": round(self.mean_regret, 4), "near_best": self.near_best, "n_similar": self.n_similar,
                "similar_mean_regret": round(self.similar_mean_regret, 4)}


def pool_params(matrix: pd.DataFrame) -> dict[str, tuple[str, str, dict[str, Any] | None]]:
    """config_id -> (family, origin, shared params; None for the per-task defaults)."""
    first = matrix.drop_duplicates("config_id")
    return {r.config_id: (r.family, r.origin, None if r.origin == "default" else json.loads(r.params))
            for r in first.itertuples()}


def task_portfolio(matrix: pd.DataFrame, task_type: str, k: int = 16, distances: dict[str, float] | None = None,
                   setting: PortfolioSetting = DEFAULT_SETTING, exclude_tasks: tuple[str, ...] = (),
                   families: list[str] | None = None, n_similar: int = 5,
                   prior: dict[str, float] | None = None) -> list[Member]:
    """The ordered portfolio for a new task of ``task_type``.

    Training tasks are the matrix's tasks of that type less ``exclude_tasks`` (whose own best
    configurations leave the pool too); ``distances`` (task -> meta-feature distance to the new
    task) weight them when ``setting`` asks for neighbours and give each member's record on the
    ``n_similar`` nearest. ``prior`` (config_id -> predicted score) breaks near-ties.
    """
    rows = matrix[(matrix["task_type"] == task_type) & ~matrix["task"].isin(exclude_tasks)]
    rows = rows[~rows["origin"].isin([f"best:{t}" for t in exclude_tasks])]
    if families is not None:
        rows = rows[rows["family"].isin(families)]
    if rows.empty:
        return []
    table = regret_table(rows)
    tasks, configs = list(table.index), list(table.columns)
    weights = None
    if setting.n_neighbors and distances:
        weights = similarity_weights(distances, tasks, setting.n_neighbors, setting.floor)
    applicable = ~np.isnan(table.to_numpy()).all(axis=0)
    prior_vector = None if prior is None else np.array([prior.get(c, np.nan) for c in configs])
    picks = greedy_portfolio(table.to_numpy(), k, weights, allowed=applicable, prior=prior_vector)
    near = sorted(tasks, key=lambda t: (distances.get(t, np.inf), t))[:n_similar] if distances else tasks[:0]
    near_rows = table.loc[near] if near else None
    w = np.ones(len(tasks)) if weights is None else weights
    params = pool_params(rows)
    members = []
    for j in picks:
        column = table.iloc[:, j].to_numpy()
        filled = np.where(np.isnan(column), FAILED_REGRET, column)
        family, origin, shared = params[configs[j]]
        near_col = near_rows.iloc[:, j].fillna(FAILED_REGRET).to_numpy() if near_rows is not None else np.array([])
        members.append(Member(family, configs[j], shared, origin, float(w @ filled / w.sum()),
                              int((near_col <= 0.01).sum()), len(near_col),
                              float(near_col.mean()) if len(near_col) else float("nan")))
    return members


def initial_design(task, k: int, families: list[str] | tuple[str, ...], matrix: pd.DataFrame | None,
                   exclude_tasks: tuple[str, ...] = (), setting: PortfolioSetting = DEFAULT_SETTING
                   ) -> list[tuple[str, dict[str, Any], Member]]:
    """A study's first ``k`` trials: ``[(family, params resolved for task, member), ...]``, the task's
    greedy portfolio over ``families`` (an empty list without a matrix for the task's type).

    ``exclude_tasks`` leave the matrix with their own best configurations (leave-one-dataset-out).
    The neighbours a weighted setting needs come from the matrix's own meta-features (FAISS).
    """
    if matrix is None or k <= 0:
        return []
    rows = matrix[(matrix["task_type"] == task.task_type) & ~matrix["task"].isin(exclude_tasks)]
    if rows.empty:
        return []
    distances = None
    if setting.n_neighbors:
        distances = matrix_task_distances(rows, task.meta_features(), task.task_type)
    members = task_portfolio(rows, task.task_type, k=k, distances=distances, setting=setting,
                             exclude_tasks=exclude_tasks, families=list(families))
    return [(m.family, m.resolve(task), m) for m in members]


def matrix_task_distances(matrix: pd.DataFrame, meta_features: dict[str, float], task_type: str) -> dict[str, float]:
    """Meta-feature distance from a new task to each task of the matrix (the FAISS task index of its cells)."""
    from tunegraph.tools.meta.config_matrix import matrix_records
    from tunegraph.tools.meta.retrieval import TaskIndex

    per_task = matrix[matrix["status"] == "ok"].drop_duplicates("task")
    index = TaskIndex.build(pd.DataFrame(matrix_records(per_task)))
    found = index.similar(meta_features, k=len(index), task_type=task_type)
    return {s.task: float(s.distance) for s in found}


def portfolio_size(setting: int, trials: int) -> int:
    """Portfolio members to run first: ``setting``, or min(8, trials // 2) (at least 1) when it is -1."""
    return max(1, min(8, trials // 2)) if setting < 0 else setting
