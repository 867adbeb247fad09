"""The optimize graph (SLLMBO): initialize -> warm_start -> choose_proposer -> (llm_propose |
sample_propose) -> evaluate -> summarize -> loop, or remember (learn from the run) and stop.

Trials live in an Optuna study; the graph state only points at them, so a run checkpointed
with SQLite resumes by its thread id (the study name) without losing a finished trial.

Example (scripted):
    >>> from tunegraph.graphs.context import Context
    >>> from tunegraph.graphs.optimize import builder
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> graph = builder.compile(checkpointer=InMemorySaver())
    >>> final = graph.invoke({"dataset": "iris", "model": "knn", "study_name": "iris-knn"},
    ...                      {"configurable": {"thread_id": "iris-knn"}},
    ...                      context=Context(llm="none", trials=5))          # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from tunegraph.agents.evaluator import evaluate
from tunegraph.agents.initializer import initialize
from tunegraph.agents.memory import remember
from tunegraph.agents.optimizer import choose_proposer, llm_propose, sample_propose
from tunegraph.agents.summarizer import summarize
from tunegraph.graphs.context import Context
from tunegraph.graphs.state import OptimizeInput, OptimizeState
from tunegraph.tools.meta.metadataset import MetaDatasetError
from tunegraph.tools.meta.metalearner import MetaLearnerError
from tunegraph.tools.ml.cash import join
from tunegraph.tools.trials.runs import run_for


def route_proposal(state: OptimizeState) -> str:
    return {"llm": "llm_propose", "pending": "evaluate"}.get(state.get("next_source", ""), "sample_propose")


def route_after_summary(state: OptimizeState) -> str:
    return "remember" if state.get("stop_reason") else "choose_proposer"


def warm_start(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Enqueue the input's ``warm_configs``, then ask the recommend graph (a subgraph) for the
    family's best configurations and enqueue the top K, all as the first trials with source 'meta'.
    Skipped when there is nothing to enqueue or the study has them."""
    k, given = runtime.context.warm_start, state.get("warm_configs") or []
    run = run_for(state, runtime.context)
    if (k <= 0 and not given) or any(t.user_attrs.get("source") == "meta" for t in run.study.trials):
        return {}
    tried = [t.params for t in run.study.trials]
    added = []
    for config in given:
        if config["params"] not in tried and config["params"] not in added:
            why = str(config.get("reasoning") or "given with the run")[:1000]
            run.study.enqueue_trial(config["params"], user_attrs={"source": "meta", "reasoning": why})
            added.append(config["params"])
    notes = [f"{len(added)} configurations given with the run"] if given else []
    if k <= 0:
        return {"warm_start_notes": notes}
    from tunegraph.graphs.recommend import graph as recommend_graph

    inputs = {key: state[key] for key in ("dataset", "data_path", "target", "task_type") if state.get(key)}
    across = run.bounds.conditional  # the search across families: any of them, as joint configurations
    inputs.update(families=list(run.family.members) if across else [run.family.name], metric=run.metric.name)
    try:
        out = recommend_graph.invoke(inputs, context=replace(runtime.context, n_candidates=max(k, 5)))
    except (MetaDatasetError, MetaLearnerError) as exc:
        return {"warm_start_notes": [*notes, f"no warm start{' from the recommend graph' if notes else ''}: {exc}"]}
    final = out["final"]
    configs = [(join(final["family"], final["params"]) if across else final["params"], final["justification"])]
    configs += [(join(c["family"], c["params"]) if across else c["params"], "; ".join(c["shap"][:3]))
                for c in out["evidence"]["candidates"]]
    n_given = len(added)
    for params, why in configs:
        if len(added) == n_given + k:
            break
        if params not in tried and params not in added:
            run.study.enqueue_trial(params, user_attrs={"source": "meta", "reasoning": why[:1000]})
            added.append(params)
    return {"warm_start_notes": [*notes, f"{len(added) - n_given} configurations from the recommend graph "
                                 f"({final['source']})"], "llm": out.get("llm") or {}}


builder = StateGraph(OptimizeState, input_schema=OptimizeInput, context_schema=Context)
builder.add_node("initialize", initialize)
builder.add_node("choose_proposer", choose_proposer)
builder.add_node("llm_propose", llm_propose)
builder.add_node("sample_propose", sample_propose)
builder.add_node("evaluate", evaluate)
builder.add_node("summarize", summarize)
builder.add_node("warm_start", warm_start)
builder.add_node("remember", remember)
builder.add_edge(START, "initialize")
builder.add_edge("initialize", "warm_start")
builder.add_edge("warm_start", "summarize")  # a resumed study may already be at its budget
builder.add_conditional_edges("choose_proposer", route_proposal, ["llm_propose", "sample_propose", "evaluate"])
builder.add_edge("llm_propose", "evaluate")
builder.add_edge("sample_propose", "evaluate")
builder.add_edge("evaluate", "summarize")
builder.add_conditional_edges("summarize", route_after_summary, ["choose_proposer", "remember"])
builder.add_edge("remember", END)

graph = builder.compile(name="optimize")
