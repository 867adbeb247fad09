"""The TuneGraph methods: the optimize graph as the CLI runs it, the leave-one-dataset-out
recommendation and its replay to the warm-started runs, and the recommender alone.

Two BENCHMARK DEVICES, not product behaviour, each within one process only: the recommend graph
that the optimize graph's ``warm_start`` node imports is swapped for the replay of a recommendation
computed once (``replayed_recommendation``), and the Evaluator's cross-validation for a near-free
objective (``graph_objective``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common.data import data_inputs, indexed_task, task_info
from benchmarks.common.machine import quiet
from benchmarks.common.methods import GRAPH_METHODS, PER_BUDGET, WARM
from benchmarks.common.optuna_loops import dispose

# ---- a job's environment -----------------------------------------------------------------------

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


def preload_llm(llm: str) -> float:
    """Load the LLM once per process, outside every timing; returns the load time (0 if loaded)."""
    if llm == "none":
        return 0.0
    from tunegraph.tools.trials.runs import get_llm

    t0 = time.perf_counter()
    get_llm(llm)
    return time.perf_counter() - t0


# ---- the recommendation (once per data set) ----------------------------------------------------

def recommendation(datasets: str, name: str, entry: dict[str, Any], setting: dict[str, Any]) -> dict[str, Any]:
    """Leave-one-dataset-out recommendation for ``name`` with the run's family and LLM: last round's,
    the meta-learner's (no configuration matrix, so neither its portfolio nor its cells)."""
    quiet()
    from tunegraph.context import Context
    from tunegraph.graphs.recommend import graph as recommend_graph
    from tunegraph.tools.meta import knowledge

    llm_load_s = preload_llm(setting["llm"])
    with isolated_home() as tmp, matrix_env(None, tmp):
        task, metric = indexed_task(datasets, name, entry, setting["max_rows"])
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
        "dataset": name, **task_info(task, metric), "family": setting["family"], "llm": setting["llm"],
        "final": {"family": final["family"], "params": final["params"], "source": final.get("source"),
                  "justification": str(final.get("justification") or "")[:600],
                  "judge_score": (final.get("judgement") or {}).get("score"), "rounds": final.get("rounds")},
        "candidates": [{"params": c["params"], "shap": list(c.get("shap") or [])[:3],
                        "predicted": c.get("predicted_score")} for c in evidence["candidates"]],
        "similar_tasks": [s["task"] for s in evidence["similar_tasks"]], "ranked_by": evidence.get("ranked_by"),
        "meta_rows": int(evidence.get("meta_dataset_rows") or len(kb.frame)), "held_out_rows": 0,
        "response_s": response_s, "knowledge_s": knowledge_s, "llm_counts": llm_counts, "llm_load_s": llm_load_s,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
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


@contextlib.contextmanager
def graph_objective(evaluate: Callable) -> Iterator[None]:
    """BENCHMARK DEVICE, not product behaviour: within this process only, the Evaluator agent's
    ``cross_validate_config`` is swapped for ``evaluate`` (the instant objective), so the graph
    runs exactly its normal nodes, storage and checkpoints around a near-free objective."""
    import tunegraph.agents.evaluator as evaluator_module

    original = evaluator_module.cross_validate_config
    evaluator_module.cross_validate_config = evaluate
    try:
        yield
    finally:
        evaluator_module.cross_validate_config = original


# ---- the runs ----------------------------------------------------------------------------------

def run_recommender(datasets: str, name: str, entry: dict[str, Any], seed: int, setting: dict[str, Any],
                    rec: dict[str, Any]) -> dict[str, Any]:
    """Zero trials: the recommendation's score under this seed's folds (the protocol of every run)."""
    from tunegraph.tools.trials.evaluation import cross_validate_config

    task, metric = indexed_task(datasets, name, entry, setting["max_rows"])
    result = cross_validate_config(task, rec["final"]["family"], rec["final"]["params"], metric.name,
                                   folds=setting["folds"], seed=seed)
    counts = rec.get("llm_counts") or {}
    return {"values": [result.mean if result.ok else None], "sources": ["meta"], "cv_wall_s": [result.wall_time],
            "t_end_s": [rec["response_s"]], "wall_s": rec["response_s"], "setup_s": rec.get("knowledge_s", 0.0),
            "objective_s": 0.0, "llm_calls": int(counts.get("calls", 0)),
            "llm_latency_s": float(counts.get("latency_s", 0.0)), "params": rec["final"]["params"]}


def graph_context(method: str, seed: int, setting: dict[str, Any], storage: str, trials: int,
                  neighbors: int = -1):
    """The optimize graph's Context for ``method``: its sampler, LLM, portfolio and warm start;
    ``neighbors``: the portfolio's task weighting chosen without the held-out data set."""
    from tunegraph.context import Context

    spec = GRAPH_METHODS[method]
    extra: dict[str, Any] = {"space_box": spec.space_box}  # explicit: each method keeps its space whatever the default
    if spec.sampler == "llm_tpe" and not spec.adaptive:
        extra["adaptive_share"] = False  # last round's methods: a fixed coin of p_llm
    return Context(llm=setting["llm"] if spec.uses_llm else "none", sampler=spec.sampler, p_llm=setting["p_llm"],
                   trials=trials, patience=0, time_budget=0.0, seed=seed, folds=setting["folds"],
                   warm_start=setting["warm_start"] if method in WARM else 0,
                   portfolio=-1 if method in PER_BUDGET else 0, portfolio_neighbors=neighbors, learn=False, save_model=False,
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
    warm = method in WARM
    if warm and rec is None:
        raise RuntimeError(f"no recommendation for {name}: run it first")
    study_name = f"compare-{uuid.uuid4().hex[:12]}"  # tools.trials.runs caches runs by (name, storage)
    storage = f"sqlite:///{workdir / 'studies.db'}"
    neighbors = int(((matrix or {}).get("neighbors") or {}).get(name, -1))
    context = graph_context(method, seed, setting, storage, budget or setting["trials"], neighbors)
    preload_llm(context.llm)
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
    trials = held_out_trials(run, name)
    portfolio = [str(t.user_attrs.get("reasoning", "")) for t in trials if t.user_attrs.get("source") == "portfolio"]
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
                       "adaptive_share": context.adaptive_share, "space_box": context.space_box,
                       "exclude_tasks": inputs["exclude_tasks"]}}
    if warm:  # the recommendation was made once; a real warm-started run pays for it: charge it here
        rc = rec.get("llm_counts") or {}
        out.update(recommend_s=rec["response_s"], recommend_llm_s=float(rc.get("latency_s", 0.0)),
                   recommend_llm_calls=int(rc.get("calls", 0)))
    dispose(run.study)
    forget_runs()
    return out


def held_out_trials(run, name: str) -> list:
    """The run's finished trials in order, checked leave-one-dataset-out: no portfolio member may be
    the held-out data set's own best configuration."""
    from optuna.trial import TrialState

    trials = [t for t in run.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
              if not t.user_attrs.get("abandoned")]
    trials.sort(key=lambda t: t.number)
    portfolio = [str(t.user_attrs.get("reasoning", "")) for t in trials if t.user_attrs.get("source") == "portfolio"]
    if any(f"best:{name} " in why for why in portfolio):
        raise RuntimeError(f"leave-one-dataset-out failed: a portfolio member is '{name}''s own best configuration")
    return trials
