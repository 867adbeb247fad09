"""Warm start: the first trials of a run from configurations given with it (``warm_configs``) and
from the recommend graph's top K (``Context.warm_start``), all enqueued with source 'meta'.

The recommend graph reaches this node as an argument (graphs/optimize.py wires it in): agents
import no graph.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime

from tunegraph.context import Context
from tunegraph.state import OptimizeState
from tunegraph.tools.meta.metadataset import MetaDatasetError
from tunegraph.tools.meta.metalearner import MetaLearnerError
from tunegraph.tools.ml.cash import join
from tunegraph.tools.trials.runs import run_for


def warm_start(state: OptimizeState, runtime: Runtime[Context], recommend_graph: Any) -> dict[str, Any]:
    """Enqueue the input's ``warm_configs``, then ask the recommend graph (a subgraph) for the
    family's best configurations and enqueue the top K, all as the first trials with source 'meta'.
    Skipped when there is nothing to enqueue or the study has them."""
    k, given = runtime.context.warm_start, state.get("warm_configs") or []
    run = run_for(state, runtime.context)
    if (k <= 0 and not given) or any(t.user_attrs.get("source") == "meta" for t in run.study.trials):
        return {}
    tried = [t.params for t in run.study.trials]
    added = []
    for config in given:
        if config["params"] not in tried and config["params"] not in added:
            why = str(config.get("reasoning") or "given with the run")[:1000]
            run.study.enqueue_trial(config["params"], user_attrs={"source": "meta", "reasoning": why})
            added.append(config["params"])
    notes = [f"{len(added)} configurations given with the run"] if given else []
    if k <= 0:
        return {"warm_start_notes": notes}
    inputs = {key: state[key] for key in ("dataset", "data_path", "target", "task_type") if state.get(key)}
    across = run.bounds.conditional  # the search across families: any of them, as joint configurations
    inputs.update(families=list(run.family.members) if across else [run.family.name], metric=run.metric.name)
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
        if params not in tried and params not in added:
            run.study.enqueue_trial(params, user_attrs={"source": "meta", "reasoning": why[:1000]})
            added.append(params)
    return {"warm_start_notes": [*notes, f"{len(added) - n_given} configurations from the recommend graph "
                                 f"({final['source']})"], "llm": out.get("llm") or {}}
