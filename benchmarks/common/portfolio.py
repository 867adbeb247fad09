"""The configuration matrix as the portfolio methods read it: a snapshot per start, and the portfolio's
task weighting chosen by an inner leave-one-out without the held-out data set (nothing of it takes
part in the choice)."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def snapshot_matrix(source: Path, folder: Path) -> dict[str, Any] | None:
    """Copy the configuration matrix into ``folder`` (a build may be replacing the original) and
    describe the copy; None, with a warning, where there is no matrix."""
    from tunegraph.tools.meta.config_matrix import load_matrix

    if not source.is_file():
        warnings.warn(f"no configuration matrix at {source}: the portfolio methods start from the "
                      "Initializer's defaults", stacklevel=2)
        return None
    copy = folder / "config_matrix.parquet"
    shutil.copyfile(source, copy)  # the build replaces the file atomically: the copy is one whole version
    frame = load_matrix(copy)
    return {"path": str(copy), "source": str(source), "sha256": hashlib.sha256(copy.read_bytes()).hexdigest(),
            "cells": int(len(frame)), "tasks": int(frame["task"].nunique())}


def matrix_meta_features(matrix, task: str) -> dict[str, float]:
    """The meta-features of ``task`` as the matrix records them."""
    from tunegraph.tools.ml.tasks import META_FEATURE_NAMES

    row = matrix[matrix.task == task].iloc[0]
    return {k: float(row[f"mf_{k}"]) for k in META_FEATURE_NAMES}


def inner_choice(matrix, frame, held_out: str, task_type: str, settings, k: int = 5):
    """(the portfolio setting with the lowest mean best-of-first-``k`` regret over the inner
    leave-one-out on the other data sets of ``task_type``, every setting's score); ``held_out`` takes
    no part: its matrix column, its best configurations and its meta-dataset rows are left out."""
    from tunegraph.tools.meta.portfolio import regret_table, task_portfolio
    from tunegraph.tools.meta.retrieval import TaskIndex

    outer = frame[frame.task != held_out]
    index = TaskIndex.build(outer)
    tasks = sorted(set(matrix.loc[(matrix.task_type == task_type) & (matrix.task != held_out), "task"]))
    table = regret_table(matrix[matrix.task.isin(tasks)])
    mf = {t: matrix_meta_features(matrix, t) for t in tasks}
    scores = {}
    for setting in settings:
        losses = []
        for u in tasks:
            distances = {s.task: s.distance for s in index.similar(mf[u], k=len(index), task_type=task_type, exclude=[u])}
            members = task_portfolio(matrix, task_type, k=k, distances=distances, setting=setting,
                                     exclude_tasks=(held_out, u))
            if members:  # a partial matrix may leave no other task of the type
                losses.append(float(np.nanmin(table.loc[u, [m.config_id for m in members]].to_numpy())))
        scores[setting] = float(np.mean(losses)) if losses else 1.0
    return min(settings, key=lambda s: (scores[s], s.n_neighbors)), scores


def nested_neighbors(matrix: dict[str, Any], metadataset: str | Path, names: list[str],
                     cache: Path) -> dict[str, int]:
    """Per held-out data set, the portfolio's task weighting (``Context.portfolio_neighbors``) that an
    inner leave-one-out on the other data sets picks (``inner_choice``, best of the first 5 members).
    The shipped setting was chosen on all data sets, the held-out one included, so using it here
    would leak. ``matrix``: a snapshot (``snapshot_matrix``); cached in ``cache`` per matrix version
    (37 data sets: about a minute)."""
    from tunegraph.tools.meta import metadataset as meta
    from tunegraph.tools.meta.config_matrix import load_matrix
    from tunegraph.tools.meta.portfolio import SETTINGS

    known = json.loads(cache.read_text()) if cache.is_file() else {}
    chosen = known.get(matrix["sha256"], {})
    missing = [n for n in names if n not in chosen]
    if missing:
        cells = load_matrix(Path(matrix["path"]))
        frame = meta.load(Path(metadataset))
        for name in missing:
            own = cells[cells.task == name]
            if own.empty:  # a data set the matrix lacks: its portfolio is empty anyway
                chosen[name] = -1
                continue
            best, _ = inner_choice(cells, frame, name, own.task_type.iloc[0], SETTINGS)
            chosen[name] = best.n_neighbors
        known[matrix["sha256"]] = chosen
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    return {n: int(chosen[n]) for n in names}
