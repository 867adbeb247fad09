"""Initializer agent (zero-shot): the search space and the first configurations of a study.

With an LLM it asks for starting configurations from the task description and meta-features;
without one, or when every answer is invalid, it starts from the family's library defaults.
The library defaults are always among the first trials, so a run never ends below them.
"""

from __future__ import annotations

import uuid
from typing import Any

from tunegraph.agents.llm_ask import ask_json, count, new_counts
from tunegraph.prompts import render
from tunegraph.tools.llm.answers import InitializerAnswer, describe_space, format_config, initializer_schema
from tunegraph.tools.trials.distributed import study_lock
from tunegraph.tools.trials.runs import OptimizeRun, default_study_name, open_run
from tunegraph.tools.ml.search_space import SearchSpace


def initialize(state: dict[str, Any], runtime) -> dict[str, Any]:
    """Graph node: open the run, fix the search space and enqueue the first configurations."""
    ctx = runtime.context
    state = {**state, "study_name": state.get("study_name") or default_study_name(state)}
    run = open_run(state, storage=ctx.storage, llm=ctx.llm, sampler=ctx.sampler, p_llm=ctx.p_llm,
                   seed=ctx.seed, n_startup_trials=ctx.n_startup_trials)
    space = SearchSpace.from_dict(state["search_space"]) if state.get("search_space") else run.bounds
    update: dict[str, Any] = {
        "study_name": state["study_name"], "task_summary": run.task.describe(), "direction": run.metric.direction, "model": run.family.name,
        "metric": run.metric.name, "search_space": space.to_dict(), "worker_id": state.get("worker_id") or uuid.uuid4().hex[:12],
    }
    if run.study.trials:  # a resumed study or another worker's: its first trials exist already
        return update
    counts = new_counts()
    configs, reasoning = initial_configs(run, space, ctx.init_configs, ctx.llm_retries, counts)
    with study_lock(run.study):  # workers starting together: the first one enqueues, the others find trials
        if not run.study.trials:
            for config, why in configs:
                run.study.enqueue_trial(config, user_attrs={"source": "init", "reasoning": why}, skip_if_exists=True)
    update["llm"] = counts
    update["space_notes"] = [f"initial configurations: {reasoning}"]
    return update


def initial_configs(run: OptimizeRun, space: SearchSpace, n: int, retries: int,
                    counts: dict[str, float]) -> tuple[list[tuple[dict, str]], str]:
    """``[(config, reasoning), ...]``: the LLM's proposals (if any are valid) and the library defaults."""
    defaults, _ = space.clip(run.family.default_config(run.task))
    chosen: list[tuple[dict, str]] = [(defaults, "library defaults")]
    if run.llm is None or n < 1:
        return chosen, "library defaults (no LLM)"
    prompt = render("initializer", family=run.family.description, task=run.task.describe(),
                    metric=run.metric.name, direction=run.metric.direction, space=describe_space(space),
                    defaults=format_config(defaults), n_configs=n,
                    keys=", ".join(f'"{k}": ...' for k in space.names()))

    def accept(data: dict) -> InitializerAnswer:
        answer = InitializerAnswer.model_validate(data)
        clipped = [space.clip(c) for c in answer.configs[:n]]
        if any(notes for _, notes in clipped):  # used after clipping or coercion: counted
            count(counts, "clipped")
        clean = [config for config, _ in clipped]
        return InitializerAnswer(configs=clean, reasoning=answer.reasoning)

    answer, why = ask_json(run.llm, prompt, initializer_schema(space, n), accept, retries, counts, max_tokens=400)
    if answer is None:
        counts["fallbacks"] += 1
        return chosen, f"library defaults (LLM answer unusable: {why})"
    reasoning = answer.reasoning.strip()[:500] or "(no reasoning given)"
    for config in answer.configs:
        if all(config != c for c, _ in chosen):
            chosen.append((config, reasoning))
    return chosen, reasoning
