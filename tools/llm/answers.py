"""Parsing untrusted LLM answers: JSON extraction, light repair, schemas for configurations.

Example:
    >>> parse_json_object('Sure! {"config": {"max_depth": 4}, "reasoning": "shallow')
    {'config': {'max_depth': 4}, 'reasoning': 'shallow'}
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, Field

from tunegraph.errors import InputError
from tunegraph.tools.ml.search_space import CategoricalParam, IntParam, SearchSpace


class AnswerError(InputError):
    """An LLM answer that cannot be used; the message is fed back to the LLM on retry."""


class InitializerAnswer(BaseModel):
    configs: list[dict[str, Any]] = Field(min_length=1)
    reasoning: str = ""


class OptimizerAnswer(BaseModel):
    config: dict[str, Any]
    ranges: dict[str, list[float]] | None = None
    reasoning: str = ""


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``; a reply cut off by the token limit is closed first."""
    if not isinstance(text, str):
        raise AnswerError(f"expected text, got {type(text).__name__}")
    starts = [m.start() for m in re.finditer(r"\{", text)]
    if not starts:
        raise AnswerError("the answer contains no JSON object")
    decoder = json.JSONDecoder()
    first_error: AnswerError | None = None
    for start in starts[:20]:  # prose may hold braces first: "keep {max_depth} small: {...}"
        try:
            value, _ = decoder.raw_decode(text[start:])
        except (json.JSONDecodeError, RecursionError, ValueError):
            try:  # a reply cut off by the token limit: close what is open
                value = _close_truncated(text[start:])
            except AnswerError as exc:
                first_error = first_error or exc
                continue
        if isinstance(value, dict):
            return value
    raise first_error or AnswerError("the answer's JSON is not an object")


def _close_truncated(text: str) -> Any:
    """Close open strings, arrays and objects of a reply that stopped mid-way."""
    stack, in_string, escaped = [], False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    repaired = text + ('"' if in_string else "")
    repaired = re.sub(r",\s*$", "", repaired)  # a dangling comma before the closers
    repaired += "".join(reversed(stack))
    try:
        return json.loads(repaired)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"the answer is not valid JSON ({exc.msg})") from None
    except (RecursionError, ValueError) as exc:  # absurd nesting, a number of 5000 digits
        raise AnswerError(f"the answer is not usable JSON ({type(exc).__name__})") from None


def config_schema(space: SearchSpace) -> dict[str, Any]:
    """JSON schema of one configuration: every parameter required, with its type.

    Bounds are given as minimum/maximum for the model's benefit; grammar-constrained
    decoders do not enforce them, so answers are still clipped afterwards.
    """
    properties: dict[str, Any] = {}
    for name, param in space.params.items():
        if isinstance(param, CategoricalParam):
            properties[name] = {"enum": list(param.choices)}
        else:
            properties[name] = {"type": "integer" if isinstance(param, IntParam) else "number",
                                "minimum": param.low, "maximum": param.high}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def initializer_schema(space: SearchSpace, n_configs: int) -> dict[str, Any]:
    return {"type": "object",
            "properties": {"configs": {"type": "array", "items": config_schema(space), "minItems": 1,
                                       "maxItems": max(1, n_configs)},
                           "reasoning": {"type": "string", "maxLength": 300}},
            "required": ["configs", "reasoning"]}


def optimizer_schema(space: SearchSpace) -> dict[str, Any]:
    numeric = [n for n, p in space.params.items() if not isinstance(p, CategoricalParam)]
    pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    return {"type": "object",
            "properties": {"config": config_schema(space),
                           "reasoning": {"type": "string", "maxLength": 300},
                           "ranges": {"type": "object", "properties": {n: pair for n in numeric},
                                      "additionalProperties": False}},
            "required": ["config", "reasoning"]}


def describe_space(space: SearchSpace) -> str:
    lines = []
    for name, p in space.params.items():
        if isinstance(p, CategoricalParam):
            lines.append(f"- {name}: one of {json.dumps(p.choices)}")
        else:
            kind = "int" if isinstance(p, IntParam) else "float"
            lines.append(f"- {name}: {kind} [{format_value(p.low)}, {format_value(p.high)}]"
                         + (" log scale" if p.log else ""))
    return "\n".join(lines)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value)


def format_config(config: dict[str, Any]) -> str:
    return "{" + ", ".join(f'"{k}": {format_value(v)}' for k, v in config.items()) + "}"


def shown_number(number: int | None) -> int | None:
    """The trial number a user reads: Optuna's ``trial.number`` counts from 0, people (and the
    streamed ``trial 6/8`` lines) from 1. Internal records keep Optuna's number.

    Example:
        >>> shown_number(5)
        6
    """
    return None if number is None else int(number) + 1


def duration(seconds: float) -> str:
    """A duration as people read it: ``42 s``, ``7 min`` or ``2.5 h``."""
    return f"{seconds:.0f} s" if seconds < 120 else (f"{seconds / 60:.0f} min" if seconds < 7200
                                                      else f"{seconds / 3600:.1f} h")
