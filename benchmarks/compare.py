"""TuneGraph against its anchors: plain Optuna TPE and random search, on the same objective.

A benchmark script, not a test (its smoke configuration is: tests/test_compare_smoke.py).
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
  replayed to that node in every seed's run (see ``replayed_recommendation``).
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
partial result holds every data set and method for its first seeds) and a Markdown report with
plots (``benchmarks/compare_report.py``), which can be rebuilt from partial results at any time.

    python benchmarks/compare.py                       # last round's full run (see README, "Benchmarks")
    python benchmarks/compare.py --suite portfolio     # issue 15's full run
    python benchmarks/compare.py --suite portfolio --dry-run   # its plan: runs, trials, time estimate
    python benchmarks/compare.py --smoke --llm none    # 2 data sets, 1 budget, 2 seeds
    python benchmarks/compare.py --report-only         # rebuild the report from what is finished
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

from benchmarks.compare_report import PER_BUDGET, SUBSET, run_budgets  # noqa: E402 - one list for runner and report
from benchmarks.compare_report import WARM as WARM_METHODS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"
# the matrix being built (benchmarks/matrix/README.md); once shipped, data/config_matrix.parquet is used
BUILD_MATRIX = Path(__file__).resolve().parent / "matrix" / "config_matrix.parquet"


@dataclass(frozen=True)
class GraphMethod:
    """How a TuneGraph method runs the optimize graph (its portfolio is on for ``PER_BUDGET`` methods,
    its warm start for ``WARM_METHODS``)."""

    sampler: str  # tpe | llm_tpe
    uses_llm: bool = False  # the run's --llm; otherwise 'none'
    across: bool = False  # model 'auto' (the search across families); otherwise --family
    adaptive: bool = False  # llm_tpe's adaptive LLM share; otherwise last round's fixed coin of p_llm
    space_box: bool = False  # Context.space_box: TPE in the box of past tasks' best configurations


PLAIN_METHODS = {"optuna_tpe": ("tpe", False), "optuna_random": ("random", False),
                 "optuna_tpe_cash": ("tpe", True), "optuna_random_cash": ("random", True)}  # sampler, across
GRAPH_METHODS = {
    "tunegraph_tpe": GraphMethod("tpe"),
    "tunegraph_llm_tpe": GraphMethod("llm_tpe", uses_llm=True),
    "tunegraph_llm_tpe_warm": GraphMethod("llm_tpe", uses_llm=True),
    "tunegraph_tpe_warm": GraphMethod("tpe", uses_llm=True),
    "tunegraph_default": GraphMethod("tpe", across=True),
    "tunegraph_portfolio_xgb": GraphMethod("tpe"),
    "tunegraph_llm_tpe_adaptive": GraphMethod("llm_tpe", uses_llm=True, across=True, adaptive=True),
    "tunegraph_box": GraphMethod("tpe", across=True, space_box=True),
}
COMPARE_METHODS = ("optuna_tpe", "optuna_random", "tunegraph_tpe", "tunegraph_llm_tpe", "tunegraph_llm_tpe_warm",
                   "tunegraph_tpe_warm", "recommender")
PORTFOLIO_METHODS = ("optuna_tpe", "optuna_tpe_cash", "optuna_random_cash", "tunegraph_default",
                     "tunegraph_portfolio_xgb", "tunegraph_tpe_warm", "tunegraph_llm_tpe_adaptive", "tunegraph_box")
METHODS = (*COMPARE_METHODS, *(m for m in PORTFOLIO_METHODS if m not in COMPARE_METHODS))
NEEDS_RECOMMENDATION = (*WARM_METHODS, "recommender")  # computed once per data set, before their runs
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
RANDOM_SEED_OFFSET = 10_000
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


def uses_matrix(method: str) -> bool:
    return method in PER_BUDGET


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


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path`` (a line cut off by a kill is skipped)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return rows


def append_row(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(row, default=float) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


# ---- worker-side helpers -----------------------------------------------------------------------

@contextlib.contextmanager
def isolated_home() -> Iterator[Path]:
    """A fresh, empty ``$TUNEGRAPH_HOME`` (the user's meta-dataset layer and caches) for one job,
    so no run learns from another and nothing of the user's own layer leaks in."""
    old = os.environ.get("TUNEGRAPH_HOME")
    with tempfile.TemporaryDirectory(prefix="tunegraph-compare-") as tmp:
        os.environ["TUNEGRAPH_HOME"] = str(Path(tmp) / "home")
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("TUNEGRAPH_HOME", None)
            else:
                os.environ["TUNEGRAPH_HOME"] = old


@contextlib.contextmanager
def matrix_env(path: str | None, workdir: Path) -> Iterator[None]:
    """``$TUNEGRAPH_MATRIX`` for one job: the matrix snapshot, or (``None``) a file that does not exist,
    so the job sees no matrix at all (last round's recommendation and Initializer)."""
    from tunegraph.tools.meta import knowledge

    old = os.environ.get("TUNEGRAPH_MATRIX")
    os.environ["TUNEGRAPH_MATRIX"] = path or str(workdir / "no-config-matrix.parquet")
    knowledge.forget()
    try:
        yield
    finally:
        knowledge.forget()
        if old is None:
            os.environ.pop("TUNEGRAPH_MATRIX", None)
        else:
            os.environ["TUNEGRAPH_MATRIX"] = old


def snapshot_matrix(source: Path, folder: Path) -> dict[str, Any] | None:
    """Copy the configuration matrix into ``folder`` (a build may be replacing the original) and
    describe the copy; None, with a warning, where there is no matrix."""
    from tunegraph.tools.meta.config_matrix import load_matrix

    if not source.is_file():
        warnings.warn(f"no configuration matrix at {source}: the portfolio methods start from the "
                      "Initializer's defaults", stacklevel=2)
        return None
    copy = folder / "config_matrix.parquet"
    shutil.copyfile(source, copy)  # the build replaces the file atomically: the copy is one whole version
    frame = load_matrix(copy)
    return {"path": str(copy), "source": str(source), "sha256": hashlib.sha256(copy.read_bytes()).hexdigest(),
            "cells": int(len(frame)), "tasks": int(frame["task"].nunique())}


def _quiet() -> None:
    import optuna

    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(1)


def data_inputs(datasets: str, name: str, entry: dict[str, Any], max_rows: int, workdir: Path) -> dict[str, Any]:
    """The graph's data inputs for an indexed data set: its file, or a subsample as Parquet
    (the same rows ``load_indexed_task`` gives the plain loops)."""
    from tunegraph.tools.meta.metabuild import load_indexed_task

    inputs = {"target": entry["target"], "task_type": entry.get("task") or None}
    if not max_rows or (entry.get("rows") or 0) <= max_rows:
        return {**inputs, "data_path": str(Path(datasets) / entry["file"])}
    task = load_indexed_task(datasets, name, entry, max_rows)
    path = workdir / f"{name}.parquet"
    labels = task.y if task.task_type == "regression" else [task.classes[i] for i in task.y]
    task.X.assign(**{task.target: labels}).to_parquet(path)
    return {**inputs, "data_path": str(path), "task_type": task.task_type}


def _task_info(task, metric) -> dict[str, Any]:
    return {"task_type": task.task_type, "metric": metric.name, "direction": metric.direction,
            "n_rows": int(len(task.y)), "n_classes": int(task.n_classes)}


def _load_avg() -> list[float] | None:
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def _preload_llm(llm: str) -> float:
    """Load the LLM once per process, outside every timing; returns the load time (0 if loaded)."""
    if llm == "none":
        return 0.0
    from tunegraph.tools.trials.runs import get_llm

    t0 = time.perf_counter()
    get_llm(llm)
    return time.perf_counter() - t0


# ---- the recommendation (once per data set) ----------------------------------------------------

def recommend_job(datasets: str, name: str, entry: dict[str, Any], setting: dict[str, Any]) -> dict[str, Any]:
    """Leave-one-dataset-out recommendation for ``name`` with the run's family and LLM: last round's,
    the meta-learner's (no configuration matrix, so neither its portfolio nor its cells)."""
    _quiet()
    from tunegraph.graphs.context import Context
    from tunegraph.graphs.recommend import graph as recommend_graph
    from tunegraph.tools.meta import knowledge
    from tunegraph.tools.trials.evaluation import default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task

    llm_load_s = _preload_llm(setting["llm"])
    with isolated_home() as tmp, matrix_env(None, tmp):
        task = load_indexed_task(datasets, name, entry, setting["max_rows"])
        metric = get_metric(default_metric(task), task)
        t0 = time.perf_counter()
        kb = knowledge.open_knowledge(exclude_tasks=(name,))  # trained here, outside the response time
        knowledge_s = time.perf_counter() - t0
        if name in set(kb.frame["task"]):
            raise RuntimeError(f"leave-one-dataset-out failed: '{name}' is still in the meta-dataset")
        inputs = {**data_inputs(datasets, name, entry, setting["max_rows"], tmp), "families": [setting["family"]],
                  "metric": metric.name, "exclude_tasks": [name]}
        t0 = time.perf_counter()
        out = recommend_graph.invoke(inputs, context=Context(llm=setting["llm"], seed=0, learn=False,
                                                             n_candidates=max(setting["warm_start"], 5)))
        response_s = time.perf_counter() - t0
    evidence = out["evidence"]
    cited = {s["task"] for s in evidence["similar_tasks"]} | set(out.get("known_tasks") or [])
    if name in cited:
        raise RuntimeError(f"leave-one-dataset-out failed: '{name}' appears in the evidence")
    if evidence.get("ranked_by") == "portfolio":
        raise RuntimeError("the recommendation came from a configuration matrix; last round's has none")
    final = out["final"]
    llm_counts = {k: float(v) for k, v in (out.get("llm") or {}).items()}
    return {
        "kind": "recommendation", "key": rec_key(name, setting), "dataset": name, **_task_info(task, metric),
        "family": setting["family"], "llm": setting["llm"],
        "final": {"family": final["family"], "params": final["params"], "source": final.get("source"),
                  "justification": str(final.get("justification") or "")[:600],
                  "judge_score": (final.get("judgement") or {}).get("score"), "rounds": final.get("rounds")},
        "candidates": [{"params": c["params"], "shap": list(c.get("shap") or [])[:3],
                        "predicted": c.get("predicted_score")} for c in evidence["candidates"]],
        "similar_tasks": [s["task"] for s in evidence["similar_tasks"]], "ranked_by": evidence.get("ranked_by"),
        "meta_rows": int(evidence.get("meta_dataset_rows") or len(kb.frame)), "held_out_rows": 0,
        "response_s": response_s, "knowledge_s": knowledge_s, "llm_counts": llm_counts, "llm_load_s": llm_load_s,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


class ReplayedRecommendGraph:
    """Stands in for ``graphs.recommend.graph`` inside the optimize graph's ``warm_start`` node:
    answers with the recommendation computed once for the data set (leave-one-dataset-out),
    so every seed's warm-started run starts from the same, held-out configurations and the
    recommend graph's cost is measured once (``response_s``) rather than paid per seed."""

    def __init__(self, rec: dict[str, Any]):
        self.rec = rec

    def invoke(self, inputs: dict[str, Any], context=None, **_: Any) -> dict[str, Any]:
        if list(inputs.get("families") or []) != [self.rec["family"]]:
            raise RuntimeError(f"replayed recommendation is for {self.rec['family']}, "
                               f"asked for {inputs.get('families')}")
        final = self.rec["final"]
        return {"final": {"family": final["family"], "params": final["params"], "source": final["source"],
                          "justification": final["justification"]},
                "evidence": {"candidates": [{"params": c["params"], "shap": c["shap"]}
                                            for c in self.rec["candidates"]]},
                "llm": {}}  # its LLM time is counted once, in the recommendation's row


@contextlib.contextmanager
def replayed_recommendation(rec: dict[str, Any] | None) -> Iterator[None]:
    """BENCHMARK DEVICE, not product behaviour: within this process only, the recommend graph
    that ``graphs.optimize.warm_start`` imports is the replay of ``rec``; the node itself (how
    many configurations, dedupe against tried ones, source 'meta') runs unchanged."""
    if rec is None:
        yield
        return
    import tunegraph.graphs.recommend as recommend_module

    original = recommend_module.graph
    recommend_module.graph = ReplayedRecommendGraph(rec)
    try:
        yield
    finally:
        recommend_module.graph = original


# ---- one run -----------------------------------------------------------------------------------

def run_job(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int, setting: dict[str, Any],
            rec: dict[str, Any] | None, budget: int = 0, matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    """One (data set, method, seed) run (of ``budget`` trials for a portfolio method, else of
    ``setting['trials']``); returns its JSON line. ``matrix``: the snapshot the portfolio methods read."""
    _quiet()
    from tunegraph.tools.trials.evaluation import default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task

    matrix = matrix if uses_matrix(method) else None
    with isolated_home() as tmp, matrix_env(matrix["path"] if matrix else None, tmp):
        load_before = _load_avg()
        if method in PLAIN_METHODS:
            out = run_plain(datasets, name, entry, method, seed, setting)
        elif method == "recommender":
            out = run_recommender(datasets, name, entry, seed, setting, rec)
        else:
            out = run_graph(datasets, name, entry, method, seed, setting, rec, tmp, budget, matrix)
        task = load_indexed_task(datasets, name, entry, setting["max_rows"])
        info = _task_info(task, get_metric(default_metric(task), task))
    out["graph_s"] = out["wall_s"] - out["objective_s"] - out.get("llm_latency_s", 0.0)  # plain Optuna: its loop
    return {"kind": "run", "key": run_key(name, method, seed, setting, budget), "dataset": name, "method": method,
            "seed": seed, "budget": budget or None, "setting": setting, **info, **out,
            "matrix": {k: v for k, v in matrix.items() if k not in ("path", "neighbors")} if matrix else None,
            "load_avg": [load_before, _load_avg()], "pid": os.getpid(),
            "jobs": int(os.environ.get("TUNEGRAPH_COMPARE_JOBS", "1")),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_plain(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int,
              setting: dict[str, Any]) -> dict[str, Any]:
    """Plain Optuna: ask, cross-validate, tell; nothing of TuneGraph but the objective (and, across
    families, its search space, sampled define-by-run)."""
    import optuna

    from tunegraph.tools.ml.cash import AUTO, cash_space
    from tunegraph.tools.trials.evaluation import cross_validate_config, default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task
    from tunegraph.tools.ml.models import get_family

    kind, across = PLAIN_METHODS[method]
    start = time.perf_counter()
    task = load_indexed_task(datasets, name, entry, setting["max_rows"])
    metric = get_metric(default_metric(task), task)
    if across:
        family_name, space, distributions = AUTO, cash_space(task.task_type), None
    else:
        family = get_family(setting["family"], task.task_type)
        family_name, space, distributions = family.name, None, family.search_space(task.task_type).to_optuna()
    # TPE draws its 10 start-up trials with a RandomSampler of its own seed: random search gets another
    # seed, or its first 10 trials would be TPE's, and the two runs the same sample up to budget 10
    sampler = (optuna.samplers.TPESampler(seed=seed) if kind == "tpe"
               else optuna.samplers.RandomSampler(seed=RANDOM_SEED_OFFSET + seed))
    study = optuna.create_study(direction=metric.direction, sampler=sampler)
    setup_s = time.perf_counter() - start
    values, cv_wall, t_end, families = [], [], [], []
    for _ in range(setting["trials"]):
        if across:
            trial = study.ask()
            params = space.suggest(trial)
        else:
            trial = study.ask(distributions)
            params = trial.params
        result = cross_validate_config(task, family_name, params, metric.name, folds=setting["folds"], seed=seed)
        if result.ok:
            study.tell(trial, result.mean)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        values.append(result.mean if result.ok else None)
        cv_wall.append(result.wall_time)
        t_end.append(time.perf_counter() - start)
        families.append(params.get("family", family_name) if across else family_name)
    wall = time.perf_counter() - start
    return {"values": values, "sources": [kind] * len(values), "cv_wall_s": cv_wall, "t_end_s": t_end,
            "wall_s": wall, "setup_s": setup_s, "objective_s": float(sum(cv_wall)), "llm_calls": 0,
            "llm_latency_s": 0.0, "families": families}


def run_recommender(datasets: str, name: str, entry: dict[str, Any], seed: int, setting: dict[str, Any],
                    rec: dict[str, Any]) -> dict[str, Any]:
    """Zero trials: the recommendation's score under this seed's folds (the protocol of every run)."""
    from tunegraph.tools.trials.evaluation import cross_validate_config, default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task

    task = load_indexed_task(datasets, name, entry, setting["max_rows"])
    metric = get_metric(default_metric(task), task)
    result = cross_validate_config(task, rec["final"]["family"], rec["final"]["params"], metric.name,
                                   folds=setting["folds"], seed=seed)
    counts = rec.get("llm_counts") or {}
    return {"values": [result.mean if result.ok else None], "sources": ["meta"], "cv_wall_s": [result.wall_time],
            "t_end_s": [rec["response_s"]], "wall_s": rec["response_s"], "setup_s": rec.get("knowledge_s", 0.0),
            "objective_s": 0.0, "llm_calls": int(counts.get("calls", 0)),
            "llm_latency_s": float(counts.get("latency_s", 0.0)), "params": rec["final"]["params"]}


def nested_neighbors(matrix: dict[str, Any], metadataset: str | Path, names: list[str],
                     cache: Path) -> dict[str, int]:
    """Per held-out data set, the portfolio's task weighting (``Context.portfolio_neighbors``) that an
    inner leave-one-out on the other data sets picks (``zero_shot_portfolio.inner_choice``, best of the
    first 5 members). The shipped setting was chosen on all data sets, the held-out one included, so
    using it here would leak. Cached in ``cache`` per matrix version (37 data sets: about a minute)."""
    from tunegraph.tools.meta import metadataset as meta
    from tunegraph.tools.meta.config_matrix import load_matrix
    from tunegraph.tools.meta.portfolio import SETTINGS

    from benchmarks.zero_shot_portfolio import inner_choice

    known = json.loads(cache.read_text()) if cache.is_file() else {}
    chosen = known.get(matrix["sha256"], {})
    missing = [n for n in names if n not in chosen]
    if missing:
        cells = load_matrix(Path(matrix["path"]))
        frame = meta.load(Path(metadataset))
        for name in missing:
            own = cells[cells.task == name]
            if own.empty:  # a data set the matrix lacks: its portfolio is empty anyway
                chosen[name] = -1
                continue
            best, _ = inner_choice(cells, frame, name, own.task_type.iloc[0], SETTINGS)
            chosen[name] = best.n_neighbors
        known[matrix["sha256"]] = chosen
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    return {n: int(chosen[n]) for n in names}


def nested_cache(results: Path) -> Path:
    return results.with_name(results.stem + "_nested_settings.json")


def graph_context(method: str, seed: int, setting: dict[str, Any], storage: str, trials: int,
                  neighbors: int = -1):
    """The optimize graph's Context for ``method``: its sampler, LLM, portfolio and warm start;
    ``neighbors``: the portfolio's task weighting chosen without the held-out data set."""
    from tunegraph.graphs.context import Context

    spec = GRAPH_METHODS[method]
    extra: dict[str, Any] = {}
    if spec.sampler == "llm_tpe" and not spec.adaptive and "adaptive_share" in {f.name for f in fields(Context)}:
        extra["adaptive_share"] = False  # last round's methods: a fixed coin of p_llm
    if "space_box" in {f.name for f in fields(Context)}:
        extra["space_box"] = spec.space_box  # explicit: each method keeps its space whatever the product's default
    return Context(llm=setting["llm"] if spec.uses_llm else "none", sampler=spec.sampler, p_llm=setting["p_llm"],
                   trials=trials, patience=0, time_budget=0.0, seed=seed, folds=setting["folds"],
                   warm_start=setting["warm_start"] if method in WARM_METHODS else 0,
                   portfolio=-1 if method in PER_BUDGET else 0, portfolio_neighbors=neighbors, learn=False,
                   storage=storage, **extra)


def run_graph(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int, setting: dict[str, Any],
              rec: dict[str, Any] | None, workdir: Path, budget: int = 0,
              matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    """The optimize graph as the CLI runs it (SQLite storage and checkpoints), patience off, no learning."""
    from optuna.trial import TrialState

    from tunegraph.graphs.optimize import builder
    from tunegraph.tools.ml.cash import AUTO
    from tunegraph.tools.trials.runs import forget_runs, open_checkpoints, open_run

    spec = GRAPH_METHODS[method]
    warm = method in WARM_METHODS
    if warm and rec is None:
        raise RuntimeError(f"no recommendation for {name}: run it first")
    study_name = f"compare-{uuid.uuid4().hex[:12]}"  # tools.trials.runs caches runs by (name, storage)
    storage = f"sqlite:///{workdir / 'studies.db'}"
    neighbors = int(((matrix or {}).get("neighbors") or {}).get(name, -1))
    context = graph_context(method, seed, setting, storage, budget or setting["trials"], neighbors)
    _preload_llm(context.llm)
    inputs = {**data_inputs(datasets, name, entry, setting["max_rows"], workdir),
              "model": AUTO if spec.across else setting["family"], "study_name": study_name, "exclude_tasks": [name]}
    config = {"configurable": {"thread_id": study_name}, "recursion_limit": 100_000}
    ended: dict[int, float] = {}
    start = time.perf_counter()
    setup_s = None
    with replayed_recommendation(rec if warm else None), \
            open_checkpoints(workdir / "checkpoints.db") as saver:
        graph = builder.compile(checkpointer=saver)
        for update in graph.stream(inputs, config, context=context, stream_mode="updates"):
            if setup_s is None and "initialize" in update:
                setup_s = time.perf_counter() - start
            result = (update.get("evaluate") or {}).get("last_result")
            if result and result.get("number") is not None:
                ended[int(result["number"])] = time.perf_counter() - start
        wall = time.perf_counter() - start
        final = graph.get_state(config).values
    run = open_run(inputs, storage=storage)
    trials = [t for t in run.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
              if not t.user_attrs.get("abandoned")]
    trials.sort(key=lambda t: t.number)
    portfolio = [str(t.user_attrs.get("reasoning", "")) for t in trials if t.user_attrs.get("source") == "portfolio"]
    if any(f"best:{name} " in why for why in portfolio):
        raise RuntimeError(f"leave-one-dataset-out failed: a portfolio member is '{name}''s own best configuration")
    counts = final.get("llm") or {}
    out = {"values": [float(t.value) if t.state == TrialState.COMPLETE else None for t in trials],
           "sources": [t.user_attrs.get("source", "?") for t in trials],
           "families": [t.params.get("family", inputs["model"]) for t in trials],
           "cv_wall_s": [float(t.user_attrs.get("cv_wall_s", 0.0)) for t in trials],
           "t_end_s": [ended.get(t.number) for t in trials], "wall_s": wall, "setup_s": setup_s or 0.0,
           "objective_s": float(sum(t.user_attrs.get("cv_wall_s", 0.0) for t in trials)),
           "llm_calls": int(counts.get("calls", 0)), "llm_latency_s": float(counts.get("latency_s", 0.0)),
           "llm_invalid": int(counts.get("invalid", 0)), "llm_fallbacks": int(counts.get("fallbacks", 0)),
           "llm_errors": int(counts.get("errors", 0)), "stop_reason": final.get("stop_reason"),
           "warm_start_notes": final.get("warm_start_notes") or [], "portfolio_reasons": portfolio,
           "context": {"model": inputs["model"], "sampler": context.sampler, "llm": context.llm,
                       "portfolio": context.portfolio, "portfolio_neighbors": context.portfolio_neighbors,
                       "warm_start": context.warm_start, "trials": context.trials,
                       "adaptive_share": getattr(context, "adaptive_share", None),
                       "space_box": getattr(context, "space_box", False),
                       "exclude_tasks": inputs["exclude_tasks"]}}
    if warm:  # the recommendation was made once; a real warm-started run pays for it: charge it here
        rc = rec.get("llm_counts") or {}
        out.update(recommend_s=rec["response_s"], recommend_llm_s=float(rc.get("latency_s", 0.0)),
                   recommend_llm_calls=int(rc.get("calls", 0)))
    for engine_owner in (run.study._storage, getattr(run.study._storage, "_backend", None)):
        engine = getattr(engine_owner, "engine", None)
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.dispose()
    forget_runs()
    return out


# ---- driver ------------------------------------------------------------------------------------

def _guard(fn, *args) -> dict[str, Any]:
    """Run a job; a failure comes back as a row-like dict with the traceback, not an exception."""
    try:
        return fn(*args)
    except Exception as exc:  # one job's failure is reported, the others go on
        return {"kind": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-3000:]}


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


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def execute(args) -> Path:
    """Run what is missing of the configured benchmark, appending to the results file."""
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
    if not recs and not runs:
        return results
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
    return results


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
            best = _best(row["values"], row["direction"])
            elapsed = time.perf_counter() - started
            log(f"[{done}/{len(todo)}] {what}: best {best:.5g} in {row['wall_s']:.1f} s "
                f"(objective {row['objective_s']:.1f} s, LLM {row.get('llm_latency_s', 0):.1f} s / "
                f"{row.get('llm_calls', 0)} calls); ETA {elapsed / done * (len(todo) - done) / 60:.0f} min")
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


def _best(values: list[float | None], direction: str) -> float:
    ok = [v for v in values if v is not None]
    if not ok:
        return float("nan")
    return max(ok) if direction == "maximize" else min(ok)


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
    import math

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
    print(f"  matrix: " + (f"{matrix['source']} ({matrix['cells']} cells, {matrix['tasks']} data sets; the "
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
    p.add_argument("--metadataset", default=str(ROOT / "data" / "metadataset.parquet"),
                   help="base meta-dataset (default: the shipped one); each data set is held out of it in turn")
    p.add_argument("--matrix", default=None,
                   help="configuration matrix of the portfolio methods, copied at each start (default: "
                        "$TUNEGRAPH_MATRIX, the one beside --metadataset, else "
                        "benchmarks/matrix/config_matrix.parquet; "
                        "'none': no portfolio, the Initializer's defaults)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--results", default=None,
                   help="JSON-lines results, resumable (default: benchmarks/results/compare.jsonl; the portfolio "
                        "suite's compare_portfolio.jsonl)")
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
    args.results = args.results or str(suite["results"])
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
    from benchmarks.compare_report import write_report

    index, names, llm_names = selection(args)
    report = Path(args.report) if args.report else results.with_suffix(".md")
    summary = write_report(read_rows(results), setting_of(args), args.budgets, report, methods=args.methods,
                           subset_datasets=llm_names, notes=suite_notes(args, index, names, llm_names))
    log(f"report: {report} ({summary['n_datasets']} complete data sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
