"""The meta-knowledge a recommendation stands on: meta-dataset, configuration matrix, meta-learner
and FAISS task index.

Loaded once per process and meta-dataset version. The meta-learner trains on the meta-dataset
and the matrix's cells; the one fitted on what ships is shipped too (``data/metalearner``), so the
first recommendation after an install does not train it. With a user layer it is trained once and
cached in ``$TUNEGRAPH_HOME/cache``, and rebuilt when the meta-dataset changes.

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

from tunegraph.tools.meta import config_matrix, metadataset
from tunegraph.tools.meta.metalearner import MetaLearner, MetaLearnerError, fingerprint
from tunegraph.tools.meta.retrieval import ExperimentTextIndex, RetrievalError, TaskIndex, open_indexes


@dataclass
class Knowledge:
    frame: pd.DataFrame
    learner: MetaLearner
    task_index: TaskIndex
    matrix: pd.DataFrame | None = None  # the configuration matrix, held-out tasks already left out

    def has_portfolio(self, task_type: str) -> bool:
        return self.matrix is not None and bool((self.matrix["task_type"] == task_type).any())

    def task_distances(self, meta_features: dict[str, float], task_type: str) -> dict[str, float]:
        """Meta-feature distance from the new task to every known task of its type (FAISS)."""
        found = self.task_index.similar(meta_features, k=len(self.task_index), task_type=task_type)
        return {s.task: float(s.distance) for s in found}

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
    matrix = None
    if frame is None:
        frame, matrix = _layers_and_matrix()
    if exclude_tasks:
        frame = metadataset.normalize_scores(frame[~frame["task"].isin(exclude_tasks)].reset_index(drop=True))
        matrix = None if matrix is None else config_matrix.without_tasks(matrix, tuple(exclude_tasks))
    key = (fingerprint(frame),)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if exclude_tasks:  # a held-out variant: trained in memory, never cached on disk
        learner = MetaLearner().fit(frame)
    else:
        learner = shipped_learner(frame) or MetaLearner.load_or_fit(cache_dir() / "metalearner", frame)
    knowledge = Knowledge(frame, learner, TaskIndex.build(frame), matrix)
    with _LOCK:
        _CACHE[key] = knowledge
    return knowledge


_LAYERS: dict[tuple, tuple[pd.DataFrame, pd.DataFrame | None]] = {}


def _layers_and_matrix() -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The meta-dataset layers with the matrix's cells added, and the matrix; read again when a file changes."""
    paths = (metadataset.shipped_path(), metadataset.user_path(), config_matrix.shipped_matrix_path())
    key = tuple((str(p), p.stat().st_mtime_ns if p.exists() else None) for p in paths)
    with _LOCK:
        if key in _LAYERS:
            return _LAYERS[key]
    matrix = open_matrix()
    frame = with_matrix(metadataset.load_layers(), matrix)
    with _LOCK:
        _LAYERS.clear()
        _LAYERS[key] = (frame, matrix)
    return frame, matrix


def with_matrix(frame: pd.DataFrame, matrix: pd.DataFrame | None) -> pd.DataFrame:
    """The meta-dataset with the matrix's cells as experiments (the meta-learner learns LightGBM from them)."""
    if matrix is None:
        return frame
    cells = pd.DataFrame(config_matrix.matrix_records(matrix), columns=metadataset.COLUMNS)
    return metadataset.normalize_scores(metadataset.deduplicate(pd.concat([frame, cells], ignore_index=True)))


def shipped_frame(metadataset_path: str | Path, matrix_path: str | Path | None) -> pd.DataFrame:
    """What the shipped meta-learner is trained on: the meta-dataset (no user layer) and the matrix's cells."""
    alone = metadataset.normalize_scores(metadataset.deduplicate(metadataset.load(metadataset_path)))
    matrix = config_matrix.load_matrix(matrix_path) if matrix_path and Path(matrix_path).is_file() else None
    return with_matrix(alone, matrix)


def fit_shipped_learner(metadataset_path: str | Path, matrix_path: str | Path | None = None) -> Path:
    """Fit the meta-learner on a meta-dataset (and its matrix, when there is one) and save it beside
    them (``metalearner/``): shipped, it spares a new install the fit on its first recommendation."""
    frame = shipped_frame(metadataset_path, matrix_path)
    return MetaLearner().fit(frame).save(Path(metadataset_path).with_name("metalearner"))


def open_matrix() -> pd.DataFrame | None:
    """The shipped configuration matrix (``$TUNEGRAPH_MATRIX`` overrides it), None where there is none."""
    path = config_matrix.shipped_matrix_path()
    return config_matrix.load_matrix(path) if path.is_file() else None


def shipped_learner_dir() -> Path:
    return metadataset.shipped_path().with_name("metalearner")


def shipped_learner(frame: pd.DataFrame) -> MetaLearner | None:
    """The meta-learner shipped beside the matrix, when it was fitted on exactly ``frame``."""
    try:
        return MetaLearner.load(shipped_learner_dir(), frame)
    except MetaLearnerError:
        return None


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
        _LAYERS.clear()
        _TEXT.clear()


def estimate_seconds(task, family: str, trials: int, ctx) -> float:
    """Rough wall time: the meta-learner's predicted fit time of the family's defaults x folds,
    plus the LLM's share of proposals; a size heuristic when there is no meta-knowledge."""
    mf = task.meta_features()
    try:
        from tunegraph.tools.ml.cash import AUTO, cash_families
        from tunegraph.tools.ml.models import get_family

        fits = []  # across families (auto): the mean of the families' defaults
        for name in cash_families(task.task_type) if family == AUTO else [family]:
            config = get_family(name, task.task_type).default_config(task)
            fits.append(float(open_knowledge().learner.predict(mf, name, task.task_type, [config])[1][0]))
        fit_s = sum(fits) / len(fits) * max(1.0, mf["n_rows"] / 5000)  # the meta-dataset caps data at 5,000 rows
    except (ValueError, OSError, KeyError):
        fit_s = 0.05 + mf["n_rows"] * mf["n_features"] * 2e-6
    llm_s = 0.0 if ctx.llm == "none" or ctx.sampler in ("tpe", "random") else ctx.p_llm * 5.0
    return float(round(trials * (ctx.folds * fit_s + llm_s + 0.05), 1))  # plain float: it goes into graph state
