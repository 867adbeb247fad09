"""The chat graph: a conversation over the optimize and recommend graphs.

understand -> (plan -> confirm? -> optimize) | recommend | explain | lookup | status | save | predict | reply

The nodes are the chat agent's (agents/chat.py); this module wires them and hands the optimize
and recommend graphs to the nodes that run them. Work estimated to take longer than
``confirm_above_s`` waits for the user's yes (a LangGraph interrupt).

Example (scripted):
    >>> from langgraph.checkpoint.memory import InMemorySaver
    >>> from langgraph.types import Command
    >>> chat = builder.compile(checkpointer=InMemorySaver())
    >>> cfg = {"configurable": {"thread_id": "demo"}}
    >>> out = chat.invoke({"messages": [("user", "/optimize iris --model knn --trials 40")]}, cfg,
    ...                   context=Context(llm="none"))                            # doctest: +SKIP
    >>> out["__interrupt__"][0].value["question"]                                 # doctest: +SKIP
    >>> chat.invoke(Command(resume="yes"), cfg, context=Context(llm="none"))      # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from tunegraph.agents import chat
from tunegraph.context import Context
from tunegraph.graphs.optimize import builder as optimize_builder
from tunegraph.graphs.recommend import builder as recommend_builder
from tunegraph.state import ChatInput, ChatState


def route_request(state: ChatState) -> str:
    intent = state["request"]["intent"]
    return {"optimize": "plan", "continue": "plan", "recommend": "recommend", "explain": "explain",
            "lookup": "lookup", "status": "status", "save": "save", "predict": "predict"}.get(intent, "reply")


def route_job(state: ChatState, runtime: Runtime[Context]) -> str:
    job = state.get("job")
    if not job:
        return END
    return "confirm" if job["estimate_s"] > runtime.context.confirm_above_s else "optimize"


def route_confirmed(state: ChatState) -> str:
    return "optimize" if state.get("job") else END


def optimize(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The chat's optimize node, running the optimize graph (no nested checkpoints: the study is the record)."""
    return chat.optimize(state, runtime, optimize_builder.compile(checkpointer=False))


def recommend(state: ChatState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The chat's recommend node, running the recommend graph."""
    return chat.recommend(state, runtime, recommend_builder.compile(checkpointer=False))


builder = StateGraph(ChatState, input_schema=ChatInput, context_schema=Context)
builder.add_node("understand", chat.understand)
builder.add_node("plan", chat.plan)
builder.add_node("confirm", chat.confirm)
builder.add_node("optimize", optimize)
builder.add_node("recommend", recommend)
builder.add_node("explain", chat.explain)
builder.add_node("lookup", chat.lookup)
builder.add_node("status", chat.status)
builder.add_node("save", chat.save)
builder.add_node("predict", chat.predict)
builder.add_node("reply", chat.reply)
builder.add_edge(START, "understand")
builder.add_conditional_edges("understand", route_request, ["plan", "recommend", "explain", "lookup", "status", "save",
                                                             "predict", "reply"])
builder.add_conditional_edges("plan", route_job, ["confirm", "optimize", END])
builder.add_conditional_edges("confirm", route_confirmed, ["optimize", END])
for node in ("optimize", "recommend", "explain", "lookup", "status", "save", "predict", "reply"):
    builder.add_edge(node, END)

graph = builder.compile(name="chat")
