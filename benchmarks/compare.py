"""TuneGraph against its anchors: plain Optuna TPE and random search, on the same objective.

A benchmark script, not a test (its smoke configuration is: tests/test_compare_smoke.py); the methods
are run by ``benchmarks/common`` (``methods``: the catalogue, ``optuna_loops`` and ``graph_runs``: the runs).
For each data set of a folder with an ``index.json`` (default ../shared/datasets) and each seed,
every method tunes over the same cross-validation (``tools.trials.evaluation.cross_validate_config``,
``--folds`` folds, folds and models seeded by the run's seed). Two suites:

``--suite compare`` (last round's, the default): every method tunes one model family (``--family``,
default xgboost) over its default search space, on ``FULL_DATASETS``:

* ``optuna_tpe``: a plain Optuna ask/tell loop with ``TPESampler(seed=seed)`` (10 random
  start-up trials, Optuna's default), in-memory storage. The anchor.
* ``optuna_random``: the same loop with ``RandomSampler(seed=RANDOM_SEED_OFFSET + seed)``.
* ``tunegraph_tpe`` (ablation): the optimize graph with ``--llm none --sampler tpe``: TPE, but
  started from the library defaults as TuneGraph's Initializer does.
* ``tunegraph_llm_tpe``: the optimize graph, ``sampler=llm_tpe`` (a fixed coin of p_llm 0.5) with
  ``--llm`` (default: the embedded SmolLM2-135M).
* ``tunegraph_llm_tpe_warm``: the same with ``warm_start=K`` (default 3): the recommend graph's
  top K configurations are enqueued as trials with source 'meta' by the graph's own
  ``warm_start`` node. The recommendation is computed once per data set, leave-one-dataset-out
  (the data set's rows removed from the meta-dataset; the user layer is an empty temp dir), and
  replayed to that node in every seed's run (see ``common.graph_runs.replayed_recommendation``).
* ``tunegraph_tpe_warm``: the same warm start, then TPE (``sampler=tpe``), with ``--llm`` for the
  Initializer's first configurations and the recommendation: the LLM shapes the start only, no
  per-trial LLM proposals. Added after seeds 0-4 of the other methods had shown the LLM Optimizer's
  proposals to be the weak part (README, "Benchmarks"); same seeds and setting.
* ``recommender``: zero trials: the recommendation's configuration, cross-validated with each
  seed's folds.

These reproduce last round: ``portfolio=0`` (the Initializer's start), and the recommendation is
computed without the configuration matrix (``$TUNEGRAPH_MATRIX`` points at no file), so it is the
meta-learner's.

``--suite portfolio`` (issue 15: does the portfolio-initialized search across families beat Optuna
TPE with p < 0.05?): every data set of the index but ``PORTFOLIO_LEFT_OUT``, budgets 1 5 10 20,
5 seeds, results ``benchmarks/results/compare_portfolio.jsonl`` (see benchmarks/compare_portfolio.md):

* ``optuna_tpe``: as above, on ``--family`` (xgboost).
* ``optuna_tpe_cash`` / ``optuna_random_cash``: the plain loop with ``TPESampler(seed=seed)`` /
  ``RandomSampler(seed=RANDOM_SEED_OFFSET + seed)`` over the space TuneGraph searches across
  families: ``study.ask()``, then ``cash_space(task_type).suggest(trial)``, evaluated as family 'auto'.
* ``tunegraph_default``: the optimize graph with its defaults of before 2 Dec 2026 (the full space,
  ``space_box`` off): model 'auto', sampler tpe, portfolio
  -1 (K = min(8, trials // 2) members of the configuration matrix's greedy portfolio first, then
  TPE), ``llm=none`` (the default path makes no LLM call); graph input ``exclude_tasks=[name]``
  (leave-one-dataset-out: the data set's matrix column and its own best configurations leave the
  portfolio).
* ``tunegraph_portfolio_xgb``: the same on ``--family`` alone.
* ``tunegraph_tpe_warm``: last round's, as above (``portfolio=0``, the matrix-less recommendation).
* ``tunegraph_llm_tpe_adaptive``: ``sampler=llm_tpe`` with ``--llm`` and its adaptive LLM share,
  model 'auto', portfolio -1, ``exclude_tasks``; only on ``--llm-datasets`` (default ``LLM_DATASETS``).
* ``tunegraph_box``: ``tunegraph_default`` with ``space_box``, the product's default since 2 Dec 2026
  (``tunegraph_default`` is its full-space form, the default until then): after the portfolio, TPE
  searches the box of the best configurations of past tasks (the held-out one excluded) and the portfolio.

The portfolio methods' first trials depend on the budget, so they run once per budget (budget 1 is
read from the first trial of their smallest run: K is 1 there, and the greedy portfolio's first
member is the same for every K); the others run ``max(--budgets)`` trials once, and the score at a
smaller budget B is the best of its first B trials (the anytime curve). The configuration matrix
(``--matrix``) is copied once per start of this script and the copy is what the runs read (a build
may be rewriting the original); each run's row records the copy's sha256.

Every graph run has ``patience=0`` and ``learn=False``, SQLite storage and checkpoints in a temp
dir, as the CLI has them. Results are JSON lines (one per recommendation and per run; resumable:
finished lines are never redone, a failed job is retried on the next start; seed-major order, so a
partial result holds every data set and method for its first seeds), appended to a working file
(``compare.jsonl``, not committed) and compressed into ``compare.jsonl.gz`` once nothing is left to
do (``benchmarks/common/results.py``), and a Markdown report with plots
(``benchmarks/common/report.py``), which can be rebuilt from partial results at any time.

    python benchmarks/compare.py                       # last round's full run (see README, "Benchmarks")
    python benchmarks/compare.py --suite portfolio     # issue 15's full run
    python benchmarks/compare.py --suite portfolio --dry-run   # its plan: runs, trials, time estimate
    python benchmarks/compare.py --smoke --llm none    # 2 data sets, 1 budget, 2 seeds
    python benchmarks/compare.py --report-only         # rebuild the report from what is finished
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

from benchmarks.common.data import indexed_task, task_info  # noqa: E402
from benchmarks.common.graph_runs import isolated_home, matrix_env, recommendation, run_graph, run_recommender  # noqa: E402
from benchmarks.common.machine import load_avg, log, quiet  # noqa: E402
from benchmarks.common.methods import (  # noqa: E402
    COMPARE_METHODS,
    GRAPH_METHODS,
    METHODS,
    NEEDS_RECOMMENDATION,
    PER_BUDGET,
    PLAIN_METHODS,
    PORTFOLIO_METHODS,
    SUBSET,
    run_budgets,
    uses_matrix,
)
from benchmarks.common.optuna_loops import run_plain  # noqa: E402
from benchmarks.common.paths import BUILD_MATRIX, DEFAULT_DATASETS, RESULTS, SHIPPED_METADATASET  # noqa: E402
from benchmarks.common.portfolio import nested_neighbors, snapshot_matrix  # noqa: E402
from benchmarks.common.report import write_report  # noqa: E402
from benchmarks.common.results import append_row, archive, read_rows, working_path  # noqa: E402
from benchmarks.common.stats import best  # noqa: E402

# The full run: 6 classification and 6 regression data sets of up to 1,500 rows from ../shared/datasets,
# spread over sizes (167 to 1,338 rows), binary, multi-class and regression metrics; left out: segment
# (its xgboost fits are 30x slower than the others') and near-trivial sets (banknote, wisconsin: AUC ~ 1).
FULL_DATASETS = ("servo", "sonar", "cpu_performance", "glass", "tips", "ecoli", "ionosphere", "mpg",
                 "boston_housing", "pima_diabetes", "credit_g", "insurance")
# The portfolio suite takes every data set of the index but PORTFOLIO_LEFT_OUT (name -> reason). The time cap:
# one seed of every method but the embedded-LLM one must fit in TIME_CAP_MIN minutes on one thread, estimated
# from the configuration matrix's fit times (--dry-run prints the estimate per data set and warns of any chosen
# one over it). With the matrix of 2 Dec (35 of 37 data sets; the others' times from the meta-dataset, scaled)
# every data set fits: the slowest are diamonds ~15, adult ~12, hypothyroid, segment and taxis ~11 minutes (a
# spot check of random xgboost configurations on hypothyroid: 0.6-1.3 s per fold, as its matrix cells say;
# the meta-dataset's 5 s per fold are not what a run pays), the median ~4. So none is left out.
TIME_CAP_MIN = 20.0
PORTFOLIO_LEFT_OUT: dict[str, str] = {}
# The embedded-LLM method runs on last round's 12 data sets only (an LLM call takes ~13 s on 2 cores, and the
# same data sets let its adaptive share be read against last round's fixed one).
LLM_DATASETS = FULL_DATASETS
SUITES = {
    "compare": {"methods": COMPARE_METHODS, "budgets": [10, 20, 30], "results": RESULTS / "compare.jsonl",
                "smoke": {"budgets": [5], "seeds": 2, "folds": 3, "family": "knn", "n_datasets": 2}},
    "portfolio": {"methods": PORTFOLIO_METHODS, "budgets": [1, 5, 10, 20],
                  "results": RESULTS / "compare_portfolio.jsonl",
                  "smoke": {"budgets": [1, 2, 4], "seeds": 2, "folds": 3, "family": "knn", "n_datasets": 2}},
}
SMOKE = SUITES["compare"]["smoke"]
SMOKE_SKIPS = ("tunegraph_llm_tpe_adaptive",)  # the smoke runs without the embedded LLM
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TUNEGRAPH_LLM_THREADS")
# --dry-run's estimate, besides the matrix's fit times (last round's measurements on this 2-core machine,
# benchmarks/results/compare.md): graph overhead per trial, an embedded-LLM call, a recommendation with it
GRAPH_S_PER_TRIAL, GRAPH_S_PER_RUN, LLM_S_PER_CALL = 0.16, 1.0, 13.0
RECOMMEND_S = {"llm": 41.0, "none": 10.0}


def default_matrix(metadataset: str | Path) -> Path:
    """``$TUNEGRAPH_MATRIX``, else the matrix shipped beside ``metadataset``, else the one being built."""
    if os.environ.get("TUNEGRAPH_MATRIX"):
        return Path(os.environ["TUNEGRAPH_MATRIX"])
    shipped = Path(metadataset).with_name("config_matrix.parquet")
    return shipped if shipped.is_file() else BUILD_MATRIX


# ---- settings and keys -------------------------------------------------------------------------

def setting_of(args) -> dict[str, Any]:
    """What makes two runs comparable; rows of another setting in the same file are ignored."""
    return {"family": args.family, "folds": args.folds, "trials": max(args.budgets), "llm": args.llm,
            "warm_start": args.warm_start, "p_llm": args.p_llm, "max_rows": args.max_rows}


def setting_id(setting: dict[str, Any]) -> str:
    return ";".join(f"{k}={setting[k]}" for k in sorted(setting))


def rec_key(dataset: str, setting: dict[str, Any]) -> str:
    return f"rec|{dataset}|{setting['family']}|{setting['llm']}|k={setting['warm_start']}"


def run_key(dataset: str, method: str, seed: int, setting: dict[str, Any], budget: int = 0) -> str:
    """A run's key; ``budget`` for the runs of a portfolio method (one per budget), 0 for the anytime run."""
    return f"run|{dataset}|{method}|{seed}|{setting_id(setting)}" + (f"|budget={budget}" if budget else "")


def nested_cache(results: Path) -> Path:
    """Where the portfolio's task weighting chosen per held-out data set is cached, beside the results."""
    return results.with_name(results.stem + "_nested_settings.json")


# ---- the jobs (in worker processes) ------------------------------------------------------------

def recommend_job(datasets: str, name: str, entry: dict[str, Any], setting: dict[str, Any]) -> dict[str, Any]:
    """The recommendation's row: once per data set, before the runs that need it."""
    return {"kind": "recommendation", "key": rec_key(name, setting), **recommendation(datasets, name, entry, setting)}


def run_job(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int, setting: dict[str, Any],
            rec: dict[str, Any] | None, budget: int = 0, matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    """One (data set, method, seed) run (of ``budget`` trials for a portfolio method, else of
    ``setting['trials']``); returns its JSON line. ``matrix``: the snapshot the portfolio methods read."""
    quiet()
    matrix = matrix if uses_matrix(method) else None
    with isolated_home() as tmp, matrix_env(matrix["path"] if matrix else None, tmp):
        load_before = load_avg()
        if method in PLAIN_METHODS:
            out = run_plain(datasets, name, entry, method, seed, setting)
        elif method == "recommender":
            out = run_recommender(datasets, name, entry, seed, setting, rec)
        else:
            out = run_graph(datasets, name, entry, method, seed, setting, rec, tmp, budget, matrix)
        info = task_info(*indexed_task(datasets, name, entry, setting["max_rows"]))
    out["graph_s"] = out["wall_s"] - out["objective_s"] - out.get("llm_latency_s", 0.0)  # plain Optuna: its loop
    return {"kind": "run", "key": run_key(name, method, seed, setting, budget), "dataset": name, "method": method,
            "seed": seed, "budget": budget or None, "setting": setting, **info, **out,
            "matrix": {k: v for k, v in matrix.items() if k not in ("path", "neighbors")} if matrix else None,
            "load_avg": [load_before, load_avg()], "pid": os.getpid(),
            "jobs": int(os.environ.get("TUNEGRAPH_COMPARE_JOBS", "1")),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def _guard(fn, *args) -> dict[str, Any]:
    """Run a job; a failure comes back as a row-like dict with the traceback, not an exception."""
    try:
        return fn(*args)
    except Exception as exc:  # one job's failure is reported, the others go on
        return {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}


# ---- what to run -------------------------------------------------------------------------------

def choose_datasets(args, index: dict[str, dict[str, Any]]) -> list[str]:
    if args.only:
        unknown = [n for n in args.only if n not in index]
        if unknown:
            raise SystemExit(f"not in {args.datasets}/index.json: {', '.join(unknown)}; "
                             f"it has: {', '.join(sorted(index))}")
        return list(args.only)
    pool = sorted(n for n in index if n not in PORTFOLIO_LEFT_OUT) if args.suite == "portfolio" else list(index)
    if args.smoke:
        return sorted(pool, key=lambda n: (index[n].get("rows") or 0, n))[:SUITES[args.suite]["smoke"]["n_datasets"]]
    if args.suite == "portfolio":
        return pool
    missing = [n for n in FULL_DATASETS if n not in index]
    if missing:
        raise SystemExit(f"the full run's data sets {', '.join(missing)} are not in {args.datasets}/index.json; "
                         "name the data sets with --only")
    return list(FULL_DATASETS)


def choose_llm_datasets(args, names: list[str]) -> list[str]:
    """The data sets of the methods in ``SUBSET`` (the embedded-LLM one): ``--llm-datasets`` ('all': every
    one), else ``LLM_DATASETS``, of those chosen."""
    wanted = args.llm_datasets or list(LLM_DATASETS)
    if wanted == ["all"]:
        return list(names)
    return [n for n in names if n in wanted]


def selection(args) -> tuple[dict[str, dict[str, Any]], list[str], list[str]]:
    """(the index, the data sets of this run, those of the embedded-LLM method)."""
    from tunegraph.tools.meta.metabuild import read_index

    index = read_index(args.datasets)
    names = choose_datasets(args, index)
    return index, names, choose_llm_datasets(args, names)


Run = tuple[str, str, int, int]  # data set, method, seed, budget (0: the one anytime run)


def plan(args, names: list[str], rows: list[dict[str, Any]],
         llm_names: list[str] | None = None) -> tuple[list[str], list[Run]]:
    """(data sets still needing a recommendation, runs still to do) in seed order, so a partial
    result holds every data set and method for its first seeds (ranks across data sets need that)."""
    setting = setting_of(args)
    llm_names = set(names if llm_names is None else llm_names)
    done = {r["key"] for r in rows if r.get("kind") in ("run", "recommendation")}
    recs = [n for n in names if rec_key(n, setting) not in done
            and any(m in args.methods for m in NEEDS_RECOMMENDATION)]
    runs = [(n, m, s, b) for s in range(args.seeds) for n in names for m in args.methods
            if m not in SUBSET or n in llm_names
            for b in run_budgets(m, args.budgets)
            if run_key(n, m, s, setting, b) not in done]
    return recs, runs


# ---- the driver --------------------------------------------------------------------------------

def execute(args) -> Path:
    """Run what is missing of the configured benchmark, appending to the results' working file; once
    nothing is left to do, compress the results (``common.results.archive``)."""
    results = Path(args.results)
    index, names, llm_names = selection(args)
    setting = setting_of(args)
    rows = read_rows(results)
    recs, runs = plan(args, names, rows, llm_names)
    log(f"data sets: {', '.join(names)}; methods: {', '.join(args.methods)}; seeds: {args.seeds}; "
        f"budgets: {' '.join(map(str, args.budgets))}; setting: {setting_id(setting)}")
    if any(m in SUBSET for m in args.methods):
        log(f"{', '.join(m for m in args.methods if m in SUBSET)} on: {', '.join(llm_names) or 'none'}")
    log(f"to do: {len(recs)} recommendations, {len(runs)} runs; results: {results}")
    if recs or runs:
        _run_missing(args, results, index, setting, recs, runs, rows, names)
        recs, runs = plan(args, names, read_rows(results), llm_names)
    if not recs and not runs and working_path(results).is_file():
        log(f"finished: results compressed into {archive(results)}")
    return results


def _run_missing(args, results: Path, index: dict[str, Any], setting: dict[str, Any], recs: list[str],
                 runs: list[Run], rows: list[dict[str, Any]], names: list[str]) -> None:
    env = {"TUNEGRAPH_METADATASET": str(Path(args.metadataset).resolve()), "TUNEGRAPH_COMPARE_JOBS": str(args.jobs)}
    if args.jobs > 1:  # one thread per worker: they share a small machine (read by the spawned processes)
        env.update({var: os.environ.get(var, "1") for var in THREAD_VARS})
    with tempfile.TemporaryDirectory(prefix="tunegraph-compare-matrix-") as folder:
        matrix = None
        if any(uses_matrix(m) for _, m, _, _ in runs) and args.matrix != "none":
            matrix = snapshot_matrix(Path(args.matrix), Path(folder))
        if matrix:
            log(f"configuration matrix: {matrix['source']} (copy sha256 {matrix['sha256'][:12]}, "
                f"{matrix['cells']} cells, {matrix['tasks']} data sets)")
            matrix["neighbors"] = nested_neighbors(matrix, args.metadataset, names, nested_cache(results))
            log("portfolio task weighting chosen without the held-out data set (nearest data sets weighed 1; "
                "0: all alike): " + ", ".join(f"{n} {k}" for n, k in matrix["neighbors"].items()))
            before = {r["matrix"]["sha256"] for r in rows if r.get("kind") == "run" and r.get("matrix")}
            if before - {matrix["sha256"]}:
                log(f"note: {results} holds runs of {len(before - {matrix['sha256']})} other matrix version(s); "
                    "the report says which runs read which")
        with environment(env):
            _execute(args, results, index, setting, recs, runs, matrix)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the jobs (and the workers spawned meanwhile), then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _execute(args, results: Path, index: dict[str, Any], setting: dict[str, Any], recs: list[str],
             runs: list[Run], matrix: dict[str, Any] | None) -> None:
    pool = (ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) if args.jobs > 1
            else None)
    started = time.perf_counter()

    def submit(fn, *a):
        return pool.submit(_guard, fn, *a) if pool else _Lazy(_guard, fn, *a)

    try:
        futures = {submit(recommend_job, args.datasets, n, index[n], setting): ("recommendation", n) for n in recs}
        for future in _completed(futures, pool):
            row = _result(future)
            what = futures[future]
            if row["kind"] == "error":
                log(f"{what[1]}: recommendation failed: {row['error']}\n{row['traceback']}")
                continue
            append_row(results, row)
            log(f"{what[1]}: recommended {json.dumps(row['final']['params'])} ({row['final']['source']}) "
                f"in {row['response_s']:.1f} s, {row['meta_rows']} meta-dataset rows (held out)")
        recs_by = {r["dataset"]: r for r in read_rows(results)
                   if r.get("kind") == "recommendation" and r["key"] == rec_key(r["dataset"], setting)}
        todo = [run for run in runs if run[1] not in NEEDS_RECOMMENDATION or run[0] in recs_by]
        for n, m, s, _ in runs:
            if m in NEEDS_RECOMMENDATION and n not in recs_by:
                log(f"{n} {m} seed {s}: skipped, no recommendation")
        futures = {submit(run_job, args.datasets, n, index[n], m, s, setting, recs_by.get(n), b, matrix): (n, m, s, b)
                   for n, m, s, b in todo}
        done = 0
        for future in _completed(futures, pool):
            row = _result(future)
            n, m, s, b = futures[future]
            what = f"{n} {m} seed {s}" + (f" budget {b}" if b else "")
            done += 1
            if row["kind"] == "error":
                log(f"{what}: failed: {row['error']}\n{row['traceback']}")
                continue
            append_row(results, row)
            elapsed = time.perf_counter() - started
            log(f"[{done}/{len(todo)}] {what}: best {best(row['values'], row['direction'], math.nan):.5g} in "
                f"{row['wall_s']:.1f} s (objective {row['objective_s']:.1f} s, LLM {row.get('llm_latency_s', 0):.1f} s"
                f" / {row.get('llm_calls', 0)} calls); ETA {elapsed / done * (len(todo) - done) / 60:.0f} min")
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def _result(future) -> dict[str, Any]:
    """A job's row, or an error row when its worker process died (e.g. a crash inside llama.cpp:
    the pool is broken then, the remaining jobs fail fast, and the next start resumes them)."""
    try:
        return future.result()
    except Exception as exc:
        return {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": ""}


class _Lazy:
    """A 'future' for jobs run in this process (``--jobs 1``): runs when its result is asked for."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def result(self):
        return self.fn(*self.args)


def _completed(futures: dict, pool) -> Iterator:
    return as_completed(futures) if pool else iter(futures)


# ---- the plan without running it (--dry-run) ---------------------------------------------------

def fit_times(matrix: Path | None, metadataset: Path) -> tuple[Any, float]:
    """(data set x family table of mean fit seconds per fold on one thread, the scale applied to the
    meta-dataset's): the matrix's cells; where it has none, the meta-dataset's times scaled to the
    matrix's (they differ: other configurations, another load) by the median ratio of the two on
    that data set's families both have, else on every data set's."""
    import numpy as np
    import pandas as pd

    meta = pd.read_parquet(metadataset, columns=["task", "family", "fit_time_s"])
    meta = meta.pivot_table(index="task", columns="family", values="fit_time_s", aggfunc="mean")
    if matrix is None:
        return meta, 1.0
    cells = pd.read_parquet(matrix, columns=["task", "family", "fit_time_s", "status"])
    cells = cells[cells["status"] == "ok"].pivot_table(index="task", columns="family", values="fit_time_s",
                                                       aggfunc="mean")
    ratios = cells / meta.reindex(index=cells.index, columns=cells.columns)
    flat = ratios.to_numpy().ravel()
    scale = float(np.nanmedian(flat)) if np.isfinite(flat).any() else 1.0
    per_task = ratios.median(axis=1, skipna=True).reindex(meta.index).fillna(scale)
    return cells.combine_first(meta.mul(per_task, axis=0)), scale


def fold_seconds(table, name: str, family: str, task_type: str) -> float:
    """Seconds per fold of ``family`` ('auto': the mean over the searched families) on ``name``; a
    family the table lacks for the data set counts at its median over the data sets."""
    from tunegraph.tools.ml.cash import AUTO, CASH_FAMILIES

    families = CASH_FAMILIES[task_type] if family == AUTO else (family,)
    times = []
    for f in families:
        if f not in table.columns:
            continue
        v = table[f].get(name, math.nan)
        times.append(float(v) if v == v else float(table[f].median()))
    return statistics.fmean(times) if times else math.nan


def run_estimate(method: str, trials: int, seconds_per_fold: float, setting: dict[str, Any]) -> tuple[float, float]:
    """(estimated seconds of one run on one thread, of which LLM seconds)."""
    from tunegraph.agents.initializer import portfolio_size

    objective = trials * setting["folds"] * seconds_per_fold
    spec = GRAPH_METHODS.get(method)
    if spec is None:  # plain Optuna or the recommender (one CV per seed)
        return (setting["folds"] * seconds_per_fold if method == "recommender" else objective), 0.0
    calls = 0.0
    if spec.uses_llm and setting["llm"] != "none":
        if method in PER_BUDGET:  # no Initializer call: the portfolio starts the run; then the LLM's share
            calls = (trials - portfolio_size(-1, trials)) * setting["p_llm"]
        else:  # the Initializer's call, and the Optimizer's share of the rest with llm_tpe
            calls = 1 + ((trials - 3) * setting["p_llm"] if spec.sampler == "llm_tpe" else 0.0)
    llm = calls * LLM_S_PER_CALL
    return objective + trials * GRAPH_S_PER_TRIAL + GRAPH_S_PER_RUN + llm, llm


def dry_run(args) -> dict[str, Any]:
    """The full plan (runs, trials, what is left) and its time estimate from the matrix's fit times; runs nothing."""
    from tunegraph.tools.ml.cash import AUTO

    index, names, llm_names = selection(args)
    setting = setting_of(args)
    _, everything = plan(args, names, [], llm_names)
    recs_left, left = plan(args, names, read_rows(Path(args.results)), llm_names)
    n_recs = len(names) if any(m in args.methods for m in NEEDS_RECOMMENDATION) else 0
    with tempfile.TemporaryDirectory(prefix="tunegraph-compare-matrix-") as folder:
        matrix = snapshot_matrix(Path(args.matrix), Path(folder)) if args.matrix != "none" else None
        table, scale = fit_times(Path(matrix["path"]) if matrix else None, Path(args.metadataset))

    def family(m: str) -> str:
        across = (PLAIN_METHODS[m][1] if m in PLAIN_METHODS else GRAPH_METHODS[m].across if m in GRAPH_METHODS
                  else False)
        return AUTO if across else setting["family"]

    def estimate(n: str, m: str, b: int) -> tuple[float, float]:
        return run_estimate(m, b or setting["trials"], fold_seconds(table, n, family(m), index[n]["task"]), setting)

    per_method = {m: {"runs": 0, "trials": 0, "left": 0, "cpu_s": 0.0, "llm_s": 0.0} for m in args.methods}
    left_set = set(left)
    for n, m, s, b in everything:
        cpu, llm = estimate(n, m, b)
        c = per_method[m]
        c["runs"] += 1
        c["trials"] += b or (1 if m == "recommender" else setting["trials"])
        c["left"] += (n, m, s, b) in left_set
        c["cpu_s"] += cpu
        c["llm_s"] += llm
    rec_s = RECOMMEND_S["none" if setting["llm"] == "none" else "llm"] * n_recs
    per_seed = {}  # one seed of every method but the embedded-LLM one, per data set of the index, in minutes
    for n in sorted(index):
        if index[n].get("task") not in ("classification", "regression"):
            continue
        per_seed[n] = sum(estimate(n, m, b)[0] for m in args.methods if m not in SUBSET
                          for b in run_budgets(m, args.budgets)) / 60
    total = sum(c["cpu_s"] for c in per_method.values()) + rec_s
    done_share = 1 - len(left) / max(1, len(everything))
    out = {"datasets": names, "llm_datasets": llm_names, "per_method": per_method, "recommendations": n_recs,
           "recommendations_left": len(recs_left), "runs": len(everything), "runs_left": len(left),
           "trials": sum(c["trials"] for c in per_method.values()), "cpu_h": total / 3600,
           "wall_h": total / 3600 / args.jobs, "per_seed_min": per_seed, "matrix": matrix, "meta_scale": scale}
    print(f"suite {args.suite}: {len(names)} data sets, {args.seeds} seeds, budgets "
          f"{' '.join(map(str, args.budgets))}, setting {setting_id(setting)}")
    left_out = [n for n in index if n not in names]
    for n in left_out:
        print(f"  left out: {n}" + (f" ({PORTFOLIO_LEFT_OUT[n]})" if n in PORTFOLIO_LEFT_OUT else ""))
    if any(m in SUBSET for m in args.methods):
        print(f"  {', '.join(m for m in args.methods if m in SUBSET)} on {len(llm_names)}: {', '.join(llm_names)}")
    print("  matrix: " + (f"{matrix['source']} ({matrix['cells']} cells, {matrix['tasks']} data sets; the "
                            f"meta-dataset's fit times x {scale:.2f} where it has none)" if matrix else "none"))
    print(f"{'method':30} {'runs':>6} {'trials':>8} {'to do':>6} {'est. h':>8} {'of it LLM h':>12}")
    for m, c in per_method.items():
        print(f"{m:30} {c['runs']:>6} {c['trials']:>8} {c['left']:>6} {c['cpu_s'] / 3600:>8.1f} "
              f"{c['llm_s'] / 3600:>12.1f}")
    print(f"{'recommendations':30} {n_recs:>6} {'':>8} {len(recs_left):>6} {rec_s / 3600:>8.1f}")
    print(f"total: {len(everything)} runs ({len(left)} to do, {done_share:.0%} done), {out['trials']} trials; "
          f"estimated {out['cpu_h']:.1f} h on one thread, {out['wall_h']:.1f} h with --jobs {args.jobs} "
          "(on otherwise idle cores)")
    print(f"one seed of every method but the embedded-LLM one, estimated minutes per data set (cap {TIME_CAP_MIN:g}):")
    ranked = sorted(per_seed.items(), key=lambda kv: -kv[1])
    print("  " + ", ".join(f"{n} {v:.1f}" + (" [OVER CAP]" if v > TIME_CAP_MIN else "")
                           + (" [left out]" if n not in names else "") for n, v in ranked))
    over = [n for n in names if per_seed.get(n, 0) > TIME_CAP_MIN]
    if over:
        print(f"warning: chosen data sets over the cap: {', '.join(over)}")
    return out


def suite_notes(args, index: dict[str, Any], names: list[str], llm_names: list[str]) -> list[str]:
    """Lines for the report: which data sets were left out and why, and where the embedded-LLM method ran."""
    if args.suite != "portfolio" or args.only or args.smoke:
        return []
    notes = [f"Data sets: every one of {args.datasets}/index.json ({len(index)}) whose runs fit the time cap (one seed "
             f"of every method but the embedded-LLM one within {TIME_CAP_MIN:g} minutes on one thread, estimated "
             "from the configuration matrix's fit times: `compare.py --suite portfolio --dry-run`), subsampled "
             f"to {args.max_rows} rows where larger; {len(names)} chosen."]
    left_out = [f"**{n}**: {why}" for n, why in PORTFOLIO_LEFT_OUT.items() if n in index]
    notes.append("Left out: " + ("; ".join(left_out) if left_out else "none") + ".")
    if any(m in SUBSET for m in args.methods):
        notes.append(f"The embedded-LLM method runs on {len(llm_names)} data sets (last round's: an LLM call takes "
                     f"~{LLM_S_PER_CALL:g} s here): {', '.join(llm_names)}.")
    return notes


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="TuneGraph vs plain Optuna TPE / random search, leave-one-dataset-out.")
    p.add_argument("--suite", choices=sorted(SUITES), default="compare",
                   help="compare: last round's (one family, FULL_DATASETS, budgets 10 20 30); portfolio: issue 15's "
                        "(the portfolio and the search across families, every data set but PORTFOLIO_LEFT_OUT, "
                        "budgets 1 5 10 20)")
    p.add_argument("--datasets", default=str(DEFAULT_DATASETS),
                   help="folder with index.json (default: ../shared/datasets)")
    p.add_argument("--only", nargs="+", help="these data sets (default: the suite's)")
    p.add_argument("--methods", nargs="+", choices=METHODS, help="default: the suite's")
    p.add_argument("--budgets", nargs="+", type=int,
                   help="trial budgets (default: 10 20 30; the portfolio suite's 1 5 10 20)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per data set and method (default: 5)")
    p.add_argument("--family", default="xgboost", help="model family of the one-family methods (default: xgboost)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--llm", default="embedded", help="LLM of the TuneGraph methods that use one (default: embedded)")
    p.add_argument("--llm-datasets", nargs="+", metavar="NAME",
                   help="data sets of the embedded-LLM method tunegraph_llm_tpe_adaptive ('all': every one; "
                        "default: LLM_DATASETS, last round's 12)")
    p.add_argument("--warm-start", type=int, default=3, metavar="K",
                   help="configurations from the recommender (default: 3)")
    p.add_argument("--p-llm", type=float, default=0.5,
                   help="LLM share in llm_tpe (default: 0.5; the adaptive share's starting point)")
    p.add_argument("--max-rows", type=int, default=5000, help="subsample larger data sets (default: 5000)")
    p.add_argument("--metadataset", default=str(SHIPPED_METADATASET),
                   help="base meta-dataset (default: the shipped one); each data set is held out of it in turn")
    p.add_argument("--matrix", default=None,
                   help="configuration matrix of the portfolio methods, copied at each start (default: "
                        "$TUNEGRAPH_MATRIX, the one beside --metadataset, else "
                        "benchmarks/matrix/config_matrix.parquet; "
                        "'none': no portfolio, the Initializer's defaults)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--results", default=None,
                   help="JSON-lines results, resumable (default: benchmarks/results/compare.jsonl; the portfolio "
                        "suite's compare_portfolio.jsonl); compressed into FILE.gz when finished, and read from it")
    p.add_argument("--report", default=None, help="Markdown report (default: the results path with .md)")
    p.add_argument("--smoke", action="store_true",
                   help="CI configuration: the 2 smallest data sets, 2 seeds, 3 folds, knn, no embedded-LLM method; "
                        f"budgets {SUITES['compare']['smoke']['budgets']} "
                        f"(portfolio suite: {SUITES['portfolio']['smoke']['budgets']})")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (runs, trials, what is left) and its time estimate; run nothing")
    p.add_argument("--report-only", action="store_true", help="only rebuild the report from the results file")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    suite = SUITES[args.suite]
    if args.smoke:  # the smoke configuration overrides what it fixes; the rest stays as given
        smoke = suite["smoke"]
        args.budgets, args.seeds = smoke["budgets"], smoke["seeds"]
        args.folds, args.family = smoke["folds"], smoke["family"]
        if args.methods is None:
            args.methods = [m for m in suite["methods"] if m not in SMOKE_SKIPS]
    args.methods = list(args.methods or suite["methods"])
    args.budgets = sorted(set(args.budgets or suite["budgets"]))
    args.results = str(working_path(args.results or suite["results"]))  # NAME.jsonl: its .gz is read too
    args.matrix = args.matrix or str(default_matrix(args.metadataset))
    if min(args.budgets) < 1 or args.seeds < 1 or args.jobs < 1:
        parser.error("--budgets, --seeds and --jobs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        dry_run(args)
        return 0
    results = Path(args.results)
    if not args.report_only:
        execute(args)
    index, names, llm_names = selection(args)
    report = Path(args.report) if args.report else results.with_suffix(".md")
    summary = write_report(read_rows(results), setting_of(args), args.budgets, report, methods=args.methods,
                           subset_datasets=llm_names, notes=suite_notes(args, index, names, llm_names))
    log(f"report: {report} ({summary['n_datasets']} complete data sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
