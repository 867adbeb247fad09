"""The optimize graph (SLLMBO): initialize -> choose_proposer -> (llm_propose | sample_propose)
-> evaluate -> summarize -> stop or loop.

Trials live in an Optuna study; the graph state only points at them, so a run checkpointed
with SQLite resumes by its thread id (the study name) without losing a finished trial.

Example (scripted):
    >>> from graphs.context import Context
    >>> from graphs.optimize import builder
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> graph = builder.compile(checkpointer=InMemorySaver())
    >>> final = graph.invoke({"dataset": "iris", "model": "knn", "study_name": "iris-knn"},
    ...                      {"configurable": {"thread_id": "iris-knn"}},
    ...                      context=Context(llm="none", trials=5))          # doctest: +SKIP
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph

from agents.evaluator import evaluate
from agents.initializer import initialize
from agents.optimizer import choose_proposer, llm_propose, sample_propose
from agents.summarizer import summarize
from graphs.context import Context
from graphs.state import OptimizeInput, OptimizeState


def route_proposal(state: OptimizeState) -> str:
    return {"llm": "llm_propose", "pending": "evaluate"}.get(state.get("next_source", ""), "sample_propose")


def route_after_summary(state: OptimizeState) -> str:
    return END if state.get("stop_reason") else "choose_proposer"


builder = StateGraph(OptimizeState, input_schema=OptimizeInput, context_schema=Context)
builder.add_node("initialize", initialize)
builder.add_node("choose_proposer", choose_proposer)
builder.add_node("llm_propose", llm_propose)
builder.add_node("sample_propose", sample_propose)
builder.add_node("evaluate", evaluate)
builder.add_node("summarize", summarize)
builder.add_edge(START, "initialize")
builder.add_edge("initialize", "summarize")  # a resumed study may already be at its budget
builder.add_conditional_edges("choose_proposer", route_proposal, ["llm_propose", "sample_propose", "evaluate"])
builder.add_edge("llm_propose", "evaluate")
builder.add_edge("sample_propose", "evaluate")
builder.add_edge("evaluate", "summarize")
builder.add_conditional_edges("summarize", route_after_summary, ["choose_proposer", END])

graph = builder.compile(name="optimize")
