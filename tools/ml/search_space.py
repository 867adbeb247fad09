"""Typed hyperparameter search spaces: JSON round-trip, validation, clipping, Optuna conversion.

Example:
    >>> space = SearchSpace.from_dict({"max_depth": {"type": "int", "low": 2, "high": 10}})
    >>> space.clip({"max_depth": 40})
    ({'max_depth': 10}, ['max_depth: 40 clipped to 10'])
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

import optuna
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from tunegraph.errors import InputError

FAMILY_PARAM = "family"  # a space with it and "<family>.<name>" parameters is conditional (tools/ml/cash.py)


class SearchSpaceError(InputError):
    """A search space or a configuration does not fit the expected shape."""


class FloatParam(BaseModel):
    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        _check_range(self.low, self.high, self.log)
        return self


class IntParam(BaseModel):
    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        _check_range(self.low, self.high, self.log)
        return self


class CategoricalParam(BaseModel):
    type: Literal["categorical"] = "categorical"
    choices: list[str | int | float | bool | None] = Field(min_length=1)


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]
_PARAM = TypeAdapter(Param)


def _check_range(low: float, high: float, log: bool) -> None:
    try:
        finite = math.isfinite(low) and math.isfinite(high)
    except OverflowError:  # an int bound beyond float range
        finite = False
    if not finite:
        raise SearchSpaceError(f"bounds must be finite, got low={low}, high={high}")
    if low > high:
        raise SearchSpaceError(f"low ({low}) must not exceed high ({high})")
    if log and low <= 0:
        raise SearchSpaceError(f"a log-scaled range needs low > 0, got low={low}")


class SearchSpace:
    """An ordered mapping of hyperparameter name -> FloatParam | IntParam | CategoricalParam."""

    def __init__(self, params: dict[str, FloatParam | IntParam | CategoricalParam]):
        if not params:
            raise SearchSpaceError("a search space needs at least one hyperparameter")
        self.params = dict(params)

    # --- construction and serialization -------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> SearchSpace:
        """Build from ``{"name": {"type": "float", "low": .., "high": .., "log": ..}, ...}``."""
        if not isinstance(data, dict):
            raise SearchSpaceError(f"a search space must be a JSON object, got {type(data).__name__}")
        params = {}
        for name, spec in data.items():
            if not isinstance(name, str) or not name:
                raise SearchSpaceError(f"hyperparameter names must be non-empty strings, got {name!r}")
            try:
                params[name] = _PARAM.validate_python(spec)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise SearchSpaceError(f"hyperparameter '{name}': {first['msg']}") from None
        return cls(params)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
            raise SearchSpaceError(f"search space is not valid JSON: {exc}") from None
        except RecursionError:  # '[[[[...' nested deeper than the decoder's stack
            raise SearchSpaceError("search space is not valid JSON: nested too deeply") from None
        return cls.from_dict(data)

    @classmethod
    def from_optuna(cls, distributions: dict[str, optuna.distributions.BaseDistribution]) -> SearchSpace:
        params: dict[str, FloatParam | IntParam | CategoricalParam] = {}
        for name, d in distributions.items():
            if isinstance(d, optuna.distributions.FloatDistribution):
                params[name] = FloatParam(low=d.low, high=d.high, log=d.log)
            elif isinstance(d, optuna.distributions.IntDistribution):
                params[name] = IntParam(low=d.low, high=d.high, log=d.log)
            elif isinstance(d, optuna.distributions.CategoricalDistribution):
                params[name] = CategoricalParam(choices=list(d.choices))
            else:
                raise SearchSpaceError(f"{name}: unsupported distribution {type(d).__name__}")
        return cls(params)

    def to_dict(self) -> dict[str, dict]:
        return {name: p.model_dump() for name, p in self.params.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"

    def names(self) -> list[str]:
        return list(self.params)

    @property
    def conditional(self) -> bool:
        """True for a space across families: ``<family>.<name>`` parameters count only for their family."""
        return FAMILY_PARAM in self.params and any("." in name for name in self.params)

    def active_names(self, config: dict[str, Any]) -> list[str]:
        """The parameters a configuration must have: all, or ``family`` and its family's in a conditional space."""
        if not self.conditional:
            return self.names()
        prefix = f"{config.get(FAMILY_PARAM)}."
        return [FAMILY_PARAM, *(n for n in self.params if n.startswith(prefix))]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Sample a configuration define-by-run: ``family`` first in a conditional space, then its parameters."""
        config: dict[str, Any] = {}
        if self.conditional:
            config[FAMILY_PARAM] = _suggest_one(trial, FAMILY_PARAM, self.params[FAMILY_PARAM])
        for name in self.active_names(config):
            if name not in config:
                config[name] = _suggest_one(trial, name, self.params[name])
        return config

    # --- configurations -------------------------------------------------------------------
    def clip(self, config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Coerce a configuration into the space.

        Numbers are cast and clipped into range; unknown keys are dropped; missing keys are
        an error. Returns the clean configuration and a note per change.
        Raises SearchSpaceError for values that cannot be coerced (a string for a float,
        a choice that is not offered).
        """
        if not isinstance(config, dict):
            raise SearchSpaceError(f"a configuration must be an object, got {type(config).__name__}")
        notes: list[str] = []
        clean: dict[str, Any] = {}
        if self.conditional and FAMILY_PARAM in config:  # the family decides which parameters count
            config = {**config, FAMILY_PARAM: _coerce(FAMILY_PARAM, self.params[FAMILY_PARAM], config[FAMILY_PARAM],
                                                      notes)}
        active = self.active_names(config)
        for key in config:
            if key not in active:
                notes.append(f"{key}: not in the search space, dropped")
        missing = [n for n in active if n not in config]
        if missing:
            raise SearchSpaceError(f"configuration lacks {', '.join(missing)}")
        for name in active:
            clean[name] = _coerce(name, self.params[name], config[name], notes)
        return clean, notes

    def contains(self, config: dict[str, Any]) -> bool:
        """True when every parameter of the space is in ``config`` with a value inside its range."""
        try:
            clean, _ = self.clip(config)
        except SearchSpaceError:
            return False
        return all(clean[name] == config[name] for name in self.active_names(config))

    def to_optuna(self) -> dict[str, optuna.distributions.BaseDistribution]:
        out: dict[str, optuna.distributions.BaseDistribution] = {}
        for name, p in self.params.items():
            if isinstance(p, FloatParam):
                out[name] = optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
            elif isinstance(p, IntParam):
                out[name] = optuna.distributions.IntDistribution(p.low, p.high, log=p.log)
            else:
                out[name] = optuna.distributions.CategoricalDistribution(p.choices)
        return out

    def merge_within(self, bounds: SearchSpace) -> tuple[SearchSpace, list[str]]:
        """Return this space with every numeric range clipped into ``bounds`` (the hard limits).

        Used when an LLM narrows or widens the space: it may move inside the family's
        limits, never outside them. Parameters unknown to ``bounds`` are dropped,
        parameters it has but this space lacks are taken from ``bounds``.
        """
        notes: list[str] = []
        params: dict[str, FloatParam | IntParam | CategoricalParam] = {}
        for name, hard in bounds.params.items():
            mine = self.params.get(name)
            if mine is None or mine.type != hard.type:
                params[name] = hard
                if mine is not None:
                    notes.append(f"{name}: type {mine.type} does not match {hard.type}, kept the default range")
                continue
            if isinstance(hard, CategoricalParam):
                keep = [c for c in mine.choices if c in hard.choices]
                params[name] = CategoricalParam(choices=keep) if keep else hard
                continue
            low = min(max(mine.low, hard.low), hard.high)
            high = max(min(mine.high, hard.high), hard.low)
            if low > high:
                low, high = high, low
            if (low, high) != (mine.low, mine.high):
                notes.append(f"{name}: range [{mine.low}, {mine.high}] limited to [{low}, {high}]")
            params[name] = type(hard)(low=low, high=high, log=hard.log)
        return SearchSpace(params), notes


def _suggest_one(trial: optuna.Trial, name: str, p: FloatParam | IntParam | CategoricalParam) -> Any:
    if isinstance(p, FloatParam):
        return trial.suggest_float(name, p.low, p.high, log=p.log)
    if isinstance(p, IntParam):
        return trial.suggest_int(name, p.low, p.high, log=p.log)
    return trial.suggest_categorical(name, p.choices)


def _coerce(name: str, param: FloatParam | IntParam | CategoricalParam, value: Any, notes: list[str]) -> Any:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # np.int64(3) -> 3: matched and shown plainly
        value = value.item()
    if isinstance(param, CategoricalParam):
        for choice in param.choices:  # exact match; type-checked because True == 1 in Python
            if type(choice) is type(value) and choice == value:
                return choice
        # LLMs often answer "true", "None", "10" or 64.0 for 64: match on the number or the text form.
        if isinstance(value, float) and value.is_integer() and int(value) in param.choices:
            match = [c for c in param.choices if type(c) is int and c == int(value)]
            if match:
                notes.append(f"{name}: {value!r} read as {match[0]!r}")
                return match[0]
        text = str(value).strip().lower()
        for choice in param.choices:
            if str(choice).lower() == text:
                notes.append(f"{name}: {value!r} read as {choice!r}")
                return choice
        raise SearchSpaceError(f"{name}: {value!r} is not one of {param.choices}")
    if isinstance(value, bool) or value is None:
        raise SearchSpaceError(f"{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise SearchSpaceError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise SearchSpaceError(f"{name}: expected a finite number, got {value!r}")
    clipped = min(max(number, param.low), param.high)
    if clipped != number:
        notes.append(f"{name}: {value} clipped to {clipped:g}")
    if isinstance(param, IntParam):
        as_int = int(round(clipped))
        if as_int != clipped:
            notes.append(f"{name}: {clipped} rounded to {as_int}")
        return as_int
    return float(clipped)
