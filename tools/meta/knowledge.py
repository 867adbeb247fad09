"""The meta-knowledge a recommendation stands on: meta-dataset, meta-learner and FAISS task index.

Loaded once per process and meta-dataset version; the trained meta-learner and the indexes
are cached in ``$TUNEGRAPH_HOME/cache`` and rebuilt when the meta-dataset changes.

Example:
    >>> kb = open_knowledge()                                  # doctest: +SKIP
    >>> kb.similar_tasks(task.meta_features(), "classification", k=3)   # doctest: +SKIP
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tunegraph.tools.meta import metadataset
from tunegraph.tools.meta.metalearner import MetaLearner, fingerprint
from tunegraph.tools.meta.retrieval import ExperimentTextIndex, RetrievalError, TaskIndex, open_indexes


@dataclass
class Knowledge:
    frame: pd.DataFrame
    learner: MetaLearner
    task_index: TaskIndex

    def similar_tasks(self, meta_features: dict[str, float], task_type: str, k: int = 3,
                      families: list[str] | None = None) -> list[dict[str, Any]]:
        """The ``k`` nearest past tasks of the same type with their best configurations."""
        found = self.task_index.similar(meta_features, k=k, task_type=task_type, families=families)
        return [{"task": s.task, "distance": round(float(s.distance), 3), "best": s.best[:3]} for s in found]


_CACHE: dict[tuple, Knowledge] = {}
_LOCK = threading.Lock()


def cache_dir() -> Path:
    return metadataset.user_dir() / "cache"


def open_knowledge(exclude_tasks: tuple[str, ...] = (), frame: pd.DataFrame | None = None) -> Knowledge:
    """Meta-dataset (shipped + user layer), meta-learner and task index; ``exclude_tasks`` leaves
    tasks out entirely (for leave-one-dataset-out evaluation: nothing learned from them remains)."""
    if frame is None:
        frame = metadataset.load_layers()
    if exclude_tasks:
        frame = metadataset.normalize_scores(frame[~frame["task"].isin(exclude_tasks)].reset_index(drop=True))
    key = (fingerprint(frame),)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if exclude_tasks:  # a held-out variant: trained in memory, never cached on disk
        learner = MetaLearner().fit(frame)
    else:
        learner = MetaLearner.load_or_fit(cache_dir() / "metalearner", frame)
    knowledge = Knowledge(frame, learner, TaskIndex.build(frame))
    with _LOCK:
        _CACHE[key] = knowledge
    return knowledge


_TEXT: dict[str, ExperimentTextIndex] = {}


def text_index_cached(frame: pd.DataFrame | None = None) -> bool:
    """Whether :func:`open_text_index` will load (fast) rather than embed every record (slow)."""
    frame = metadataset.load_layers() if frame is None else frame
    key = fingerprint(frame)
    if key in _TEXT:
        return True
    try:
        ExperimentTextIndex.load(cache_dir() / "retrieval", expected_fingerprint=key)
    except RetrievalError:
        return False
    return True


def open_text_index(frame: pd.DataFrame | None = None) -> ExperimentTextIndex:
    """The experiment text index (MiniLM + FAISS) of the meta-dataset, shipped and user layer:
    from ``$TUNEGRAPH_HOME/cache/retrieval``, else embedded now and saved there (once per
    meta-dataset version: about a minute for the shipped 6,428 records on 2 cores)."""
    if frame is None:
        frame = metadataset.load_layers()
    key = fingerprint(frame)
    with _LOCK:
        if key in _TEXT:
            return _TEXT[key]
    index = open_indexes(frame, cache_dir() / "retrieval", text=True).text
    with _LOCK:
        _TEXT[key] = index
    return index


def forget() -> None:
    with _LOCK:
        _CACHE.clear()
        _TEXT.clear()
