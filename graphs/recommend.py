"""The recommend graph (MetaLLMiX): retrieve -> recommend -> judge -> (recommend again | finalize)
-> evaluate (on request).

Zero-shot: no training trial is run unless ``evaluate`` asks to cross-validate the answer.

Example (scripted):
    >>> from tunegraph.context import Context
    >>> from tunegraph.graphs.recommend import graph
    >>> out = graph.invoke({"dataset": "wine"}, context=Context(llm="none"))    # doctest: +SKIP
    >>> out["final"]["family"], out["final"]["params"]                         # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from tunegraph.agents.evaluator import evaluate_recommendation
from tunegraph.agents.judge import best_attempt, judge
from tunegraph.agents.recommender import recommend
from tunegraph.agents.retriever import retrieve
from tunegraph.context import Context
from tunegraph.state import RecommendInput, RecommendState


def finalize(state: RecommendState) -> dict[str, Any]:
    """Keep the best-scored attempt: the judge may have rejected every later one."""
    best = best_attempt(state["attempts"])
    return {"final": {**best["recommendation"], "judgement": best["judgement"], "rounds": len(state["attempts"])}}


def route_after_judge(state: RecommendState, runtime: Runtime[Context]) -> str:
    if state["judgement"]["passed"] or int(state.get("round") or 0) >= runtime.context.max_rounds:
        return "finalize"
    return "recommend"


def route_after_final(state: RecommendState) -> str:
    return "evaluate_recommendation" if state.get("evaluate") else END


builder = StateGraph(RecommendState, input_schema=RecommendInput, context_schema=Context)
builder.add_node("retrieve", retrieve)
builder.add_node("recommend", recommend)
builder.add_node("judge", judge)
builder.add_node("finalize", finalize)
builder.add_node("evaluate_recommendation", evaluate_recommendation)
builder.add_edge(START, "retrieve")
builder.add_edge("retrieve", "recommend")
builder.add_edge("recommend", "judge")
builder.add_conditional_edges("judge", route_after_judge, ["recommend", "finalize"])
builder.add_conditional_edges("finalize", route_after_final, ["evaluate_recommendation", END])
builder.add_edge("evaluate_recommendation", END)

graph = builder.compile(name="recommend")
