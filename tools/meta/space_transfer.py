"""Transfer of the search space: the bounding box of past tasks' best configurations (Perrone et
al., NeurIPS 2019), searched by TPE after the portfolio. On by default (``Context.space_box``;
``tunegraph optimize --full-space`` turns it off): in the portfolio benchmark it beat the full space
(benchmarks/results/compare_portfolio.md; benchmarks/space_box.py has the proxy study that made it
worth a run).

Per family, each numeric hyperparameter is narrowed to the range spanned by the best
configuration of that family on every other task of the type in the meta-dataset (its shipped
and user layers), together with the run's own first configurations (the portfolio), so that the
trials already queued stay inside the space TPE models. Categorical parameters, the family
choice among them, keep all their values. A parameter whose values all agree keeps its full
range (a box of width zero would leave TPE nothing to search), and so does a family with fewer
than ``MIN_TASKS`` past tasks.

Example:
    >>> from tunegraph.tools.ml.search_space import SearchSpace
    >>> space = SearchSpace.from_dict({"alpha": {"type": "float", "low": 1e-4, "high": 10.0, "log": True}})
    >>> bounding_box(space, [{"alpha": 0.01}, {"alpha": 0.5}]).to_dict()["alpha"]["high"]
    0.5
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from tunegraph.tools.ml.cash import join
from tunegraph.tools.ml.search_space import CategoricalParam, IntParam, SearchSpace

MIN_TASKS = 3  # fewer past tasks of a family than this: its box would be a guess, keep its space


def bounding_box(space: SearchSpace, configs: list[dict[str, Any]]) -> SearchSpace:
    """``space`` with each numeric parameter narrowed to the range of its values in ``configs``
    (within its own bounds; integers rounded outward); other parameters as they are."""
    data = space.to_dict()
    for name, p in space.params.items():
        if isinstance(p, CategoricalParam):
            continue
        values = [float(c[name]) for c in configs if c.get(name) is not None]
        low, high = max(float(p.low), min(values, default=p.low)), min(float(p.high), max(values, default=p.high))
        if isinstance(p, IntParam):
            low, high = math.floor(low), math.ceil(high)
        if high > low:  # a single value: no box for this parameter
            data[name] = {**data[name], "low": low, "high": high}
    return SearchSpace.from_dict(data)


def past_best_configs(frame: pd.DataFrame, task_type: str, family: str,
                      exclude_tasks: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The best configuration of ``family`` on each task of ``task_type`` in ``frame`` (a meta-dataset)."""
    rows = frame[(frame["task_type"] == task_type) & (frame["family"] == family)
                 & ~frame["task"].isin(exclude_tasks)].dropna(subset=["score_norm"])
    if rows.empty:
        return []
    best = rows.loc[rows.groupby("task")["score_norm"].idxmax()]
    return [json.loads(p) for p in best["params"]]


def transfer_box(space: SearchSpace, frame: pd.DataFrame, task_type: str, families: list[str],
                 first_configs: list[dict[str, Any]], exclude_tasks: tuple[str, ...] = ()
                 ) -> tuple[SearchSpace, list[str]]:
    """``space`` (one family's, or the joint space across ``families``) narrowed to the box of
    past tasks' best configurations and ``first_configs``; with a note per family narrowed."""
    data, notes = space.to_dict(), []
    for family in families:
        past = past_best_configs(frame, task_type, family, exclude_tasks)
        if len(past) < MIN_TASKS:
            continue
        if space.conditional:  # the joint space names a family's parameters "<family>.<name>"
            past = [join(family, c) for c in past]
            own = {n: s for n, s in data.items() if n.startswith(f"{family}.")}
        else:
            own = dict(data)
        narrowed = bounding_box(SearchSpace.from_dict(own), past + first_configs).to_dict()
        data.update(narrowed)
        changed = [n.split(".")[-1] for n in own if narrowed[n] != own[n]]
        if changed:
            notes.append(f"{family}: {', '.join(changed)} narrowed to the best configurations of {len(past)} past tasks")
    return SearchSpace.from_dict(data), notes
