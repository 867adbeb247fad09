"""Memory agent: a finished optimization's trials join the user's meta-dataset layer, so the next
recommendation for a similar task learns from this run. A run with fewer completed trials than
``Context.learn_min_trials`` (10) does not, unless asked (``--learn``): a quick try would sway the
recommendations as much as a real study. ``tunegraph metadata remove STUDY`` takes a run back out."""

from __future__ import annotations

import warnings
from typing import Any

from langgraph.runtime import Runtime
from optuna.trial import TrialState

from tunegraph.context import Context
from tunegraph.state import OptimizeState
from tunegraph.tools.meta import metadataset, user_layer
from tunegraph.tools.trials.runs import run_for


def remember(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: append the study's completed trials to ``$TUNEGRAPH_HOME/metadataset.parquet``."""
    ctx = runtime.context
    if not ctx.learn:
        return {"learned": 0, "learn_note": "not added to your meta-dataset layer (--no-learn)"}
    run = run_for(state, ctx)
    done = len(run.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if done < ctx.learn_min_trials:  # a quick try says little about the task, and would still sway the next pick
        return {"learned": 0, "learn_note": f"not added to your meta-dataset layer: {done} completed trials, fewer "
                f"than {ctx.learn_min_trials} (--learn adds any run)"}
    try:
        records = metadataset.records_from_study(run.study)
        user_layer.add_study(run.study.study_name, records)
    except (metadataset.MetaDatasetError, OSError) as exc:  # learning is a bonus: never fail the run for it
        warnings.warn(f"could not add the study to the meta-dataset: {exc}", stacklevel=1)
        return {"learned": 0, "learn_note": f"not added to your meta-dataset layer: {exc}"}
    return {"learned": len(records), "learn_note": f"{len(records)} experiments added to your meta-dataset layer "
            f"(tunegraph metadata remove {run.study.study_name} takes them out)"}
