"""Smoke run of benchmarks/compare.py: its CI configuration end to end (2 data sets, 1 budget,
2 seeds, --llm none), on two tiny data sets written from scikit-learn's built-in ones, so it
needs neither ../shared/datasets nor an LLM. The full benchmark is a documented command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sklearn import datasets

from benchmarks import compare
from benchmarks.compare_report import ANCHOR, LABELS

SHIPPED = Path(compare.ROOT) / "data" / "metadataset.parquet"


@pytest.fixture
def tiny_index(tmp_path: Path) -> Path:
    folder = tmp_path / "datasets"
    folder.mkdir()
    index = {}
    for name, loader, task in (("iris_tiny", datasets.load_iris, "classification"),
                               ("diabetes_tiny", datasets.load_diabetes, "regression")):
        frame = loader(as_frame=True).frame
        frame.to_csv(folder / f"{name}.csv", index=False)
        index[name] = {"file": f"{name}.csv", "target": "target", "task": task, "rows": len(frame)}
    (folder / "index.json").write_text(json.dumps(index))
    return folder


@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"the shipped meta-dataset {SHIPPED} is absent")
def test_smoke_configuration_runs_and_reports(tiny_index: Path, tmp_path: Path):
    results = tmp_path / "out" / "compare.jsonl"
    argv = ["--smoke", "--llm", "none", "--jobs", "1", "--datasets", str(tiny_index), "--results", str(results),
            "--metadataset", str(SHIPPED)]
    assert compare.main(argv) == 0

    rows = compare.read_rows(results)
    args = compare.parse_args(argv)
    setting = compare.setting_of(args)
    runs = [r for r in rows if r["kind"] == "run"]
    recs = [r for r in rows if r["kind"] == "recommendation"]
    assert {r["dataset"] for r in recs} == {"iris_tiny", "diabetes_tiny"}
    assert all(r["held_out_rows"] == 0 and r["dataset"] not in r["similar_tasks"] for r in recs)
    assert len(runs) == 2 * 2 * len(compare.METHODS)  # data sets x seeds x methods
    budget = compare.SMOKE["budgets"][0]
    for r in runs:
        assert r["setting"] == setting and r.get("stop_reason") in (None, f"trial budget of {budget} reached")
        assert len(r["values"]) == (1 if r["method"] == "recommender" else budget)
        assert r["wall_s"] >= r["objective_s"] >= 0
    warm = [r for r in runs if r["method"] in compare.WARM_METHODS]
    assert len(warm) == 2 * 2 * 2 and all("meta" in r["sources"] for r in warm)  # the warm start node got it
    assert all("llm" not in r["sources"] for r in runs if r["method"] == "tunegraph_tpe_warm")

    from benchmarks.compare_report import summarize

    summary = summarize(rows, setting, args.budgets, list(compare.METHODS))
    assert summary["n_datasets"] == 2 and not summary["pending"]
    n_methods = len(summary["methods"])
    for m in summary["methods"]:
        assert 0.0 <= summary["mean_regret"][budget][m] <= 1.0
        assert 1.0 <= summary["avg_rank"][budget][m] <= n_methods
        for name in summary["datasets"]:
            e = summary["per_dataset"][name][budget][m]
            assert 0.0 <= e["regret"] <= 1.0 and math.isfinite(e["mean"])
    ranks_sum = sum(summary["avg_rank"][budget].values())
    assert ranks_sum == pytest.approx(n_methods * (n_methods + 1) / 2)
    for m, wtl in summary["wtl"][budget].items():
        assert sum(wtl.values()) == summary["n_datasets"], m
        across = summary["across"][budget][m]
        assert across["better"] + across["worse"] <= summary["n_datasets"]
        assert math.isnan(across["p"]) or 0.0 <= across["p"] <= 1.0

    report = results.with_suffix(".md").read_text()
    for m in compare.METHODS:
        assert LABELS[m] in report
    assert "## Headline" in report and f"rank @{budget}" in report and "Mann-Whitney" in report
    from benchmarks.compare_report import proposals_by_source

    by_source = {(r["method"], r["source"]): r for r in proposals_by_source(summary["runs"], start=0)}
    assert ("optuna_tpe", "tpe") in by_source and ("tunegraph_llm_tpe_warm", "meta") in by_source
    assert all(0.0 <= r["percentile"] <= 1.0 and 0.0 <= r["improved"] <= 1.0 for r in by_source.values())
    assert sum(r["trials"] for k, r in by_source.items() if k[0] == "optuna_random") == 2 * 2 * budget
    assert "## Trials by source" in report
    for png in ("compare_regret.png", "compare_regret_datasets.png", "compare_time.png"):
        assert (results.parent / png).stat().st_size > 1000

    # resumable: a second start finds nothing to do and rewrites the same report
    assert compare.main(argv) == 0
    assert len(compare.read_rows(results)) == len(rows)
    assert ANCHOR in summary["methods"]


def _per_dataset(diffs: list[float]) -> dict:
    """Per-data-set entries at budget 10: the anchor's regret 0.5, the method's 0.5 + diff."""
    from benchmarks.compare_report import ANCHOR

    return {f"d{i}": {10: {ANCHOR: {"regret": 0.5}, "m": {"regret": 0.5 + d}}} for i, d in enumerate(diffs)}


def test_across_datasets_tells_a_consistent_gain_from_a_mixed_one():
    from benchmarks.compare_report import across_datasets

    always = across_datasets(_per_dataset([-0.05 - 0.01 * i for i in range(12)]), "m", 10)
    assert (always["better"], always["worse"]) == (12, 0) and always["p"] < 0.01 and always["mean_diff"] < 0
    mixed = across_datasets(_per_dataset([(-1) ** i * (0.05 + 0.01 * i) for i in range(12)]), "m", 10)
    assert (mixed["better"], mixed["worse"]) == (6, 6) and mixed["p"] > 0.5
    level = across_datasets(_per_dataset([0.0] * 12), "m", 10)
    assert (level["better"], level["worse"]) == (0, 0) and math.isnan(level["p"])


def test_the_report_without_the_anchor_says_so_instead_of_failing(tiny_index: Path, tmp_path: Path):
    results = tmp_path / "out" / "compare.jsonl"
    argv = ["--smoke", "--llm", "none", "--jobs", "1", "--datasets", str(tiny_index), "--results", str(results),
            "--methods", "optuna_random", "tunegraph_tpe"]
    assert compare.main(argv) == 0
    report = results.with_suffix(".md").read_text()
    assert "## Across data sets" in report and f"Not computed: {LABELS[ANCHOR]} is not among the methods." in report
