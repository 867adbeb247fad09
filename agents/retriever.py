"""Retriever agent: the evidence for a recommendation.

For the user's task: its meta-features, the most similar past tasks with their best
configurations (FAISS), and the candidates: the first members of the task's greedy portfolio
from the configuration matrix (tools/portfolio.py), each with its record on the similar tasks,
the meta-learner's predicted score and fit time, and SHAP evidence sentences. Without a matrix
(a meta-dataset of the user's own), the meta-learner's top-ranked candidates per family.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from langgraph.runtime import Runtime

from tunegraph.context import Context
from tunegraph.state import RecommendState
from tunegraph.tools.meta.knowledge import Knowledge, open_knowledge
from tunegraph.tools.meta.metalearner import Candidate
from tunegraph.tools.meta.portfolio import DEFAULT_SETTING, pool_params, task_portfolio
from tunegraph.tools.ml.models import allowed_families, get_family
from tunegraph.tools.ml.tasks import Task, load_task
from tunegraph.tools.trials.evaluation import default_metric

PORTFOLIO_SIZE = 16


def load_user_task(state: Mapping[str, Any]) -> Task:
    return load_task(dataset=state.get("dataset") or None, data=state.get("data_path") or None,
                     target=state.get("target") or None, task_type=state.get("task_type") or None,
                     encoding=state.get("encoding") or None)


def retrieve(state: RecommendState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: gather similar tasks, ranked candidates and their SHAP evidence."""
    ctx = runtime.context
    start = time.perf_counter()
    task = load_user_task(state)
    knowledge = open_knowledge(exclude_tasks=tuple(state.get("exclude_tasks") or ()))
    families = allowed_families(state.get("families"), task.task_type)
    evidence = gather_evidence(knowledge, task, families, time_budget=float(state.get("time_budget_s") or 0.0),
                               n_candidates=ctx.n_candidates, n_similar=ctx.n_similar, seed=ctx.seed)
    return {"task_summary": task.describe(), "task_type": task.task_type, "families": families,
            "evidence": evidence, "known_tasks": sorted(knowledge.frame["task"].unique()),
            "metric": state.get("metric") or default_metric(task), "elapsed_s": time.perf_counter() - start}


def gather_evidence(knowledge: Knowledge, task: Task, families: list[str], time_budget: float = 0.0,
                    n_candidates: int = 5, n_similar: int = 3, seed: int = 0) -> dict[str, Any]:
    mf = task.meta_features()
    similar = knowledge.similar_tasks(mf, task.task_type, k=n_similar, families=families)
    if knowledge.has_portfolio(task.task_type):
        candidates, size = portfolio_candidates(knowledge, task, mf, families, time_budget, n_candidates, n_similar)
        if candidates:
            return {**_summary(mf, similar, time_budget, knowledge), "candidates": candidates,
                    "portfolio_size": size, "ranked_by": "portfolio"}
    candidates = meta_learner_candidates(knowledge, task, mf, families, similar, time_budget, n_candidates, seed)
    return {**_summary(mf, similar, time_budget, knowledge), "candidates": candidates, "ranked_by": "meta-learner"}


def _summary(mf: dict[str, float], similar: list[dict[str, Any]], time_budget: float,
             knowledge: Knowledge) -> dict[str, Any]:
    return {"meta_features": {k: mf[k] for k in ("n_rows", "n_features", "n_categorical", "missing_share",
                                                 "n_classes", "majority_share")},
            "similar_tasks": similar, "time_budget_s": time_budget or None,
            "meta_dataset_rows": int(len(knowledge.frame))}


def portfolio_candidates(knowledge: Knowledge, task: Task, mf: dict[str, float], families: list[str],
                         time_budget: float, n_candidates: int, n_similar: int) -> tuple[list[dict[str, Any]], int]:
    """The first members of the task's greedy portfolio, with the meta-learner's predictions and SHAP.

    The meta-learner's predicted score breaks near-ties in the greedy order; a fit-time budget
    drops the members predicted to exceed it (when any meets it).
    """
    matrix = knowledge.matrix
    if matrix is None:  # callers ask has_portfolio first; no matrix, no portfolio (the meta-learner's candidates)
        return [], 0
    distances = knowledge.task_distances(mf, task.task_type)
    pool = matrix[(matrix["task_type"] == task.task_type) & matrix["family"].isin(families)]
    shared = pool_params(pool)
    ids = sorted(shared)
    defaults = {f: get_family(f).default_config(task) for f in {shared[c][0] for c in ids}}
    configs = [defaults[family] if params is None else params for family, _, params in (shared[c] for c in ids)]
    scores, times = knowledge.learner.predict_mixed(mf, task.task_type, [shared[c][0] for c in ids], configs)
    predicted = {c: (float(s), float(t), p) for c, s, t, p in zip(ids, scores, times, configs)}
    members = task_portfolio(pool, task.task_type, k=PORTFOLIO_SIZE, distances=distances, setting=DEFAULT_SETTING,
                             n_similar=n_similar, prior={c: v[0] for c, v in predicted.items()})
    if time_budget > 0:
        within = [m for m in members if predicted[m.config_id][1] <= time_budget]
        members = within or members
    out = []
    for rank, m in enumerate(members[:n_candidates], 1):
        score, fit_time, params = predicted[m.config_id]
        c = Candidate(m.family, params, score, fit_time, f"portfolio:{m.origin}", score)
        shap = knowledge.learner.explain(c, mf, task.task_type)
        out.append({"id": f"C{rank}", **c.to_dict(), "shap": shap.sentences(4), "portfolio_rank": rank,
                    "record": {"near_best": m.near_best, "n_similar": m.n_similar,
                               "similar_mean_regret": round(m.similar_mean_regret, 4),
                               "mean_regret": round(m.mean_regret, 4),
                               "n_tasks": int(pool.loc[pool["task_type"] == task.task_type, "task"].nunique())}})
    return out, len(members)


def meta_learner_candidates(knowledge: Knowledge, task: Task, mf: dict[str, float], families: list[str],
                            similar: list[dict[str, Any]], time_budget: float, n_candidates: int,
                            seed: int) -> list[dict[str, Any]]:
    """Without a configuration matrix: the meta-learner's best-ranked sampled configurations."""
    seeds = [(s["task"], b["family"], b["params"]) for s in similar for b in s["best"]]
    pool = []
    for family in families:  # per family, so the LLM sees alternatives and not one family's variations
        pool += knowledge.learner.candidates(mf, task.task_type, [family], n_per_family=300, similar=seeds,
                                             seed=seed, top=max(2, n_candidates))
    if time_budget > 0:  # the user's fit-time budget is a hard constraint when something meets it
        within = [c for c in pool if c.predicted_fit_time_s <= time_budget]
        pool = within or pool
    pool.sort(key=lambda c: c.rank_score, reverse=True)
    chosen: list[Candidate] = []
    per_family: dict[str, int] = {}
    for c in pool:  # the best few overall, at most two per family while others remain
        if per_family.get(c.family, 0) < 2 or len(pool) - len(chosen) <= n_candidates - len(chosen):
            chosen.append(c)
            per_family[c.family] = per_family.get(c.family, 0) + 1
        if len(chosen) == n_candidates:
            break
    candidates = []
    for i, c in enumerate(chosen, 1):
        shap = knowledge.learner.explain(c, mf, task.task_type)
        candidates.append({"id": f"C{i}", **c.to_dict(), "shap": shap.sentences(4)})
    return candidates
