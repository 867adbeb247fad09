"""One search space across model families (CASH): the family first, then that family's hyperparameters.

The space is flat for storage, prompts and clipping (``family`` plus ``<family>.<name>`` for every
family's parameters) and conditional when sampled: :meth:`SearchSpace.suggest` asks for ``family``
first and then only that family's parameters (define-by-run), so Optuna's TPE models each family's
parameters on the trials that used it (``multivariate=True, group=True``).

Example:
    >>> space = cash_space("classification", ["knn", "xgboost"])
    >>> split({"family": "knn", "knn.n_neighbors": 7, "knn.weights": "distance", "knn.p": 2})
    ('knn', {'n_neighbors': 7, 'weights': 'distance', 'p': 2})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunegraph.tools.ml.models import ModelFamily, get_family
from tunegraph.tools.ml.search_space import FAMILY_PARAM, SearchSpace
from tunegraph.tools.ml.tasks import Task, TaskError

AUTO = "auto"  # the model name that asks for the search across families
# the families of the configuration matrix: fast enough for a small budget, and what the portfolio knows
CASH_FAMILIES = {
    "classification": ("lightgbm", "xgboost", "hist_gradient_boosting", "random_forest", "extra_trees",
                       "logistic_regression", "knn"),
    "regression": ("lightgbm", "xgboost", "hist_gradient_boosting", "random_forest", "extra_trees", "ridge", "knn"),
}


def cash_families(task_type: str, families: list[str] | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The families searched for ``task_type``: ``families`` (checked), else the default list."""
    if not families:
        return CASH_FAMILIES[task_type]
    for name in families:
        get_family(name, task_type)  # an unknown family or one that cannot do the task: a clear TaskError
    return tuple(dict.fromkeys(families))


def cash_space(task_type: str, families: list[str] | tuple[str, ...] | None = None) -> SearchSpace:
    """``family`` (categorical) and each family's parameters under ``<family>.<name>``."""
    names = cash_families(task_type, families)
    data: dict[str, Any] = {FAMILY_PARAM: {"type": "categorical", "choices": list(names)}}
    for name in names:
        for param, spec in get_family(name).search_space(task_type).to_dict().items():
            data[f"{name}.{param}"] = spec
    return SearchSpace.from_dict(data)


def split(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(family, its own parameters)`` of a configuration of the joint space."""
    family = config.get(FAMILY_PARAM)
    if not isinstance(family, str):
        raise TaskError(f"a configuration of the search across families needs '{FAMILY_PARAM}', got {config!r}")
    prefix = f"{family}."
    return family, {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}


def join(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """The joint space's configuration of ``family`` with ``params``."""
    return {FAMILY_PARAM: family, **{f"{family}.{k}": v for k, v in params.items()}}


def family_subspace(space: SearchSpace, family: str) -> SearchSpace:
    """The joint space narrowed to one family (``family`` fixed to it), e.g. for an LLM's prompt."""
    prefix = f"{family}."
    data = {name: spec for name, spec in space.to_dict().items() if name.startswith(prefix)}
    return SearchSpace.from_dict({FAMILY_PARAM: {"type": "categorical", "choices": [family]}, **data})


def best_per_family(trials: list[Any], direction: str) -> dict[str, tuple[int, float]]:
    """family -> (trial number, value) of each family's best completed trial (Optuna FrozenTrials)."""
    best: dict[str, tuple[int, float]] = {}
    sign = 1.0 if direction == "maximize" else -1.0
    for t in trials:
        if t.value is None or FAMILY_PARAM not in t.params:
            continue
        family = t.params[FAMILY_PARAM]
        if family not in best or sign * t.value > sign * best[family][1]:
            best[family] = (t.number, float(t.value))
    return best


@dataclass(frozen=True)
class CashFamily(ModelFamily):
    """The pseudo-family ``auto``: builds, and gives defaults for, the family a configuration names."""

    members: tuple[str, ...] = ()

    def search_space(self, task_type: str) -> SearchSpace:
        return cash_space(task_type, self.members)

    def default_config(self, task: Task) -> dict[str, Any]:
        return join(self.members[0], get_family(self.members[0]).default_config(task))

    def default_config_for(self, task_type: str, n_encoded_features: int) -> dict[str, Any]:
        return join(self.members[0], get_family(self.members[0]).default_config_for(task_type, n_encoded_features))

    def build(self, config: dict[str, Any], task: Task, seed: int = 0, needs_proba: bool = False):
        family, params = split(config)
        if family not in self.members:
            raise TaskError(f"family '{family}' is not one of the searched families: {', '.join(self.members)}")
        return get_family(family, task.task_type).build(params, task, seed, needs_proba)


def cash_family(task_type: str, families: list[str] | tuple[str, ...] | None = None) -> CashFamily:
    names = cash_families(task_type, families)
    return CashFamily(AUTO, (task_type,), False, _unused, _unused, _unused,
                      f"one of several model families, chosen with its hyperparameters ({', '.join(names)})",
                      members=names)


def _unused(*_: Any) -> Any:
    raise AssertionError("CashFamily overrides the methods that use this")
