"""TuneGraph against its anchors: plain Optuna TPE and random search, on the same objective.

A benchmark script, not a test (its smoke configuration is: tests/test_compare_smoke.py).
For each data set of a folder with an ``index.json`` (default ../shared/datasets) and each seed,
every method tunes the same model family (``--family``, default xgboost) over the family's
default search space, scored by the same cross-validation (``tools.evaluation.
cross_validate_config``, ``--folds`` folds, folds and models seeded by the run's seed):

* ``optuna_tpe``: a plain Optuna ask/tell loop with ``TPESampler(seed=seed)`` (10 random
  start-up trials, Optuna's default), in-memory storage. The anchor.
* ``optuna_random``: the same loop with ``RandomSampler(seed=seed)``.
* ``tunegraph_tpe`` (ablation): the optimize graph with ``--llm none --sampler tpe``: TPE, but
  started from the library defaults as TuneGraph's Initializer does.
* ``tunegraph_llm_tpe``: the optimize graph, ``sampler=llm_tpe`` (p_llm 0.5) with ``--llm``
  (default: the embedded SmolLM2-135M).
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

Every graph run has ``patience=0`` and ``learn=False``, SQLite storage and checkpoints in a temp
dir, as the CLI has them. One run of ``max(--budgets)`` trials per (method, data set, seed);
the score at a smaller budget B is the best of its first B trials (the anytime curve).

Results are JSON lines (one per recommendation and per run; resumable: finished lines are
never redone, a failed job is retried on the next start) and a Markdown report with plots
(``benchmarks/compare_report.py``), which can be rebuilt from partial results at any time.

    python benchmarks/compare.py                       # the full run (see README, "Benchmarks")
    python benchmarks/compare.py --smoke --llm none    # 2 data sets, 1 budget, 2 seeds
    python benchmarks/compare.py --report-only         # rebuild the report from what is finished
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
import uuid
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

from benchmarks.compare_report import WARM as WARM_METHODS  # noqa: E402 - one list for runner and report

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"

METHODS = ("optuna_tpe", "optuna_random", "tunegraph_tpe", "tunegraph_llm_tpe", "tunegraph_llm_tpe_warm",
           "tunegraph_tpe_warm", "recommender")
NEEDS_RECOMMENDATION = (*WARM_METHODS, "recommender")  # computed once per data set, before their runs
# The full run: 6 classification and 6 regression data sets of up to 1,500 rows from ../shared/datasets,
# spread over sizes (167 to 1,338 rows), binary, multi-class and regression metrics; left out: segment
# (its xgboost fits are 30x slower than the others') and near-trivial sets (banknote, wisconsin: AUC ~ 1).
FULL_DATASETS = ("servo", "sonar", "cpu_performance", "glass", "tips", "ecoli", "ionosphere", "mpg",
                 "boston_housing", "pima_diabetes", "credit_g", "insurance")
SMOKE = {"budgets": [5], "seeds": 2, "folds": 3, "family": "knn", "n_datasets": 2}
RANDOM_SEED_OFFSET = 10_000
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TUNEGRAPH_LLM_THREADS")


# ---- settings and keys -------------------------------------------------------------------------

def setting_of(args) -> dict[str, Any]:
    """What makes two runs comparable; rows of another setting in the same file are ignored."""
    return {"family": args.family, "folds": args.folds, "trials": max(args.budgets), "llm": args.llm,
            "warm_start": args.warm_start, "p_llm": args.p_llm, "max_rows": args.max_rows}


def setting_id(setting: dict[str, Any]) -> str:
    return ";".join(f"{k}={setting[k]}" for k in sorted(setting))


def rec_key(dataset: str, setting: dict[str, Any]) -> str:
    return f"rec|{dataset}|{setting['family']}|{setting['llm']}|k={setting['warm_start']}"


def run_key(dataset: str, method: str, seed: int, setting: dict[str, Any]) -> str:
    return f"run|{dataset}|{method}|{seed}|{setting_id(setting)}"


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
    """Leave-one-dataset-out recommendation for ``name`` with the run's family and LLM."""
    _quiet()
    from tunegraph.graphs.context import Context
    from tunegraph.graphs.recommend import graph as recommend_graph
    from tunegraph.tools.meta import knowledge
    from tunegraph.tools.trials.evaluation import default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task

    llm_load_s = _preload_llm(setting["llm"])
    with isolated_home() as tmp:
        task = load_indexed_task(datasets, name, entry, setting["max_rows"])
        metric = get_metric(default_metric(task), task)
        knowledge.forget()
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
        knowledge.forget()
    evidence = out["evidence"]
    cited = {s["task"] for s in evidence["similar_tasks"]} | set(out.get("known_tasks") or [])
    if name in cited:
        raise RuntimeError(f"leave-one-dataset-out failed: '{name}' appears in the evidence")
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
        "similar_tasks": [s["task"] for s in evidence["similar_tasks"]],
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
    import tunegraph.graphs.recommend

    original = graphs.recommend.graph
    graphs.recommend.graph = ReplayedRecommendGraph(rec)
    try:
        yield
    finally:
        graphs.recommend.graph = original


# ---- one run -----------------------------------------------------------------------------------

def run_job(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int, setting: dict[str, Any],
            rec: dict[str, Any] | None) -> dict[str, Any]:
    """One (data set, method, seed) run; returns its JSON line."""
    _quiet()
    from tunegraph.tools.trials.evaluation import default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task

    with isolated_home() as tmp:
        load_before = _load_avg()
        if method in ("optuna_tpe", "optuna_random"):
            out = run_plain(datasets, name, entry, method, seed, setting)
        elif method == "recommender":
            out = run_recommender(datasets, name, entry, seed, setting, rec)
        else:
            out = run_graph(datasets, name, entry, method, seed, setting, rec, tmp)
        task = load_indexed_task(datasets, name, entry, setting["max_rows"])
        info = _task_info(task, get_metric(default_metric(task), task))
    return {"kind": "run", "key": run_key(name, method, seed, setting), "dataset": name, "method": method,
            "seed": seed, "setting": setting, **info, **out, "load_avg": [load_before, _load_avg()],
            "pid": os.getpid(), "jobs": int(os.environ.get("TUNEGRAPH_COMPARE_JOBS", "1")),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def run_plain(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int,
              setting: dict[str, Any]) -> dict[str, Any]:
    """Plain Optuna: ask, cross-validate, tell; nothing of TuneGraph but the objective."""
    import optuna

    from tunegraph.tools.trials.evaluation import cross_validate_config, default_metric, get_metric
    from tunegraph.tools.meta.metabuild import load_indexed_task
    from tunegraph.tools.ml.models import get_family

    start = time.perf_counter()
    task = load_indexed_task(datasets, name, entry, setting["max_rows"])
    family = get_family(setting["family"], task.task_type)
    metric = get_metric(default_metric(task), task)
    distributions = family.search_space(task.task_type).to_optuna()
    # TPE draws its 10 start-up trials with a RandomSampler of its own seed: random search gets another
    # seed, or its first 10 trials would be TPE's, and the two runs the same sample up to budget 10
    sampler = (optuna.samplers.TPESampler(seed=seed) if method == "optuna_tpe"
               else optuna.samplers.RandomSampler(seed=RANDOM_SEED_OFFSET + seed))
    study = optuna.create_study(direction=metric.direction, sampler=sampler)
    setup_s = time.perf_counter() - start
    values, cv_wall, t_end = [], [], []
    for _ in range(setting["trials"]):
        trial = study.ask(distributions)
        result = cross_validate_config(task, family.name, trial.params, metric.name, folds=setting["folds"], seed=seed)
        if result.ok:
            study.tell(trial, result.mean)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        values.append(result.mean if result.ok else None)
        cv_wall.append(result.wall_time)
        t_end.append(time.perf_counter() - start)
    wall = time.perf_counter() - start
    return {"values": values, "sources": [method.split("_")[1]] * len(values), "cv_wall_s": cv_wall, "t_end_s": t_end,
            "wall_s": wall, "setup_s": setup_s, "objective_s": float(sum(cv_wall)), "llm_calls": 0,
            "llm_latency_s": 0.0}


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


def run_graph(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int, setting: dict[str, Any],
              rec: dict[str, Any] | None, workdir: Path) -> dict[str, Any]:
    """The optimize graph as the CLI runs it (SQLite storage and checkpoints), patience off, no learning."""
    from optuna.trial import TrialState

    from tunegraph.graphs.context import Context
    from tunegraph.graphs.optimize import builder
    from tunegraph.tools.trials.runs import forget_runs, open_checkpoints, open_run

    llm = "none" if method == "tunegraph_tpe" else setting["llm"]
    warm = method in WARM_METHODS
    if warm and rec is None:
        raise RuntimeError(f"no recommendation for {name}: run it first")
    _preload_llm(llm)
    study_name = f"compare-{uuid.uuid4().hex[:12]}"  # tools.runtime caches runs by (name, storage)
    storage = f"sqlite:///{workdir / 'studies.db'}"
    inputs = {**data_inputs(datasets, name, entry, setting["max_rows"], workdir), "model": setting["family"],
              "study_name": study_name}
    sampler = "tpe" if method in ("tunegraph_tpe", "tunegraph_tpe_warm") else "llm_tpe"
    context = Context(llm=llm, sampler=sampler, p_llm=setting["p_llm"],
                      trials=setting["trials"], patience=0, time_budget=0.0, seed=seed, folds=setting["folds"],
                      warm_start=setting["warm_start"] if warm else 0, learn=False, storage=storage)
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
    counts = final.get("llm") or {}
    out = {"values": [float(t.value) if t.state == TrialState.COMPLETE else None for t in trials],
           "sources": [t.user_attrs.get("source", "?") for t in trials],
           "cv_wall_s": [float(t.user_attrs.get("cv_wall_s", 0.0)) for t in trials],
           "t_end_s": [ended.get(t.number) for t in trials], "wall_s": wall, "setup_s": setup_s or 0.0,
           "objective_s": float(sum(t.user_attrs.get("cv_wall_s", 0.0) for t in trials)),
           "llm_calls": int(counts.get("calls", 0)), "llm_latency_s": float(counts.get("latency_s", 0.0)),
           "llm_invalid": int(counts.get("invalid", 0)), "llm_fallbacks": int(counts.get("fallbacks", 0)),
           "llm_errors": int(counts.get("errors", 0)), "stop_reason": final.get("stop_reason"),
           "warm_start_notes": final.get("warm_start_notes") or []}
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
    if args.smoke:
        return sorted(index, key=lambda n: (index[n].get("rows") or 0, n))[:SMOKE["n_datasets"]]
    missing = [n for n in FULL_DATASETS if n not in index]
    if missing:
        raise SystemExit(f"the full run's data sets {', '.join(missing)} are not in {args.datasets}/index.json; "
                         "name the data sets with --only")
    return list(FULL_DATASETS)


def plan(args, names: list[str], rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, str, int]]]:
    """(data sets still needing a recommendation, runs still to do) in seed order, so a partial
    result holds every data set and method for its first seeds (ranks across data sets need that)."""
    setting = setting_of(args)
    done = {r["key"] for r in rows if r.get("kind") in ("run", "recommendation")}
    recs = [n for n in names if rec_key(n, setting) not in done
            and any(m in args.methods for m in NEEDS_RECOMMENDATION)]
    runs = [(n, m, s) for s in range(args.seeds) for n in names for m in args.methods
            if run_key(n, m, s, setting) not in done]
    return recs, runs


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def execute(args) -> Path:
    """Run what is missing of the configured benchmark, appending to the results file."""
    from tunegraph.tools.meta.metabuild import read_index

    results = Path(args.results)
    index = read_index(args.datasets)
    names = choose_datasets(args, index)
    setting = setting_of(args)
    recs, runs = plan(args, names, read_rows(results))
    log(f"data sets: {', '.join(names)}; methods: {', '.join(args.methods)}; seeds: {args.seeds}; "
        f"setting: {setting_id(setting)}")
    log(f"to do: {len(recs)} recommendations, {len(runs)} runs; results: {results}")
    if not recs and not runs:
        return results
    env = {"TUNEGRAPH_METADATASET": str(Path(args.metadataset).resolve()), "TUNEGRAPH_COMPARE_JOBS": str(args.jobs)}
    if args.jobs > 1:  # one thread per worker: they share a small machine (read by the spawned processes)
        env.update({var: os.environ.get(var, "1") for var in THREAD_VARS})
    with environment(env):
        _execute(args, results, index, setting, recs, runs)
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
             runs: list[tuple[str, str, int]]) -> None:
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
        todo = [(n, m, s) for n, m, s in runs if m not in NEEDS_RECOMMENDATION or n in recs_by]
        for n, m, s in runs:
            if (n, m, s) not in todo:
                log(f"{n} {m} seed {s}: skipped, no recommendation")
        futures = {submit(run_job, args.datasets, n, index[n], m, s, setting, recs_by.get(n)): (n, m, s)
                   for n, m, s in todo}
        done = 0
        for future in _completed(futures, pool):
            row = _result(future)
            n, m, s = futures[future]
            done += 1
            if row["kind"] == "error":
                log(f"{n} {m} seed {s}: failed: {row['error']}\n{row['traceback']}")
                continue
            append_row(results, row)
            best = _best(row["values"], row["direction"])
            elapsed = time.perf_counter() - started
            log(f"[{done}/{len(todo)}] {n} {m} seed {s}: best {best:.5g} in {row['wall_s']:.1f} s "
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="TuneGraph vs plain Optuna TPE / random search, leave-one-dataset-out.")
    p.add_argument("--datasets", default=str(DEFAULT_DATASETS),
                   help="folder with index.json (default: ../shared/datasets)")
    p.add_argument("--only", nargs="+", help="these data sets (default: the full run's 12, see FULL_DATASETS)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--budgets", nargs="+", type=int, default=[10, 20, 30], help="trial budgets (default: 10 20 30)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per data set and method (default: 5)")
    p.add_argument("--family", default="xgboost", help="model family of every method (default: xgboost)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--llm", default="embedded", help="LLM of the TuneGraph methods (default: embedded)")
    p.add_argument("--warm-start", type=int, default=3, metavar="K",
                   help="configurations from the recommender (default: 3)")
    p.add_argument("--p-llm", type=float, default=0.5, help="LLM share in llm_tpe (default: 0.5)")
    p.add_argument("--max-rows", type=int, default=5000, help="subsample larger data sets (default: 5000)")
    p.add_argument("--metadataset", default=str(ROOT / "data" / "metadataset.parquet"),
                   help="base meta-dataset (default: the shipped one); each data set is held out of it in turn")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--results", default=str(RESULTS / "compare.jsonl"), help="JSON-lines results (resumable)")
    p.add_argument("--report", default=None, help="Markdown report (default: the results path with .md)")
    p.add_argument("--smoke", action="store_true",
                   help=f"CI configuration: the 2 smallest data sets, budget 5, 2 seeds, 3 folds, knn ({SMOKE})")
    p.add_argument("--report-only", action="store_true", help="only rebuild the report from the results file")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.smoke:  # the smoke configuration overrides what it fixes; the rest stays as given
        args.budgets, args.seeds = SMOKE["budgets"], SMOKE["seeds"]
        args.folds, args.family = SMOKE["folds"], SMOKE["family"]
    if min(args.budgets) < 1 or args.seeds < 1 or args.jobs < 1:
        parser.error("--budgets, --seeds and --jobs must be at least 1")
    args.budgets = sorted(set(args.budgets))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = Path(args.results)
    if not args.report_only:
        execute(args)
    from benchmarks.compare_report import write_report

    report = Path(args.report) if args.report else results.with_suffix(".md")
    summary = write_report(read_rows(results), setting_of(args), args.budgets, report, methods=args.methods)
    log(f"report: {report} ({summary['n_datasets']} complete data sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
