"""Memory agent: a finished optimization's trials join the user's meta-dataset layer,
so the next recommendation for a similar task learns from this run."""

from __future__ import annotations

import warnings
from typing import Any

from langgraph.runtime import Runtime

from tunegraph.context import Context
from tunegraph.state import OptimizeState
from tunegraph.tools.meta import metadataset
from tunegraph.tools.trials.runs import run_for


def remember(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: append the study's completed trials to ``$TUNEGRAPH_HOME/metadataset.parquet``."""
    ctx = runtime.context
    if not ctx.learn:
        return {"learned": 0}
    run = run_for(state, ctx)
    try:
        records = metadataset.records_from_study(run.study)
        metadataset.append(metadataset.user_path(), records)
    except (metadataset.MetaDatasetError, OSError) as exc:  # learning is a bonus: never fail the run for it
        warnings.warn(f"could not add the study to the meta-dataset: {exc}", stacklevel=1)
        return {"learned": 0}
    return {"learned": len(records)}
