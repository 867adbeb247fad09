"""Warm start: the first trials of a run from configurations given with it (``warm_configs``) and
from the recommend graph's top K (``Context.warm_start``), all enqueued with source 'meta'.

The recommend graph reaches this node as an argument (graphs/optimize.py wires it in): agents
import no graph.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from tunegraph.context import Context
from tunegraph.state import OptimizeState
from tunegraph.tools.meta.metadataset import MetaDatasetError
from tunegraph.tools.meta.metalearner import MetaLearnerError
from tunegraph.tools.ml.cash import join
from tunegraph.tools.ml.search_space import SearchSpace, SearchSpaceError
from tunegraph.tools.trials.runs import run_for


def tried_configs(study) -> list[dict[str, Any]]:
    """Every configuration the study has run or queued. A queued trial (WAITING) has no ``params`` yet:
    enqueue_trial keeps them in its ``fixed_params`` system attribute until the trial is asked."""
    return [t.params or dict(t.system_attrs.get("fixed_params") or {}) for t in study.get_trials(deepcopy=False)]


def config_key(space: SearchSpace, params: dict[str, Any]) -> str:
    """A configuration as the study would run it: clipped into the space, numbers rounded (so 0.1 and
    0.1000000001, or 3 and 3.0, are one configuration)."""
    try:
        params, _ = space.clip(params)
    except SearchSpaceError:
        pass
    return json.dumps({k: float(f"{v:.10g}") if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                       for k, v in params.items()}, sort_keys=True, default=str)


def warm_start(state: OptimizeState, runtime: Runtime[Context], recommend_graph: Any) -> dict[str, Any]:
    """Enqueue the input's ``warm_configs``, then ask the recommend graph (a subgraph) for the
    family's best configurations and enqueue the top K, all as the first trials with source 'meta'.
    Skipped when there is nothing to enqueue or the study has them."""
    k, given = runtime.context.warm_start, state.get("warm_configs") or []
    run = run_for(state, runtime.context)
    if (k <= 0 and not given) or any(t.user_attrs.get("source") == "meta" for t in run.study.trials):
        return {}
    seen = {config_key(run.bounds, p) for p in tried_configs(run.study)}
    added: list[dict[str, Any]] = []
    repeats = 0

    def enqueue(params: dict[str, Any], why: str) -> None:
        nonlocal repeats
        key = config_key(run.bounds, params)
        if key in seen:  # already tried or queued (a portfolio member, say): take the next candidate
            repeats += 1
            return
        seen.add(key)
        run.study.enqueue_trial(params, user_attrs={"source": "meta", "reasoning": why[:1000]})
        added.append(params)

    for config in given:
        enqueue(config["params"], str(config.get("reasoning") or "given with the run"))
    notes = [f"{len(added)} configurations given with the run"] if given else []
    if k <= 0:
        return {"warm_start_notes": notes}
    inputs: dict[str, Any] = {key: state[key] for key in ("dataset", "data_path", "target", "task_type")
                              if state.get(key)}
    across = run.bounds.conditional  # the search across families: any of them, as joint configurations
    members = list(getattr(run.family, "members", ())) or [run.family.name]  # CashFamily's, else the one family
    inputs.update(families=members if across else [run.family.name], metric=run.metric.name)
    try:
        out = recommend_graph.invoke(inputs, context=replace(runtime.context, n_candidates=max(k, 5)))
    except (MetaDatasetError, MetaLearnerError) as exc:
        return {"warm_start_notes": [*notes, f"no warm start{' from the recommend graph' if notes else ''}: {exc}"]}
    final = out["final"]
    configs = [(join(final["family"], final["params"]) if across else final["params"], final["justification"])]
    configs += [(join(c["family"], c["params"]) if across else c["params"], "; ".join(c["shap"][:3]))
                for c in out["evidence"]["candidates"]]
    n_given = len(added)
    for params, why in configs:
        if len(added) == n_given + k:
            break
        enqueue(params, why)
    skipped = [f"skipped {repeats} configuration(s) already in the study"] if repeats else []
    return {"warm_start_notes": [*notes, f"{len(added) - n_given} configurations from the recommend graph "
                                 f"({final['source']})", *skipped], "llm": out.get("llm") or {}}
