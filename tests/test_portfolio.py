"""Greedy portfolios on small synthetic matrices, and the matrix build on real data (resumable)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from tunegraph.tools.meta import config_matrix, metadataset
from tunegraph.tools.meta.config_matrix import PoolConfig, build_pool, sobol_configs
from tunegraph.tools.meta.portfolio import (
    FAILED_REGRET,
    greedy_portfolio,
    regret_table,
    similarity_weights,
    task_portfolio,
)
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES


def cells(scores: dict[tuple[str, str], float | None], task_type="classification", family_of=None) -> pd.DataFrame:
    """A matrix frame from {(task, config): score or None for a failed cell}; higher is better."""
    rows = []
    for (task, config), score in scores.items():
        family = (family_of or {}).get(config, "knn")
        rows.append({"task": task, "task_type": task_type, "metric": "accuracy", "direction": "maximize",
                     "family": family, "config_id": config, "origin": "sobol",
                     "params": json.dumps({"n_neighbors": int(config[1:]) if config[1:].isdigit() else 5}),
                     "status": "ok" if score is not None else "failed", "score_mean": score, "score_std": 0.0,
                     "fit_time_s": 0.1, "n_folds": 5, "error": "" if score is not None else "boom",
                     **{f"mf_{k}": 1.0 for k in META_FEATURE_NAMES}})
    return pd.DataFrame(rows, columns=config_matrix.CELL_COLUMNS)


def two_clusters() -> pd.DataFrame:
    """Tasks a1..a3 like config c1, b1..b3 like c2; c0 is decent everywhere and best on no task."""
    scores = {}
    for t in ("a1", "a2", "a3"):
        scores |= {(t, "c0"): 0.80, (t, "c1"): 0.95, (t, "c2"): 0.50, (t, "c3"): 0.40}
    for t in ("b1", "b2", "b3"):
        scores |= {(t, "c0"): 0.80, (t, "c1"): 0.50, (t, "c2"): 0.95, (t, "c3"): 0.40}
    return cells(scores)


def test_a_portfolio_over_two_clusters_beats_the_best_single_configuration():
    table = regret_table(two_clusters())
    r = table.to_numpy()
    single = int(np.argmin(r.mean(axis=0)))
    assert table.columns[single] == "c0"  # the best single configuration is the compromise
    picks = greedy_portfolio(r, k=2)
    chosen = [table.columns[j] for j in picks]
    portfolio_regret = r[:, picks].min(axis=1).mean()
    assert chosen[0] == "c0" and chosen[1] in ("c1", "c2")
    four = greedy_portfolio(r, k=3)
    assert {table.columns[j] for j in four[1:]} == {"c1", "c2"}  # the later picks cover each cluster
    assert r[:, four].min(axis=1).mean() == pytest.approx(0.0)
    assert portfolio_regret < r[:, single].mean()


def test_a_failed_cell_counts_as_a_bad_outcome():
    scores = {("t1", "c0"): 0.9, ("t1", "c1"): 0.7, ("t1", "c2"): 0.1, ("t1", "c3"): 0.1,
              ("t2", "c0"): None, ("t2", "c1"): 0.8, ("t2", "c2"): 0.9, ("t2", "c3"): 0.1}
    table = regret_table(cells(scores))
    assert table.loc["t2", "c0"] == FAILED_REGRET
    # c0 is best on t1 but fails t2: with failures ignored it would look perfect (regret 0 where it ran)
    picks = greedy_portfolio(table.to_numpy(), k=1)
    assert table.columns[picks[0]] == "c1"


def test_regret_is_normalized_within_each_task_and_minimized_metrics_are_flipped():
    frame = cells({("t", "c0"): 3.0, ("t", "c1"): 1.0, ("t", "c2"): 2.0})
    frame["direction"] = "minimize"
    table = regret_table(frame)
    assert table.loc["t"].tolist() == pytest.approx([1.0, 0.0, 0.5])
    wide = regret_table(frame, scale={"t": (0.0, 3.0)})  # a better score known elsewhere widens the range
    assert wide.loc["t", "c1"] == pytest.approx(1 / 3)


def test_task_conditional_weights_pick_the_neighbours_configuration_first():
    table = regret_table(two_clusters())
    tasks = list(table.index)
    distances = {"a1": 5.0, "a2": 5.0, "a3": 5.0, "b1": 0.1, "b2": 0.2, "b3": 0.3}
    w = similarity_weights(distances, tasks, n_neighbors=3, floor=0.01)
    assert w.tolist() == [0.01, 0.01, 0.01, 1.0, 1.0, 1.0]
    picks = greedy_portfolio(table.to_numpy(), k=2, weights=w)
    assert table.columns[picks[0]] == "c2"  # the config of the b cluster the new task is near


def test_leave_one_out_excludes_the_held_out_column_and_its_own_best():
    frame = two_clusters()
    # c9 is b1's own best configuration: perfect on b1 only; it must not reach b1's portfolio
    frame = pd.concat([frame, cells({(t, "c9"): (1.0 if t == "b1" else 0.3)
                                     for t in ("a1", "a2", "a3", "b1", "b2", "b3")})], ignore_index=True)
    frame.loc[frame.config_id == "c9", "origin"] = "best:b1"
    full = task_portfolio(frame, "classification", k=6)
    assert "c9" in [m.config_id for m in full]
    held_out = task_portfolio(frame, "classification", k=6, exclude_tasks=("b1",))
    assert "c9" not in [m.config_id for m in held_out]
    # the held-out column is gone: b1 scores changed to favour c3 must not change the portfolio
    tweaked = frame.copy()
    tweaked.loc[(tweaked.task == "b1") & (tweaked.config_id == "c3"), "score_mean"] = 5.0
    again = task_portfolio(tweaked, "classification", k=6, exclude_tasks=("b1",))
    assert [m.config_id for m in again] == [m.config_id for m in held_out]
    # the member record counts the similar tasks on which it was within 1% of the best
    near = task_portfolio(frame, "classification", k=3, exclude_tasks=("b1",),
                          distances={"b2": 0.1, "b3": 0.2, "a1": 1.0, "a2": 2.0, "a3": 3.0}, n_similar=2)
    by_id = {m.config_id: m for m in near}
    assert by_id["c2"].near_best == 2 and by_id["c2"].n_similar == 2


def test_greedy_matches_flaml_with_a_zero_regret_bound():
    flaml_greedy = pytest.importorskip("flaml.default.greedy")
    rng = np.random.default_rng(3)
    r = rng.uniform(0.05, 1.0, (6, 9))
    r[np.arange(6), np.arange(6)] = 0.0  # each task's best is its own configuration: no ties on the way
    regret = pd.DataFrame(r.T, index=[f"c{j}" for j in range(9)], columns=[f"t{i}" for i in range(6)])
    theirs = flaml_greedy.construct_portfolio(regret, None, 0.0)  # stops once every task is at regret 0
    assert len(theirs) >= 3
    assert [f"c{j}" for j in greedy_portfolio(r, k=len(theirs))] == theirs


def test_sobol_samples_fill_the_space_and_stay_inside_it():
    space = get_family("xgboost").search_space("classification")
    configs = sobol_configs(space, 32, seed=0)
    assert all(space.contains(c) for c in configs)
    depths = [c["max_depth"] for c in configs]
    assert min(depths) <= 3 and max(depths) >= 11  # spread over the range, not clustered
    assert sobol_configs(space, 32, seed=0) == configs


def test_pool_holds_defaults_each_tasks_best_and_sobol_samples():
    records = []
    for task in ("t1", "t2"):
        for k, score in ((3, 0.7), (9, 0.9 if task == "t1" else 0.6), (25, 0.8 if task == "t2" else 0.5)):
            records.append(metadataset.make_record(
                task=task, task_type="classification", metric="accuracy", direction="maximize",
                meta_features={m: 1.0 for m in META_FEATURE_NAMES}, family="knn",
                params={"n_neighbors": k, "weights": "uniform", "p": 2}, score_mean=score, score_std=0.0,
                fit_time_s=0.1, n_folds=5, source="random"))
    pool = build_pool(metadataset.records_to_frame(records), families=("knn",), min_configs=10, min_sobol=4)
    origins = [p.origin for p in pool]
    assert origins[0] == "default" and pool[0].params is None
    assert origins[1:3] == ["best:t1", "best:t2"]
    assert pool[1].params["n_neighbors"] == 9 and pool[2].params["n_neighbors"] == 25
    assert origins.count("sobol") == 7 and len(pool) == 10
    assert len({json.dumps(p.params, sort_keys=True) for p in pool}) == len(pool)  # no repeats


def small_folder(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.assign(species=y).to_csv(tmp_path / "iris.csv", index=False)
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X.head(150).assign(progression=y.head(150)).to_csv(tmp_path / "diab.csv", index=False)
    (tmp_path / "index.json").write_text(json.dumps({
        "iris": {"file": "iris.csv", "target": "species", "task": "classification", "rows": 150},
        "diab": {"file": "diab.csv", "target": "progression", "task": "regression", "rows": 150}}))
    return tmp_path


def test_matrix_build_runs_every_config_on_every_task_and_resumes(tmp_path, monkeypatch):
    folder = small_folder(tmp_path / "data")
    pool = [PoolConfig("knn:000", "knn", "default", None),
            PoolConfig("knn:001", "knn", "sobol", {"n_neighbors": 3, "weights": "distance", "p": 1}),
            PoolConfig("logistic_regression:000", "logistic_regression", "default", None),
            PoolConfig("ridge:000", "ridge", "default", None)]
    out = tmp_path / "m.parquet"
    config_matrix.save_pool(pool, tmp_path / "m.pool.json")
    seen = []
    summary = config_matrix.build_matrix(folder, out, families=("knn", "linear"), folds=3,
                                         on_progress=lambda *a: seen.append(a))
    frame = config_matrix.load_matrix(out)
    assert summary["cells"] == 6 and len(seen) == 4  # 2 tasks x (2 knn + 1 linear)
    assert set(frame[frame.task == "iris"].config_id) == {"knn:000", "knn:001", "logistic_regression:000"}
    assert set(frame[frame.task == "diab"].config_id) == {"knn:000", "knn:001", "ridge:000"}
    assert (frame.status == "ok").all() and frame.score_mean.notna().all()
    assert json.loads(frame[(frame.task == "iris") & (frame.config_id == "knn:000")].params.iloc[0])["n_neighbors"] == 5

    # a crash cut the log's last line and lost a unit: the rerun does only what is missing
    log = tmp_path / "m.parquet.log.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    calls = []
    real = config_matrix.evaluate_unit
    monkeypatch.setattr(config_matrix, "evaluate_unit", lambda *a: calls.append(a[2]) or real(*a))
    again = config_matrix.build_matrix(folder, out, families=("knn", "linear"), folds=3)
    assert len(calls) == 1 and again["cells"] == 6
