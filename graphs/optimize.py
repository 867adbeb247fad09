"""The optimize graph (SLLMBO): initialize -> warm_start -> choose_proposer -> (llm_propose |
sample_propose) -> evaluate -> summarize -> loop, or remember (learn from the run) -> save_model
(refit the winner on all rows and save it) and stop.

Trials live in an Optuna study; the graph state only points at them, so a run checkpointed
with SQLite resumes by its thread id (the study name) without losing a finished trial.

Example (scripted):
    >>> from tunegraph.context import Context
    >>> from tunegraph.graphs.optimize import builder
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> graph = builder.compile(checkpointer=InMemorySaver())
    >>> final = graph.invoke({"dataset": "iris", "model": "knn", "study_name": "iris-knn"},
    ...                      {"configurable": {"thread_id": "iris-knn"}},
    ...                      context=Context(llm="none", trials=5))          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from tunegraph.agents import warm_start as warm
from tunegraph.agents.evaluator import evaluate
from tunegraph.agents.initializer import initialize
from tunegraph.agents.memory import remember
from tunegraph.agents.modeler import save_model
from tunegraph.agents.optimizer import choose_proposer, llm_propose, sample_propose
from tunegraph.agents.summarizer import summarize
from tunegraph.context import Context
from tunegraph.graphs.recommend import graph as recommend_graph
from tunegraph.state import OptimizeInput, OptimizeState


def route_proposal(state: OptimizeState) -> str:
    return {"llm": "llm_propose", "pending": "evaluate"}.get(state.get("next_source", ""), "sample_propose")


def route_after_summary(state: OptimizeState) -> str:
    return "remember" if state.get("stop_reason") else "choose_proposer"


def warm_start(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The warm-start agent's node, asking the recommend graph (a subgraph) for configurations."""
    return warm.warm_start(state, runtime, recommend_graph)


builder = StateGraph(OptimizeState, input_schema=OptimizeInput, context_schema=Context)
builder.add_node("initialize", initialize)
builder.add_node("choose_proposer", choose_proposer)
builder.add_node("llm_propose", llm_propose)
builder.add_node("sample_propose", sample_propose)
builder.add_node("evaluate", evaluate)
builder.add_node("summarize", summarize)
builder.add_node("warm_start", warm_start)
builder.add_node("remember", remember)
builder.add_node("save_model", save_model)
builder.add_edge(START, "initialize")
builder.add_edge("initialize", "warm_start")
builder.add_edge("warm_start", "summarize")  # a resumed study may already be at its budget
builder.add_conditional_edges("choose_proposer", route_proposal, ["llm_propose", "sample_propose", "evaluate"])
builder.add_edge("llm_propose", "evaluate")
builder.add_edge("sample_propose", "evaluate")
builder.add_edge("evaluate", "summarize")
builder.add_conditional_edges("summarize", route_after_summary, ["choose_proposer", "remember"])
builder.add_edge("remember", "save_model")
builder.add_edge("save_model", END)

graph = builder.compile(name="optimize")
