"""Initializer agent (zero-shot): the search space and the first configurations of a study.

Where a configuration matrix ships, the first trials are the task's greedy portfolio (source
``portfolio``, tools/meta/portfolio.py), across families or within ``--model``'s, and TPE models
the history right after them (no random start-up trials follow). Otherwise (no matrix, or
``portfolio`` 0), with an LLM it asks for starting configurations from the task description and
meta-features; without one, or when every answer is invalid, it starts from the library defaults,
which are then always among the first trials, so a run never ends below them.
"""

from __future__ import annotations

import uuid
from typing import Any

from langgraph.runtime import Runtime

from tunegraph.agents.llm_ask import ask_json, count, new_counts
from tunegraph.context import Context
from tunegraph.prompts import render
from tunegraph.state import OptimizeState
from tunegraph.tools.llm.answers import InitializerAnswer, describe_space, format_config, initializer_schema
from tunegraph.tools.meta.portfolio import portfolio_size
from tunegraph.tools.ml.cash import join
from tunegraph.tools.ml.search_space import SearchSpace, SearchSpaceError
from tunegraph.tools.trials.distributed import study_lock
from tunegraph.tools.trials.runs import OptimizeRun, default_study_name, run_for


def initialize(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: open the run, fix the search space and enqueue the first configurations."""
    ctx = runtime.context
    state = {**state, "study_name": state.get("study_name") or default_study_name(state)}
    run = run_for(state, ctx)
    space = SearchSpace.from_dict(state["search_space"]) if state.get("search_space") else run.bounds
    update: dict[str, Any] = {
        "study_name": state["study_name"], "task_summary": run.task.describe(), "direction": run.metric.direction, "model": run.family.name,
        "metric": run.metric.name, "search_space": space.to_dict(), "worker_id": state.get("worker_id") or uuid.uuid4().hex[:12],
    }
    if "folds" not in run.study.user_attrs:  # the meta-dataset layer records how the scores were measured
        run.study.set_user_attr("folds", int(ctx.folds))
    if run.study.trials:  # a resumed study or another worker's: its first trials exist already
        if ctx.space_box:  # the first start's box again: its trials, the portfolio among them, lie inside it
            space, _ = box_space(run, space, [t.params for t in run.study.trials if t.params],
                                 tuple(state.get("exclude_tasks") or ()))
            update["search_space"] = space.to_dict()
        return update
    counts = new_counts()
    design = portfolio_configs(run, space, portfolio_size(ctx.portfolio, ctx.trials),
                               tuple(state.get("exclude_tasks") or ()), ctx.portfolio_neighbors)
    if design:
        configs, source = design, "portfolio"
        reasoning = f"the task's portfolio, {len(design)} configurations learned from the configuration matrix"
    else:
        configs, reasoning = initial_configs(run, space, ctx.init_configs, ctx.llm_retries, counts)
        source = "init"
    notes: list[str] = []
    if ctx.space_box:
        space, notes = box_space(run, space, [c for c, _ in configs], tuple(state.get("exclude_tasks") or ()))
        update["search_space"] = space.to_dict()
    with study_lock(run.study):  # workers starting together: the first one enqueues, the others find trials
        if not run.study.trials:
            for config, why in configs:
                run.study.enqueue_trial(config, user_attrs={"source": source, "reasoning": why}, skip_if_exists=True)
            if design:  # TPE takes over from the portfolio at once; resumed runs read it back (open_run)
                run.study.set_user_attr("tpe_startup", len(configs))
                run.sampler.start_model_after(len(configs))
    update["llm"] = counts
    update["space_notes"] = [f"initial configurations: {reasoning}", *notes]
    return update


def box_space(run: OptimizeRun, space: SearchSpace, first: list[dict], exclude_tasks: tuple[str, ...]
              ) -> tuple[SearchSpace, list[str]]:
    """``space`` narrowed to past tasks' best configurations and ``first`` (``Context.space_box``);
    unchanged, with a note, where there is no meta-dataset."""
    from tunegraph.tools.meta import metadataset
    from tunegraph.tools.meta.space_transfer import transfer_box

    try:
        frame = metadataset.load_layers()
    except metadataset.MetaDatasetError as exc:
        return space, [f"search space kept whole: {exc}"]
    return transfer_box(space, frame, run.task.task_type, searched_families(run), first, exclude_tasks)


def searched_families(run: OptimizeRun) -> list[str]:
    """The families the run searches: every one across families, else its own."""
    return list(getattr(run.family, "members", ()) or (run.family.name,))


def portfolio_configs(run: OptimizeRun, space: SearchSpace, k: int, exclude_tasks: tuple[str, ...] = (),
                      neighbors: int = -1) -> list[tuple[dict, str]]:
    """The first ``k`` members of the task's portfolio as configurations of ``space``, with why each
    was chosen; empty without a matrix for the task's type (then the Initializer's own start).
    ``neighbors``: how many similar tasks the portfolio favours (-1: the shipped setting)."""
    from tunegraph.tools.meta.knowledge import open_matrix
    from tunegraph.tools.meta.portfolio import initial_design, portfolio_setting

    if k <= 0:
        return []
    out: list[tuple[dict, str]] = []
    for family, params, member in initial_design(run.task, k, searched_families(run), open_matrix(), exclude_tasks,
                                                 portfolio_setting(neighbors)):
        config = join(family, params) if space.conditional else params
        try:
            config, _ = space.clip(config)
        except SearchSpaceError:  # a space the user narrowed may lack a parameter: skip the member
            continue
        why = (f"portfolio member {len(out) + 1}: {family} {member.origin} configuration, mean normalized regret "
               f"{member.mean_regret:.3f} over the matrix's tasks")
        if config not in [c for c, _ in out]:
            out.append((config, why))
    return out


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
