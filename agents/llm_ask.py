"""Asking the LLM for a JSON answer with bounded retries; every outcome is counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from tunegraph.tools.llm.answers import AnswerError, parse_json_object
from tunegraph.tools.llm.client import LLMClient, LLMError
from tunegraph.tools.ml.search_space import SearchSpaceError

T = TypeVar("T")

SYSTEM = "You are a careful machine-learning engineer. Reply with one JSON object and nothing else."


def new_counts() -> dict[str, float]:
    """Counters of one agent's LLM use; the graph state sums them key by key.

    Besides the totals, each fault is counted by kind, under keys added when it first happens:
    ``error_<kind>`` for a call that failed (``timeout``, ``connection``, ``http_error``,
    ``broken_stream``, ``other``; see :func:`tools.llm.client.error_kind`) and ``invalid_<kind>`` for an
    answer that was rejected: ``json`` (no JSON object), ``schema`` (wrong shape or types),
    ``value`` (a value the search space cannot take), ``rejected`` (refused by the agent's own
    checks, e.g. a configuration already tried). ``clipped`` counts answers used after clipping.
    """
    return {"calls": 0, "invalid": 0, "errors": 0, "fallbacks": 0, "latency_s": 0.0, "tokens": 0}


def fault_counts(counts: dict[str, float]) -> dict[str, int]:
    """The per-kind fault counters of ``counts`` that are not zero, e.g. ``{"error_timeout": 3}``."""
    return {key: int(value) for key, value in sorted(counts.items())
            if value and (key.startswith(("error_", "invalid_")) or key == "clipped")}


def count(counts: dict[str, float], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def ask_json(llm: LLMClient, prompt: str, schema: dict[str, Any], accept: Callable[[dict[str, Any]], T],
             retries: int, counts: dict[str, float], max_tokens: int = 256) -> tuple[T | None, str]:
    """Ask up to ``1 + retries`` times; ``accept`` turns the parsed JSON into a result or raises.

    Returns ``(result, "")`` or ``(None, why)``. An unreachable or failing model is not retried
    (the caller falls back at once); an invalid answer is retried with the reason appended.
    """
    why = ""
    for _ in range(1 + max(0, retries)):
        counts["calls"] += 1
        try:
            text = llm.complete_json(SYSTEM, prompt, schema, max_tokens=max_tokens)
        except LLMError as exc:
            counts["errors"] += 1
            count(counts, f"error_{getattr(exc, 'kind', 'other')}")
            _add_cost(llm, counts)
            return None, str(exc)
        _add_cost(llm, counts)
        try:
            data = parse_json_object(text)
        except AnswerError as exc:
            data, why = None, _short(exc)
            count(counts, "invalid_json")
        if data is not None:
            try:
                return accept(data), ""
            except (AnswerError, SearchSpaceError, ValidationError, TypeError, ValueError, ArithmeticError) as exc:
                why = _short(exc)
                count(counts, "invalid_" + _invalid_kind(exc))
        counts["invalid"] += 1
        prompt = f"{prompt}\nYour previous answer was rejected: {why}. Answer again with valid JSON."
    return None, why


def _invalid_kind(exc: Exception) -> str:
    if isinstance(exc, (ValidationError, TypeError)):
        return "schema"
    if isinstance(exc, AnswerError):
        return "rejected"
    return "value"  # SearchSpaceError and other ValueErrors: a value the space cannot take


def _add_cost(llm: LLMClient, counts: dict[str, float]) -> None:
    if llm.calls:
        last = llm.calls[-1]
        counts["latency_s"] += last.latency_s
        counts["tokens"] += last.prompt_tokens + last.completion_tokens


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
    return str(exc)[:200]
