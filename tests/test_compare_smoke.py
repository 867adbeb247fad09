"""Smoke runs of benchmarks/compare.py: its CI configurations end to end (2 data sets, 2 seeds,
--llm none), on two tiny data sets written from scikit-learn's built-in ones, so they need
neither ../shared/datasets nor an LLM: last round's suite (1 budget), and the portfolio suite
(budgets 1 2 4, every method but the embedded-LLM one) with a real, small configuration matrix
(knn and linear models on four tiny data sets, built in seconds). The full benchmarks are
documented commands (benchmarks/compare_portfolio.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from sklearn import datasets

from benchmarks import compare
from benchmarks.common.methods import (
    ANCHOR,
    ANCHORS,
    COMPARE_METHODS,
    GRAPH_METHODS,
    LABELS,
    PER_BUDGET,
    PORTFOLIO_METHODS,
    WARM,
    run_budgets,
)
from benchmarks.common.paths import SHIPPED_METADATASET as SHIPPED
from benchmarks.common.report import across_datasets, proposals_by_source, summarize
from benchmarks.common.results import archive_path, read_rows, working_path
from tunegraph.tools.meta.portfolio import SETTINGS


def _friedman() -> pd.DataFrame:
    X, y = datasets.make_friedman1(n_samples=200, random_state=0)
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(target=y)


TINY = {"iris_tiny": (lambda: datasets.load_iris(as_frame=True).frame, "classification"),
        "diabetes_tiny": (lambda: datasets.load_diabetes(as_frame=True).frame, "regression"),
        "wine_tiny": (lambda: datasets.load_wine(as_frame=True).frame, "classification"),
        "friedman_tiny": (_friedman, "regression")}


def write_index(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True)
    index = {}
    for name in names:
        load, task = TINY[name]
        frame = load()
        frame.to_csv(folder / f"{name}.csv", index=False)
        index[name] = {"file": f"{name}.csv", "target": "target", "task": task, "rows": len(frame)}
    (folder / "index.json").write_text(json.dumps(index))
    return folder


@pytest.fixture
def tiny_index(tmp_path: Path) -> Path:
    return write_index(tmp_path / "datasets", ["iris_tiny", "diabetes_tiny"])


@pytest.fixture(scope="module")
def tiny_matrix(tmp_path_factory) -> Path:
    """A real configuration matrix: knn and linear models on the two smoke data sets and one more of
    each task type (so each keeps a portfolio when it is held out), pool drawn from 3 tasks' records."""
    from tunegraph.tools.meta import config_matrix, metadataset

    if not SHIPPED.is_file():
        pytest.skip(f"the shipped meta-dataset {SHIPPED} is absent")
    root = tmp_path_factory.mktemp("matrix")
    folder = write_index(root / "datasets", list(TINY))
    frame = metadataset.load(SHIPPED)
    pool_from = metadataset.save(frame[frame["task"].isin(["wine_uci", "servo", "glass"])], root / "meta.parquet")
    out = root / "config_matrix.parquet"
    config_matrix.build_matrix(folder, out, families=("knn", "linear"), pool_from=pool_from, min_configs=6, folds=3)
    return out


@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"the shipped meta-dataset {SHIPPED} is absent")
def test_smoke_configuration_runs_and_reports(tiny_index: Path, tmp_path: Path):
    results = tmp_path / "out" / "compare.jsonl"
    argv = ["--smoke", "--llm", "none", "--jobs", "1", "--datasets", str(tiny_index), "--results", str(results),
            "--metadataset", str(SHIPPED)]
    assert compare.main(argv) == 0
    # finished: the rows were appended to the working file, then compressed into the archive
    assert archive_path(results).is_file() and not working_path(results).exists()

    rows = read_rows(results)
    args = compare.parse_args(argv)
    setting = compare.setting_of(args)
    runs = [r for r in rows if r["kind"] == "run"]
    recs = [r for r in rows if r["kind"] == "recommendation"]
    assert {r["dataset"] for r in recs} == {"iris_tiny", "diabetes_tiny"}
    assert all(r["held_out_rows"] == 0 and r["dataset"] not in r["similar_tasks"] for r in recs)
    assert len(runs) == 2 * 2 * len(COMPARE_METHODS)  # data sets x seeds x methods
    budget = compare.SMOKE["budgets"][0]
    for r in runs:
        assert r["setting"] == setting and r.get("stop_reason") in (None, f"trial budget of {budget} reached")
        assert len(r["values"]) == (1 if r["method"] == "recommender" else budget)
        assert r["wall_s"] >= r["objective_s"] >= 0
    warm = [r for r in runs if r["method"] in WARM]
    assert len(warm) == 2 * 2 * 2 and all("meta" in r["sources"] for r in warm)  # the warm start node got it
    assert all("llm" not in r["sources"] for r in runs if r["method"] == "tunegraph_tpe_warm")
    # last round's: the Initializer's start (no portfolio), the meta-learner's recommendation (no matrix)
    assert all(r["context"]["portfolio"] == 0 and r["sources"][0] == "init" for r in runs if "context" in r)
    assert all(r["ranked_by"] != "portfolio" for r in recs)

    summary = summarize(rows, setting, args.budgets, list(COMPARE_METHODS))
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
    assert summary["anchors"] == [ANCHOR]
    for m, wtl in summary["wtl"][ANCHOR][budget].items():
        assert sum(wtl.values()) == summary["n_datasets"], m
        across = summary["across"][ANCHOR][budget][m]
        assert across["better"] + across["worse"] <= summary["n_datasets"]
        assert math.isnan(across["p"]) or 0.0 <= across["p"] <= 1.0

    report = results.with_suffix(".md").read_text()
    for m in COMPARE_METHODS:
        assert LABELS[m] in report
    assert "## Headline" in report and f"rank @{budget}" in report and "Mann-Whitney" in report
    by_source = {(r["method"], r["source"]): r for r in proposals_by_source(summary["runs"], start=0)}
    assert ("optuna_tpe", "tpe") in by_source and ("tunegraph_llm_tpe_warm", "meta") in by_source
    assert all(0.0 <= r["percentile"] <= 1.0 and 0.0 <= r["improved"] <= 1.0 for r in by_source.values())
    assert sum(r["trials"] for k, r in by_source.items() if k[0] == "optuna_random") == 2 * 2 * budget
    assert "## Trials by source" in report
    for png in ("compare_regret.png", "compare_regret_datasets.png", "compare_time.png"):
        assert (results.parent / png).stat().st_size > 1000

    # resumable: a second start finds nothing to do and rewrites the same report
    assert compare.main(argv) == 0
    assert len(read_rows(results)) == len(rows) and not working_path(results).exists()
    assert ANCHOR in summary["methods"]


def test_portfolio_suite_smoke_runs_per_budget_and_reports_both_anchors(tiny_index: Path, tiny_matrix: Path,
                                                                       tmp_path: Path, capsys):
    from tunegraph.agents.initializer import portfolio_size
    from tunegraph.tools.ml.cash import CASH_FAMILIES

    results = tmp_path / "out" / "compare_portfolio.jsonl"
    argv = ["--suite", "portfolio", "--smoke", "--llm", "none", "--jobs", "1", "--datasets", str(tiny_index),
            "--results", str(results), "--metadataset", str(SHIPPED), "--matrix", str(tiny_matrix)]
    smoke = compare.parse_args(argv)  # the CI configuration: every method of the suite but the embedded-LLM one
    assert smoke.methods == [m for m in PORTFOLIO_METHODS if m != "tunegraph_llm_tpe_adaptive"]
    assert smoke.budgets == [1, 2, 4] and smoke.results == str(results)
    # tunegraph_tpe_warm (last round's, portfolio off) runs in the test above: leave it out here for time
    argv += ["--methods", *(m for m in smoke.methods if m != "tunegraph_tpe_warm")]
    assert compare.main([*argv, "--dry-run"]) == 0  # the plan, before anything ran
    plan = capsys.readouterr().out
    args = compare.parse_args(argv)
    n_runs = 2 * 2 * sum(len(run_budgets(m, args.budgets)) for m in args.methods)
    assert f"total: {n_runs} runs ({n_runs} to do" in plan
    assert compare.main(argv) == 0

    assert archive_path(results).is_file() and not working_path(results).exists()
    rows = read_rows(results)
    setting = compare.setting_of(args)
    runs = [r for r in rows if r["kind"] == "run"]
    assert len(runs) == n_runs  # per data set and seed: one run per budget > 1 of the portfolio methods
    assert not [r for r in rows if r["kind"] == "recommendation"]
    for r in runs:
        assert r["setting"] == setting and r["wall_s"] >= r["objective_s"] >= 0
        assert r["graph_s"] == pytest.approx(r["wall_s"] - r["objective_s"] - r.get("llm_latency_s", 0.0))
        if r["method"] in PER_BUDGET:
            k = portfolio_size(-1, r["budget"])
            assert r["budget"] in (2, 4) and len(r["values"]) == r["budget"]
            assert r["sources"][:k] == ["portfolio"] * k and "portfolio" not in r["sources"][k:]
            assert r["matrix"]["tasks"] == len(TINY) and r["context"]["portfolio"] == -1
            assert r["context"]["exclude_tasks"] == [r["dataset"]] and r["context"]["llm"] == "none"
            assert r["context"]["model"] == ("auto" if GRAPH_METHODS[r["method"]].across else "knn")
            assert r["context"]["space_box"] == GRAPH_METHODS[r["method"]].space_box  # not the product's default
        else:
            assert r["budget"] is None and len(r["values"]) == 4 and r["matrix"] is None
        if r["method"] in ("optuna_tpe_cash", "optuna_random_cash", "tunegraph_default", "tunegraph_box"):
            assert set(r["families"]) <= set(CASH_FAMILIES[r["task_type"]])

    # the portfolio's task weighting of each held-out data set: chosen by the inner leave-one-out, cached
    (neighbors,) = json.loads(compare.nested_cache(results).read_text()).values()
    assert sorted(neighbors) == sorted({r["dataset"] for r in runs})
    assert set(neighbors.values()) <= {s.n_neighbors for s in SETTINGS}
    assert all(r["context"]["portfolio_neighbors"] == neighbors[r["dataset"]] for r in runs if r["method"] in PER_BUDGET)

    summary = summarize(rows, setting, args.budgets, args.methods)
    assert summary["n_datasets"] == 2 and not summary["pending"] and summary["anchors"] == list(ANCHORS)
    for name, entries in summary["entries"].items():  # budget 1 of a portfolio method: its smallest run's first
        for m in PER_BUDGET:  # trial, the same in every run of that seed (the portfolio's first member)
            if m in entries:
                assert all(e[2]["values"][0] == pytest.approx(e[4]["values"][0]) for e in entries[m]), (name, m)
        firsts = [e[2]["values"][0] for e in entries["tunegraph_default"]]
        assert summary["tables"][name]["methods"]["tunegraph_default"][1]["scores"] == pytest.approx(firsts)
        fours = [max(e[4]["values"]) if summary["tables"][name]["sign"] > 0 else min(e[4]["values"])
                 for e in entries["tunegraph_default"]]
        assert summary["tables"][name]["methods"]["tunegraph_default"][4]["scores"] == pytest.approx(fours)
    for b in args.budgets:
        for a in ANCHORS:
            for m, wtl in summary["wtl"][a][b].items():
                assert sum(wtl.values()) == 2, (a, b, m)
                p = summary["across"][a][b][m]["p_less"]
                assert math.isnan(p) or 0.0 <= p <= 1.0
        for m in summary["methods"]:
            assert 0.0 <= summary["median_regret"][b][m] <= 1.0
    report = results.with_suffix(".md").read_text()
    assert "## Headline" in report and "## Verdict" in report and "p vs TPE across families" in report
    assert "the default path makes no LLM call" in report and "snapshot sha256" in report
    assert "a setting is kept only if it beats the search without it" in report  # the box vs the full space
    assert all(f"| {LABELS['tunegraph_box']} | {b} | " in report for b in args.budgets)
    for m in args.methods:
        assert LABELS[m] in report
    for png in ("compare_portfolio_regret.png", "compare_portfolio_regret_datasets.png", "compare_portfolio_time.png"):
        assert (results.parent / png).stat().st_size > 1000
    assert compare.main(argv) == 0  # resumable: nothing left to do
    assert len(read_rows(results)) == len(rows)


def _per_dataset(diffs: list[float]) -> dict:
    """Per-data-set entries at budget 10: the anchor's regret 0.5, the method's 0.5 + diff."""
    return {f"d{i}": {10: {ANCHOR: {"regret": 0.5}, "m": {"regret": 0.5 + d}}} for i, d in enumerate(diffs)}


def test_across_datasets_tells_a_consistent_gain_from_a_mixed_one():
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
