"""The one place a run's graph is streamed: the command line, ``tunegraph.optimize`` and the chat
all read a run's progress from :func:`stream_updates`, with the same recursion limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.runnables import RunnableConfig

# LangGraph counts node steps, not trials: about five a trial, so a 20,000-trial study fits
RECURSION_LIMIT = 100_000


def run_config(config: RunnableConfig | None = None) -> RunnableConfig:
    """A graph config with the run's recursion limit (a thread id or other keys kept)."""
    return {"recursion_limit": RECURSION_LIMIT, **(config or {})}


def stream_updates(graph: Any, inputs: Any, context: Any,
                   config: RunnableConfig | None = None) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each node's update as ``(node, update, state so far)``; ``inputs`` None resumes a checkpoint."""
    state: dict[str, Any] = {}
    for update in graph.stream(inputs, run_config(config), context=context, stream_mode="updates"):
        for node, values in update.items():
            values = values if isinstance(values, dict) else {}
            state.update(values)
            yield node, values, state
