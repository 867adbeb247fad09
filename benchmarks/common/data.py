"""Data for the benchmarks: an indexed data set as a task and its default metric, and as the file the
graphs read (the same rows as the plain loops), and the scores the meta-dataset knows per data set."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def indexed_task(datasets: str | Path, name: str, entry: dict[str, Any] | None = None, max_rows: int = 5000):
    """(task, metric) of data set ``name`` of the folder ``datasets`` (its ``index.json`` entry, read
    where not given), subsampled to ``max_rows``; the metric is the task's default."""
    from tunegraph.tools.meta.metabuild import load_indexed_task, read_index
    from tunegraph.tools.trials.evaluation import default_metric, get_metric

    entry = entry if entry is not None else read_index(datasets)[name]
    task = load_indexed_task(datasets, name, entry, max_rows)
    return task, get_metric(default_metric(task), task)


def task_info(task, metric) -> dict[str, Any]:
    """What a result row records of its task."""
    return {"task_type": task.task_type, "metric": metric.name, "direction": metric.direction,
            "n_rows": int(len(task.y)), "n_classes": int(task.n_classes)}


def write_task(task, path: Path) -> Path:
    """The task's rows as Parquet, the target as labels: a graph that re-reads the data file gets the
    rows the plain loops have (a subsample included)."""
    labels = task.y if task.task_type == "regression" else [task.classes[i] for i in task.y]
    task.X.assign(**{task.target: labels}).to_parquet(path)
    return path


def data_inputs(datasets: str, name: str, entry: dict[str, Any], max_rows: int, workdir: Path) -> dict[str, Any]:
    """The graph's data inputs for an indexed data set: its file, or a subsample as Parquet
    (the same rows ``indexed_task`` gives the plain loops)."""
    inputs = {"target": entry["target"], "task_type": entry.get("task") or None}
    if not max_rows or (entry.get("rows") or 0) <= max_rows:
        return {**inputs, "data_path": str(Path(datasets) / entry["file"])}
    task, _ = indexed_task(datasets, name, entry, max_rows)
    path = write_task(task, workdir / f"{name}.parquet")
    return {**inputs, "data_path": str(path), "task_type": task.task_type}


def shipped_metadataset():
    """The shipped meta-dataset, loaded."""
    from tunegraph.tools.meta import metadataset

    return metadataset.load(metadataset.shipped_path())


def worst_known(frame) -> dict[str, float]:
    """Per task of the meta-dataset ``frame``: the worst score of any of its configurations."""
    worst = {}
    for task, g in frame.groupby("task"):
        worst[task] = float(g.score_mean.min() if g.direction.iloc[0] == "maximize" else g.score_mean.max())
    return worst
