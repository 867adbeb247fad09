"""The meta-dataset: one row per past experiment outcome, stored as a versioned Parquet file.

A row holds the task's meta-features (``mf_*`` columns), task type and metric, the model
family and its hyperparameters (JSON), the cross-validated score (mean, std), the score
normalized within its task (1 = best known configuration of that task, 0 = worst), the fit
time, who produced it (default/grid/random/tpe/llm/user) and when.

Example:
    >>> frame = records_to_frame([record])                     # doctest: +SKIP
    >>> save(frame, "data/metadataset.parquet")                # doctest: +SKIP
    >>> load("data/metadataset.parquet").shape                 # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunegraph.errors import InputError
from tunegraph.tools.ml.cash import AUTO, split
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES
from tunegraph.tools.trials.sampler import SOURCES as TRIAL_SOURCES

SCHEMA_VERSION = 1
# who proposed a record's configuration: a trial's proposer (one list, the sampler's), or a meta-dataset
# build's library defaults and grid, or a user's record of unknown origin
SOURCES = (*TRIAL_SOURCES, "default", "grid", "user")
MF_COLUMNS = [f"mf_{name}" for name in META_FEATURE_NAMES]
COLUMNS = ["schema_version", "record_id", "task", "task_type", "metric", "direction", *MF_COLUMNS, "family",
           "params", "score_mean", "score_std", "score_norm", "fit_time_s", "n_folds", "source", "created_at"]


class MetaDatasetError(InputError):
    """The meta-dataset file is missing, unreadable, of another schema version or malformed."""


def record_id(task: str, family: str, metric: str, params: dict[str, Any]) -> str:
    """Stable key of an experiment: the same configuration on the same task counts once."""
    key = json.dumps([task, family, metric, params], sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def make_record(*, task: str, task_type: str, metric: str, direction: str, meta_features: dict[str, float],
                family: str, params: dict[str, Any], score_mean: float, score_std: float, fit_time_s: float,
                n_folds: int, source: str, created_at: str | None = None) -> dict[str, Any]:
    if source not in SOURCES:
        raise MetaDatasetError(f"unknown source '{source}'; expected one of {', '.join(SOURCES)}")
    missing = [n for n in META_FEATURE_NAMES if n not in meta_features]
    if missing:
        raise MetaDatasetError(f"meta-features lack {', '.join(missing)}")
    plain = {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
    return {
        "schema_version": SCHEMA_VERSION, "record_id": record_id(task, family, metric, plain), "task": task,
        "task_type": task_type, "metric": metric, "direction": direction,
        **{f"mf_{k}": float(meta_features[k]) for k in META_FEATURE_NAMES},
        "family": family, "params": json.dumps(plain, sort_keys=True), "score_mean": float(score_mean),
        "score_std": float(score_std), "score_norm": np.nan, "fit_time_s": float(fit_time_s), "n_folds": int(n_folds),
        "source": source, "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }


def records_to_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(records), columns=COLUMNS)
    return normalize_scores(deduplicate(frame))


def deduplicate(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per record_id: the latest one wins."""
    return frame.drop_duplicates("record_id", keep="last").reset_index(drop=True)


def normalize_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """``score_norm`` in [0, 1] within each (task, metric): 1 for the best score, 0 for the worst."""
    frame = frame.copy()
    if frame.empty:
        frame["score_norm"] = pd.Series(dtype=float)
        return frame
    sign = np.where(frame["direction"] == "minimize", -1.0, 1.0)
    oriented = pd.Series(frame["score_mean"].to_numpy(dtype=float) * sign, index=frame.index)
    groups = oriented.groupby([frame["task"], frame["metric"]])
    low, high = groups.transform("min"), groups.transform("max")
    span = (high - low).replace(0, np.nan)
    frame["score_norm"] = ((oriented - low) / span).fillna(1.0).astype(float)
    return frame


def load(path: str | Path) -> pd.DataFrame:
    """Read and check a meta-dataset file; every problem is a MetaDatasetError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MetaDatasetError(f"meta-dataset not found: {path}")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise MetaDatasetError(f"meta-dataset {path} is unreadable ({type(exc).__name__}: {exc}); "
                               f"a previous copy may be at {backup_path(path)}") from None
    check(frame, str(path))
    return frame


def check(frame: pd.DataFrame, where: str = "meta-dataset") -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise MetaDatasetError(f"{where} lacks columns: {', '.join(missing)}")
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise MetaDatasetError(f"{where} has unknown columns: {', '.join(unknown)}")
    if frame.empty:
        raise MetaDatasetError(f"{where} is empty")
    versions = sorted(set(int(v) for v in frame["schema_version"].unique()))
    if versions != [SCHEMA_VERSION]:
        raise MetaDatasetError(f"{where} has schema version {versions}, this TuneGraph reads version {SCHEMA_VERSION}; "
                               "rebuild it with 'tunegraph metadata build'")


def backup_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".bak")


def save(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write atomically; the previous good file is kept as ``<name>.bak``."""
    check(frame, "the frame to save")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame[COLUMNS].to_parquet(tmp, index=False, compression="zstd")
    if path.exists():
        try:
            load(path)
            os.replace(path, backup_path(path))
        except MetaDatasetError:
            pass  # a damaged current file is not worth keeping over the last good backup
    os.replace(tmp, path)
    return path


def append(path: str | Path, records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Add records to the file at ``path`` (created if absent), deduplicate, renormalize, save."""
    new = pd.DataFrame(list(records), columns=COLUMNS)
    if new.empty:
        raise MetaDatasetError("nothing to append")
    frame = pd.concat([load(path), new], ignore_index=True) if Path(path).exists() else new
    frame = normalize_scores(deduplicate(frame))
    save(frame, path)
    return frame


def shipped_path() -> Path:
    """The base meta-dataset: ``$TUNEGRAPH_METADATASET`` or the one shipped in ``data/``."""
    override = os.environ.get("TUNEGRAPH_METADATASET")
    return Path(override) if override else shipped_data_dir() / "metadataset.parquet"


def shipped_data_dir() -> Path:
    """The package's data folder (``tunegraph.data``), from a wheel or a source checkout alike."""
    from importlib import resources

    return Path(str(resources.files("tunegraph.data")))


def user_dir() -> Path:
    """Where the user's own additions live: ``$TUNEGRAPH_HOME`` or ``~/.local/share/tunegraph``."""
    return Path(os.environ.get("TUNEGRAPH_HOME") or Path.home() / ".local" / "share" / "tunegraph")


def user_path() -> Path:
    return user_dir() / "metadataset.parquet"


def load_layers(shipped: str | Path | None = None, user: str | Path | None = None) -> pd.DataFrame:
    """The shipped meta-dataset with the user's layer over it (a user row replaces a shipped one)."""
    shipped, user = Path(shipped or shipped_path()), Path(user or user_path())
    frames = [load(shipped)] if shipped.exists() else []
    if user.exists():
        frames.append(load(user))
    if not frames:
        raise MetaDatasetError(f"no meta-dataset found: neither {shipped} nor {user} exists; "
                               "build one with 'tunegraph metadata build'")
    return normalize_scores(deduplicate(pd.concat(frames, ignore_index=True)))


def records_from_study(study, default_source: str = "user") -> list[dict[str, Any]]:
    """Meta-dataset records of a study's completed trials: an optimization's (``tunegraph optimize``)
    or a meta-dataset build's (``tools.meta.metabuild``), which tag their studies alike."""
    attrs = study.user_attrs
    family = attrs.get("model") or attrs.get("family")
    missing = [k for k in ("task", "task_type", "metric", "meta_features") if k not in attrs] + ([] if family else ["model"])
    if missing:
        raise MetaDatasetError(f"study '{study.study_name}' was not made by tunegraph optimize (no {', '.join(missing)})")
    folds = int(attrs.get("folds") or attrs.get("n_folds") or 5)  # studies before 0.1.0 did not record it: 5
    records = []
    for t in study.get_trials(deepcopy=False):
        if t.state.name != "COMPLETE":
            continue
        source = t.user_attrs.get("source", default_source)
        trial_family, params = split(t.params) if family == AUTO else (family, t.params)  # across families
        records.append(make_record(
            task=attrs["task"], task_type=attrs["task_type"], metric=attrs["metric"],
            direction=study.direction.name.lower(), meta_features=attrs["meta_features"], family=trial_family,
            params=params, score_mean=t.value, score_std=t.user_attrs.get("cv_std") or 0.0,
            fit_time_s=t.user_attrs.get("fit_time_s") or 0.0, n_folds=folds,
            source=source if source in SOURCES else "user",
            created_at=t.datetime_complete.isoformat(timespec="seconds") if t.datetime_complete else None))
    if not records:
        raise MetaDatasetError(f"study '{study.study_name}' has no completed trial to add")
    return records


def params_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [json.loads(p) for p in frame["params"]]


def summary(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "rows": int(len(frame)), "tasks": int(frame["task"].nunique()),
        "task_types": frame.groupby("task_type")["task"].nunique().to_dict(),
        "families": frame["family"].value_counts().to_dict(),
        "sources": frame["source"].value_counts().to_dict(),
        "metrics": frame["metric"].value_counts().to_dict(),
        "schema_version": SCHEMA_VERSION,
    }
