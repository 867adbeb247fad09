"""Asking the LLM for a JSON answer with bounded retries; every outcome is counted."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from pydantic import ValidationError

from tools.answers import AnswerError, parse_json_object
from tools.llm import LLMClient, LLMError
from tools.search_space import SearchSpaceError

T = TypeVar("T")

SYSTEM = "You are a careful machine-learning engineer. Reply with one JSON object and nothing else."


def new_counts() -> dict[str, float]:
    return {"calls": 0, "invalid": 0, "errors": 0, "fallbacks": 0, "latency_s": 0.0, "tokens": 0}


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
            _add_cost(llm, counts)
            return None, str(exc)
        _add_cost(llm, counts)
        try:
            return accept(parse_json_object(text)), ""
        except (AnswerError, SearchSpaceError, ValidationError, TypeError, ValueError) as exc:
            counts["invalid"] += 1
            why = _short(exc)
            prompt = f"{prompt}\nYour previous answer was rejected: {why}. Answer again with valid JSON."
    return None, why


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
