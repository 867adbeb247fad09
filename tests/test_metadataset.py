"""The meta-dataset file and its builder: schema round-trip, bad files, resumable building."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from tunegraph.tools.meta import metabuild, metadataset
from tunegraph.tools.meta.metadataset import MetaDatasetError
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES, TaskError


def record(task="t", family="knn", score=0.5, params=None, direction="maximize", source="random"):
    return metadataset.make_record(task=task, task_type="classification", metric="accuracy", direction=direction,
                                   meta_features={k: 1.0 for k in META_FEATURE_NAMES}, family=family,
                                   params=params or {"n_neighbors": int(score * 100)}, score_mean=score,
                                   score_std=0.01, fit_time_s=0.1, n_folds=3, source=source)


def test_round_trip_and_normalization(tmp_path):
    frame = metadataset.records_to_frame([record(score=s) for s in (0.5, 0.7, 0.9)] +
                                         [record(task="u", score=s, direction="minimize") for s in (3.0, 1.0)])
    path = metadataset.save(frame, tmp_path / "m.parquet")
    back = metadataset.load(path)
    pd.testing.assert_frame_equal(back, frame[metadataset.COLUMNS], check_dtype=False)
    t = back[back.task == "t"].sort_values("score_mean")
    assert t.score_norm.tolist() == pytest.approx([0.0, 0.5, 1.0])
    u = back[back.task == "u"].sort_values("score_mean")
    assert u.score_norm.tolist() == [1.0, 0.0]  # rmse-like: lower is better
    assert metadataset.params_of(t)[0] == {"n_neighbors": 50}


def test_append_deduplicates_and_keeps_a_backup(tmp_path):
    path = tmp_path / "m.parquet"
    metadataset.append(path, [record(score=0.5), record(score=0.7)])
    frame = metadataset.append(path, [record(score=0.7), record(score=0.9)])  # 0.7 is the same experiment
    assert len(frame) == 3 and len(metadataset.load(path)) == 3
    assert len(metadataset.load(metadataset.backup_path(path))) == 2


def test_bad_files_give_clear_errors_and_overwrite_nothing(tmp_path):
    with pytest.raises(MetaDatasetError, match="not found"):
        metadataset.load(tmp_path / "none.parquet")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(MetaDatasetError, match="unreadable"):
        metadataset.load(corrupt)
    good = metadataset.records_to_frame([record()])
    with pytest.raises(MetaDatasetError, match="is empty"):
        metadataset.save(good.iloc[:0], tmp_path / "empty.parquet")
    old = good.assign(schema_version=0)
    old.to_parquet(tmp_path / "old.parquet")
    with pytest.raises(MetaDatasetError, match="schema version \\[0\\]"):
        metadataset.load(tmp_path / "old.parquet")
    good.drop(columns=["fit_time_s"]).to_parquet(tmp_path / "short.parquet")
    with pytest.raises(MetaDatasetError, match="lacks columns: fit_time_s"):
        metadataset.load(tmp_path / "short.parquet")
    good.assign(extra=1).to_parquet(tmp_path / "long.parquet")
    with pytest.raises(MetaDatasetError, match="unknown columns: extra"):
        metadataset.load(tmp_path / "long.parquet")
    with pytest.raises(MetaDatasetError, match="unknown source"):
        record(source="oracle")


@pytest.fixture
def tiny_datasets(tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    iris = load_iris(as_frame=True).frame.sample(90, random_state=0)
    diabetes = load_diabetes(as_frame=True).frame.iloc[:120, [0, 2, 3, 8, 10]]
    iris.to_csv(folder / "iris.csv", index=False)
    diabetes.to_csv(folder / "diab.csv", index=False)
    index = {"iris": {"file": "iris.csv", "target": "target", "task": "classification", "rows": 90},
             "diab": {"file": "diab.csv", "target": "target", "task": "regression", "rows": 120}}
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def test_build_interrupted_then_resumed_redoes_nothing(tiny_datasets, tmp_path, monkeypatch):
    out = tmp_path / "meta.parquet"
    real = metabuild.cross_validate_config
    calls = {"n": 0}

    def interrupt_on_seventh(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(metabuild, "cross_validate_config", interrupt_on_seventh)
    with pytest.raises(KeyboardInterrupt):
        metabuild.build_metadataset(tiny_datasets, out, families=("knn", "linear"), configs_per_family=4, folds=3)
    assert not out.exists()
    before = metabuild.export_records(out.with_name(out.name + ".journal"))
    assert len(before) == 6  # the first six experiments are kept in the journal

    calls["n"] = -1000  # no more interruptions; count what the resumed build evaluates
    summary = metabuild.build_metadataset(tiny_datasets, out, families=("knn", "linear"), configs_per_family=4, folds=3)
    assert calls["n"] == -1000 + 16 - 6  # only the missing experiments ran
    frame = metadataset.load(out)
    assert summary["rows"] == len(frame) == 16 and summary["tasks"] == 2
    assert set(frame.family) == {"knn", "logistic_regression", "ridge"}
    assert frame.groupby(["task", "family"]).size().tolist() == [4, 4, 4, 4]
    assert set(frame.source) == {"default", "random", "tpe"}
    assert frame.record_id.is_unique
    kept = {r["record_id"]: r["score_mean"] for r in before}
    assert all(frame.set_index("record_id").loc[k, "score_mean"] == v for k, v in kept.items())
    # more configurations later extends the same studies
    metabuild.build_metadataset(tiny_datasets, out, families=("knn",), configs_per_family=6, folds=3)
    assert metadataset.load(out).groupby(["task", "family"]).size().to_dict()[("iris", "knn")] == 6


def test_bad_dataset_folders(tmp_path, tiny_datasets):
    with pytest.raises(TaskError, match="has no index.json"):
        metabuild.read_index(tmp_path)
    index = json.loads((tiny_datasets / "index.json").read_text())
    index["ghost"] = {"file": "ghost.csv", "target": "y"}
    (tiny_datasets / "index.json").write_text(json.dumps(index))
    with pytest.raises(TaskError, match="'ghost' names a missing file"):
        metabuild.read_index(tiny_datasets)
    index.pop("ghost")
    index["iris"]["target"] = "colour"
    (tiny_datasets / "index.json").write_text(json.dumps(index))
    with pytest.raises(TaskError, match="target column 'colour' not found"):
        metabuild.build_metadataset(tiny_datasets, tmp_path / "m.parquet", families=("knn",), configs_per_family=2)


def test_large_data_is_subsampled_by_class(tiny_datasets):
    entry = json.loads((tiny_datasets / "index.json").read_text())["iris"]
    task = metabuild.load_indexed_task(tiny_datasets, "iris", entry, max_rows=30)
    assert 28 <= len(task.y) <= 32 and set(np.unique(task.y)) == {0, 1, 2}
