"""Smoke run of benchmarks/holdout.py (issue 22's outer holdout) end to end: two tiny data sets written
from scikit-learn's built-in ones (a temp index, as tests/test_compare_smoke.py builds), 1 seed,
budget 3, 3 folds, FLAML capped at a few seconds, one ensemble-off twin; then the report, a
resumed start with nothing to do, and the report of a partial result. The full run is a documented
command (benchmarks/holdout.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets

from benchmarks import holdout
from benchmarks.common.outer_holdout import autogluon_available, split_rows
from benchmarks.common.paths import SHIPPED_METADATASET as SHIPPED
from benchmarks.common.results import archive_path, read_rows, working_path, write_rows

MATRIX = SHIPPED.with_name("config_matrix.parquet")


def write_index(folder: Path) -> Path:
    folder.mkdir(parents=True)
    index = {}
    for name, frame, task in (("iris_tiny", datasets.load_iris(as_frame=True).frame, "classification"),
                              ("diabetes_tiny", datasets.load_diabetes(as_frame=True).frame, "regression")):
        if task == "classification":  # labels as text, as in a user's file
            frame = frame.assign(target=frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"}))
        frame.to_csv(folder / f"{name}.csv", index=False)
        index[name] = {"file": f"{name}.csv", "target": "target", "task": task, "rows": len(frame)}
    (folder / "index.json").write_text(json.dumps(index))
    return folder


def test_the_split_is_stratified_by_seed_and_keeps_every_class_in_training():
    labels = np.array([0] * 50 + [1] * 9 + [2] * 1)
    train, test = split_rows(labels, len(labels), seed=3)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 60
    assert [int((labels[test] == c).sum()) for c in range(3)] == [10, 2, 0]  # 20% of each class; a singleton stays
    again, other = split_rows(labels, len(labels), seed=3), split_rows(labels, len(labels), seed=4)
    assert np.array_equal(again[1], test) and not np.array_equal(other[1], test)
    _, reg = split_rows(None, 101, seed=0)
    assert len(reg) == 20


@pytest.mark.skipif(not SHIPPED.is_file() or not MATRIX.is_file(), reason="the shipped meta-dataset or matrix is absent")
def test_holdout_smoke_runs_end_to_end_and_reports(tmp_path: Path, capsys):
    pytest.importorskip("flaml")
    index = write_index(tmp_path / "datasets")
    results = tmp_path / "out" / "holdout.jsonl"

    def arguments(path: Path) -> list[str]:
        return ["--datasets", str(index), "--seeds", "1", "--budgets", "3", "--folds", "3", "--off-datasets", "1",
                "--peer-max-s", "2", "--results", str(path), "--metadataset", str(SHIPPED), "--matrix", str(MATRIX)]

    argv = arguments(results)
    assert holdout.main([*argv, "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "total: 7 units, 7 to do" in plan  # 2 runs, 2 FLAML, 2 AutoGluon, 1 twin (iris_tiny: the smaller)
    assert holdout.main(argv) == 0

    rows = read_rows(results)
    assert not [r for r in rows if r["kind"] == "failure"], [r["error"] for r in rows if r["kind"] == "failure"]
    by = {(r["kind"], r["dataset"]): r for r in rows}
    for name in ("iris_tiny", "diabetes_tiny"):
        run, peer = by[("tunegraph", name)], by[("flaml", name)]
        assert run["split"] == peer["split"] and run["n_test"] == peer["n_test"]  # the same 20%
        assert run["n_train"] + run["n_test"] == run["n_rows"] and run["n_test"] == round(0.2 * run["n_rows"])
        assert len(run["values"]) == 3 and run["sources"][0] == "portfolio"
        assert run["context"]["ensemble"] == "on" and run["context"]["exclude_tasks"] == [name]
        assert run["context"]["space_box"] and run["context"]["portfolio"] == -1 and run["context"]["llm"] == "none"
        assert run["oof_files"] == 3  # every trial kept its out-of-fold predictions
        assert all(math.isfinite(run["scores"][k]) for k in ("ensemble", "single", "auto", "dummy"))
        chosen = run["scores"]["ensemble"] if run["plan"]["auto"] else run["scores"]["single"]
        assert run["scores"]["auto"] == chosen
        assert run["wall_s"] >= run["search_s"] > run["setup_s"] >= 0 and run["modeler_s"] > 0
        assert 0 < run["plan_s"] < run["modeler_s"]
        assert run["single_refit_s"] > 0 and math.isfinite(peer["score"]) and peer["time_budget_s"] <= 2
    assert by[("tunegraph", "iris_tiny")]["metric"] == "accuracy" and by[("tunegraph", "diabetes_tiny")]["metric"] == "rmse"
    twin, run = by[("tunegraph_off", "iris_tiny")], by[("tunegraph", "iris_tiny")]
    assert twin["oof_files"] == 0 and twin["context"]["ensemble"] == "off"
    assert twin["values"] == run["values"]  # the same trials, without the predictions kept
    assert twin["scores"]["single"] == pytest.approx(run["scores"]["single"])  # its modeler refits the same trial
    assert ("tunegraph_off", "diabetes_tiny") not in by

    report = results.with_suffix(".md").read_text()
    assert "## 3 trials" in report and "## Extra wall time of the ensemble" in report and "one-sided Wilcoxon p" in report
    assert "| iris_tiny | accuracy | 1 |" in report and "| diabetes_tiny | rmse | 1 |" in report
    if autogluon_available():
        assert ("autogluon", "iris_tiny") in by
    else:  # not installed: its units are listed as not run, the rest is finished and compressed
        assert "autogluon.tabular is not installed" in report and "`autogluon`: 0 of 2 finished" in report
        assert archive_path(results).is_file() and not working_path(results).exists()

    n = len(rows)  # resumable: nothing left to do
    assert holdout.main(argv) == 0 and len(read_rows(results)) == n

    partial = tmp_path / "partial" / "holdout.jsonl"  # the report of a partial result says what is missing
    write_rows(partial, [r for r in rows if r["kind"] == "tunegraph" and r["dataset"] == "iris_tiny"])
    assert holdout.main([*arguments(partial), "--report-only"]) == 0
    text = partial.with_suffix(".md").read_text()
    assert "partial result" in text and "`tunegraph`: 1 of 2 finished: left diabetes_tiny seed 0 budget 3" in text
    assert "`flaml`: 0 of 2 finished" in text and "| iris_tiny | accuracy | 1 |" in text
