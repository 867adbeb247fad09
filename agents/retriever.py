"""Retriever agent: the evidence for a recommendation.

For the user's task: its meta-features, the most similar past tasks with their best
configurations (FAISS), the meta-learner's top candidates per family with predicted score and
fit time, and SHAP evidence sentences for each candidate.
"""

from __future__ import annotations

import time
from typing import Any

from tunegraph.tools.trials.evaluation import default_metric
from tunegraph.tools.meta.knowledge import Knowledge, open_knowledge
from tunegraph.tools.ml.models import families_for
from tunegraph.tools.ml.tasks import Task, TaskError, load_task


def load_user_task(state: dict[str, Any]) -> Task:
    return load_task(dataset=state.get("dataset") or None, data=state.get("data_path") or None,
                     target=state.get("target") or None, task_type=state.get("task_type") or None)


def retrieve(state: dict[str, Any], runtime) -> dict[str, Any]:
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


def allowed_families(requested: list[str] | None, task_type: str) -> list[str]:
    usable = families_for(task_type)
    if not requested:
        return usable
    bad = [f for f in requested if f not in usable]
    if bad:
        raise TaskError(f"families {', '.join(bad)} cannot do {task_type}; choose from: {', '.join(usable)}")
    return list(requested)


def gather_evidence(knowledge: Knowledge, task: Task, families: list[str], time_budget: float = 0.0,
                    n_candidates: int = 5, n_similar: int = 3, seed: int = 0) -> dict[str, Any]:
    mf = task.meta_features()
    similar = knowledge.similar_tasks(mf, task.task_type, k=n_similar, families=families)
    seeds = [(s["task"], b["family"], b["params"]) for s in similar for b in s["best"]]
    pool = []
    for family in families:  # per family, so the LLM sees alternatives and not one family's variations
        pool += knowledge.learner.candidates(mf, task.task_type, [family], n_per_family=300, similar=seeds,
                                             seed=seed, top=max(2, n_candidates))
    if time_budget > 0:  # the user's fit-time budget is a hard constraint when something meets it
        within = [c for c in pool if c.predicted_fit_time_s <= time_budget]
        pool = within or pool
    pool.sort(key=lambda c: c.rank_score, reverse=True)
    chosen, per_family = [], {}
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
    return {"meta_features": {k: mf[k] for k in ("n_rows", "n_features", "n_categorical", "missing_share",
                                                 "n_classes", "majority_share")},
            "similar_tasks": similar, "candidates": candidates,
            "time_budget_s": time_budget or None, "meta_dataset_rows": int(len(knowledge.frame))}
