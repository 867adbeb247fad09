"""Memory agent: a finished optimization's trials join the user's meta-dataset layer,
so the next recommendation for a similar task learns from this run."""

from __future__ import annotations

import warnings
from typing import Any

from tunegraph.tools.meta import metadataset
from tunegraph.tools.trials.runs import open_run


def remember(state: dict[str, Any], runtime) -> dict[str, Any]:
    """Graph node: append the study's completed trials to ``$TUNEGRAPH_HOME/metadataset.parquet``."""
    ctx = runtime.context
    if not ctx.learn:
        return {"learned": 0}
    run = open_run(state, storage=ctx.storage)
    try:
        records = metadataset.records_from_study(run.study)
        metadataset.append(metadataset.user_path(), records)
    except (metadataset.MetaDatasetError, OSError) as exc:  # learning is a bonus: never fail the run for it
        warnings.warn(f"could not add the study to the meta-dataset: {exc}", stacklevel=1)
        return {"learned": 0}
    return {"learned": len(records)}
