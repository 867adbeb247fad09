"""Per-trial overhead of the optimize graph against a plain Optuna loop on the same objective.

A benchmark script, not a test. For each repeat it runs, on the same data set, model family,
search space, metric, folds and seed:

* ``plain``: ``optuna.create_study`` (SQLite file in a temp dir, ``TPESampler(seed)``) and
  ``study.optimize(objective, n_trials=N)``; the objective suggests the family's search space
  and calls ``tools.trials.evaluation.cross_validate_config``. The library defaults are enqueued as
  the first trial, as the graph's Initializer does without an LLM, so both start alike.
* ``graph``: ``graphs.optimize.builder`` compiled with the CLI's SQLite checkpointer (a file in
  the same temp dir) and streamed with ``Context(llm="none", sampler="tpe", trials=N, storage=<sqlite>)``.
* ``graph+llm`` (``--llm embedded``): the same graph with ``llm="embedded", sampler="llm_tpe"``.
* ``graph-mem`` (``--memory-saver``): the graph with an ``InMemorySaver``, to separate the cost
  of SQLite checkpoints from the rest of the graph.

``--storage journal`` puts both loops' Optuna storage in a journal file (TuneGraph's
``tools.trials.storage.open_journal``, the same for both) instead of an SQLite file.

Measured per run: wall time (from loading the task to the last trial, setup included), the
process's CPU time per trial (all of it for the instant objective: less skewed by other load), the
objective time (sum of ``EvalResult.wall_time`` of every trial; for the graph read from the
trials' user attribute ``cv_wall_s``), the setup time (task, study, compile, Initializer), the
overhead per trial ``(wall - objective) / N`` and that overhead as a percentage of the run's
median objective time. For the LLM run also the LLM calls and seconds per call (the final
state's ``llm`` counters) and the overhead per trial without the LLM's time. Loading the
embedded model is done once before timing and reported apart (``llm_load_s``).

``--objective instant`` replaces cross-validation by a trivial quadratic of the (normalized)
parameters, so what remains is the framework's own overhead.

Usage:
    python benchmarks/overhead.py --dataset breast_cancer --model xgboost --trials 20 --repeats 3
    python benchmarks/overhead.py --objective instant --trials 20 --repeats 3
    python benchmarks/overhead.py --objective instant --trials 30 --repeats 3 --storage journal
    python benchmarks/overhead.py --llm embedded --trials 10 --repeats 1 --out benchmarks/results/overhead.json

Timings are only meaningful on an otherwise idle machine: the load average at the start and
the end is recorded next to the results (a value above the CPU count means contention). The
embedded LLM runs on the CPU; on a small machine a 10-trial ``--llm embedded`` run can take
many minutes (tens of seconds per call).

With ``--out FILE.json`` the run is merged into FILE.json (a run with the same settings is
replaced) and FILE.md is rewritten with the tables of every run in FILE.json; what follows a
``<!-- notes -->`` line in FILE.md (written by hand) is kept.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402

from benchmarks.common.graph_runs import graph_objective  # noqa: E402
from benchmarks.common.machine import load_avg, machine_info, machine_line  # noqa: E402
from benchmarks.common.optuna_loops import dispose, make_instant, suggest  # noqa: E402
from benchmarks.common.stats import mean_std  # noqa: E402
from tunegraph.tools.ml.models import get_family  # noqa: E402
from tunegraph.tools.ml.tasks import load_task  # noqa: E402
from tunegraph.tools.trials.evaluation import EvalResult, cross_validate_config, get_metric  # noqa: E402

Evaluate = Callable[..., EvalResult]  # cross_validate_config's signature
N_STARTUP_TRIALS = 10  # Context's default: TPE's random start-up trials, the same for both loops


# ---- the two loops -----------------------------------------------------------------------------

def storage_spec(args, workdir: Path, name: str) -> str:
    """The Optuna storage of one loop: an SQLite URL, or a journal file path (``--storage``)."""
    return str(workdir / f"{name}.journal") if args.storage == "journal" else f"sqlite:///{workdir / f'{name}.db'}"


def run_plain(args, n_trials: int, seed: int, workdir: Path, evaluate: Evaluate) -> dict[str, Any]:
    start = time.perf_counter()
    task = load_task(dataset=args.dataset)
    family = get_family(args.model, task.task_type)
    metric = get_metric(args.metric, task)
    distributions = family.search_space(task.task_type).to_optuna()
    storage: Any = storage_spec(args, workdir, "plain")
    if args.storage == "journal":
        from tunegraph.tools.trials.storage import open_journal

        storage = open_journal(storage)
    study = optuna.create_study(study_name=f"bench-plain-{uuid.uuid4().hex[:8]}",
                                storage=storage, direction=metric.direction,
                                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=N_STARTUP_TRIALS))
    study.enqueue_trial(family.default_config(task))  # the graph's Initializer starts from the defaults too
    setup = time.perf_counter() - start
    objective_times: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        params = {name: suggest(trial, name, dist) for name, dist in distributions.items()}
        result = evaluate(task, family.name, params, metric.name, folds=args.folds, seed=seed)
        objective_times.append(result.wall_time)
        return result.mean if result.ok else float("nan")  # NaN: Optuna records a failed trial

    study.optimize(objective, n_trials=n_trials)
    wall = time.perf_counter() - start
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    out = _measures(wall, setup, objective_times, len(trials))
    out.update(best_value=study.best_value if any(t.state.name == "COMPLETE" for t in trials) else None,
               n_failed=sum(t.state.name != "COMPLETE" for t in trials))
    dispose(study)
    return out


def run_graph(args, n_trials: int, seed: int, workdir: Path, llm: str, sampler: str, checkpointer: str,
              evaluate: Evaluate) -> dict[str, Any]:
    from langgraph.checkpoint.memory import InMemorySaver

    from tunegraph.context import Context
    from tunegraph.graphs.optimize import builder
    from tunegraph.tools.trials.runs import forget_runs, open_checkpoints, open_run

    name = f"bench-graph-{uuid.uuid4().hex[:8]}"  # unique: tools.trials.runs caches runs by (name, storage)
    storage = storage_spec(args, workdir, "graph")
    inputs = {"dataset": args.dataset, "model": args.model, "study_name": name}
    if args.metric:
        inputs["metric"] = args.metric
    context = Context(llm=llm, sampler=sampler, trials=n_trials, storage=storage, seed=seed, folds=args.folds,
                      n_startup_trials=N_STARTUP_TRIALS, save_model=False)  # the search's overhead, not the refit's
    config = {"configurable": {"thread_id": name}, "recursion_limit": 100_000}
    saver_cm = (open_checkpoints(workdir / "checkpoints.db") if checkpointer == "sqlite"
                else contextlib.nullcontext(InMemorySaver()))
    recorded = getattr(evaluate, "times", None)  # the instant objective's own record
    if recorded is not None:
        recorded.clear()
    start = time.perf_counter()
    setup = None
    with saver_cm as saver:
        graph = builder.compile(checkpointer=saver)
        for update in graph.stream(inputs, config, context=context, stream_mode="updates"):
            if setup is None and "initialize" in update:
                setup = time.perf_counter() - start
        wall = time.perf_counter() - start
        final = graph.get_state(config).values
    run = open_run(inputs, storage=storage)  # cached by the graph's nodes: no new work
    trials = [t for t in run.study.get_trials(deepcopy=False) if t.state.is_finished()]
    objective_times = [float(t.user_attrs.get("cv_wall_s", 0.0)) for t in trials]
    if recorded is not None:  # instant objective: cv_wall_s (rounded to 0.1 ms) would read 0
        objective_times = list(recorded)
    out = _measures(wall, setup or 0.0, objective_times, len(trials))
    counts = final.get("llm") or {}
    calls, latency = int(counts.get("calls", 0)), float(counts.get("latency_s", 0.0))
    out.update(best_value=final.get("best_value"), n_failed=int(final.get("n_failed") or 0),
               stop_reason=final.get("stop_reason"),
               sources=dict(Counter(t.user_attrs.get("source", "?") for t in trials)),
               llm_calls=calls, llm_latency_s=latency, llm_fallbacks=int(counts.get("fallbacks", 0)),
               llm_invalid=int(counts.get("invalid", 0)))
    if calls:
        out["llm_s_per_call"] = latency / calls
        out["overhead_excl_llm_per_trial_ms"] = 1000 * (wall - out["objective_s"] - latency) / max(1, len(trials))
    dispose(run.study)
    forget_runs()
    return out


def _measures(wall: float, setup: float, objective_times: list[float], n: int) -> dict[str, Any]:
    objective = float(sum(objective_times))
    median = statistics.median(objective_times) if objective_times else 0.0
    per_trial = (wall - objective) / max(1, n)
    return {"n_trials": n, "wall_s": wall, "objective_s": objective, "setup_s": setup,
            "cpu_per_trial_ms": 1000 * (time.process_time() - _CPU_START[0]) / max(1, n),
            "objective_median_ms": 1000 * median, "overhead_per_trial_ms": 1000 * per_trial,
            "overhead_pct_of_median_objective": 100 * per_trial / median if median > 0 else None}


# ---- driver ------------------------------------------------------------------------------------

def variants(args) -> list[tuple[str, Callable[[int, int, Path, Evaluate], dict[str, Any]]]]:
    out = [("plain", lambda n, seed, d, ev: run_plain(args, n, seed, d, ev)),
           ("graph", lambda n, seed, d, ev: run_graph(args, n, seed, d, "none", "tpe", "sqlite", ev))]
    if args.memory_saver:
        out.append(("graph-mem", lambda n, seed, d, ev: run_graph(args, n, seed, d, "none", "tpe", "memory", ev)))
    if args.llm == "embedded":
        out.append(("graph+llm", lambda n, seed, d, ev: run_graph(args, n, seed, d, "embedded", "llm_tpe", "sqlite", ev)))
    return out


_CPU_START = [0.0]  # process CPU time when the current loop started (run_benchmark)


@contextlib.contextmanager
def counting_journal_writes():
    """Counts the appends to TuneGraph's journal files and their fsyncs (``--storage journal``)."""
    from tunegraph.tools.trials.storage import JournalFile

    count = {"appends": 0, "syncs": 0}
    append, sync = JournalFile.append_logs, JournalFile.sync

    def counted_append(self, logs):
        count["appends"] += 1
        return append(self, logs)

    def counted_sync(self):
        count["syncs"] += 1
        return sync(self)

    JournalFile.append_logs, JournalFile.sync = counted_append, counted_sync
    try:
        yield count
    finally:
        JournalFile.append_logs, JournalFile.sync = append, sync


@contextlib.contextmanager
def counting_statements():
    """Counts the SQL statements sent through SQLAlchemy (Optuna's RDB storage; LangGraph's checkpoints
    use sqlite3 directly and are not counted): the storage round trips, a measure no CPU load skews."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    count = [0]

    def one(*_args) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", one)
    try:
        yield count
    finally:
        event.remove(Engine, "before_cursor_execute", one)


def _where(tmpdir: str | None) -> str:
    """The directory that holds the SQLite files, and its file system (fsync cost differs a lot)."""
    path = Path(tmpdir or tempfile.gettempdir()).resolve()
    fstype = "?"
    with contextlib.suppress(OSError):
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, fstype = parts[1], parts[2]
    return f"{path} ({fstype})"


def run_benchmark(args) -> dict[str, Any]:
    task = load_task(dataset=args.dataset)
    family = get_family(args.model, task.task_type)
    metric = get_metric(args.metric, task)
    evaluate: Evaluate = cross_validate_config
    if args.objective == "instant":
        evaluate = make_instant(family.search_space(task.task_type).to_optuna(), metric.direction)
    plan = variants(args)
    load_start = load_avg()
    report: dict[str, Any] = {
        "settings": {"dataset": args.dataset, "model": family.name, "metric": metric.name, "objective": args.objective,
                     "storage": args.storage, "label": args.label,
                     "trials": args.trials, "repeats": args.repeats, "llm": args.llm, "folds": args.folds,
                     "seed": args.seed, "warmup_trials": args.warmup_trials, "memory_saver": args.memory_saver,
                     "tmpdir": _where(args.tmpdir)},
        "machine": machine_info(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "raw": {name: [] for name, _ in plan},
    }
    if args.llm == "embedded":
        from tunegraph.tools.trials.runs import get_llm

        t0 = time.perf_counter()
        get_llm("embedded")  # loaded once per process, outside the timed runs
        report["llm_load_s"] = time.perf_counter() - t0
    with graph_objective(evaluate):
        if args.warmup_trials:  # imports, first fits, lazy initialisation: not part of the measure
            for name, fn in plan:
                _log(f"warm-up {name} ({args.warmup_trials} trials)")
                with tempfile.TemporaryDirectory(prefix="tunegraph-bench-", dir=args.tmpdir) as tmp:
                    fn(args.warmup_trials, args.seed, Path(tmp), evaluate)
        for rep in range(args.repeats):
            order = plan if rep % 2 == 0 else plan[::-1]  # alternate the order against drift
            for name, fn in order:
                with tempfile.TemporaryDirectory(prefix="tunegraph-bench-", dir=args.tmpdir) as tmp, \
                        counting_statements() as statements, counting_journal_writes() as journal:
                    _CPU_START[0] = time.process_time()
                    result = fn(args.trials, args.seed + rep, Path(tmp), evaluate)
                result["repeat"] = rep
                result["storage_statements_per_trial"] = statements[0] / max(1, result["n_trials"])
                if args.storage == "journal":
                    result["journal_appends_per_trial"] = journal["appends"] / max(1, result["n_trials"])
                    result["journal_fsyncs_per_trial"] = journal["syncs"] / max(1, result["n_trials"])
                report["raw"][name].append(result)
                _log(f"repeat {rep + 1}/{args.repeats} {name}: wall {result['wall_s']:.2f} s, objective "
                     f"{result['objective_s']:.2f} s, overhead {result['overhead_per_trial_ms']:.1f} ms/trial")
    report["summary"] = summarize(report["raw"])
    report["load_avg"] = {"start": load_start, "end": load_avg()}
    return report


KEYS = ("n_trials", "wall_s", "objective_s", "setup_s", "objective_median_ms", "overhead_per_trial_ms",
        "overhead_pct_of_median_objective", "storage_statements_per_trial", "llm_calls", "llm_s_per_call",
        "overhead_excl_llm_per_trial_ms", "cpu_per_trial_ms", "journal_appends_per_trial", "journal_fsyncs_per_trial")


def summarize(raw: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, runs in raw.items():
        summary[name] = {k: mean_std([r[k] for r in runs]) for k in KEYS
                         if runs and all(r.get(k) is not None for r in runs)}
        if not any(r.get("llm_calls") for r in runs):
            summary[name].pop("llm_calls", None)
    plain = {r["repeat"]: r for r in raw.get("plain", [])}
    for name, runs in raw.items():  # what the graph adds per trial over the plain loop, repeat by repeat
        if name != "plain" and plain:
            diffs = [r["overhead_per_trial_ms"] - plain[r["repeat"]]["overhead_per_trial_ms"]
                     for r in runs if r["repeat"] in plain]
            if diffs:
                summary[name]["added_over_plain_per_trial_ms"] = mean_std(diffs)
    return summary


# ---- reporting ---------------------------------------------------------------------------------

def _fmt(stat: dict[str, float] | None, digits: int = 2) -> str:
    if not stat:
        return "-"
    if stat["n"] > 1:
        return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    s = report["settings"]
    storage = s.get("storage", "sqlite")
    lines = [f"### {s['dataset']} / {s['model']} ({s['metric']}), objective: {s['objective']}, "
             f"{s['trials']} trials, {s['repeats']} repeat(s), llm: {s['llm']}"
             + (f", storage: {storage}" if storage != "sqlite" else "") + (f" ({s['label']})" if s.get("label") else ""),
             "",
             f"Machine: {machine_line(report['machine'])}. Date: {report['date']}. Folds {s['folds']}, "
             f"seed {s['seed']} (+ repeat index), warm-up {s['warmup_trials']} trials per variant (untimed). "
             f"{'Journal file (Optuna storage) and SQLite' if storage == 'journal' else 'SQLite'} files "
             f"(Optuna storage, checkpoints) in {s.get('tmpdir', '?')}.",
             ""]
    load = report.get("load_avg") or {}
    if load.get("start") and load.get("end"):
        lines += [f"Load average (1/5/15 min) at start {load['start']}, at end {load['end']} on "
                  f"{report['machine']['cpu_count']} CPUs (above the CPU count: other work competed for the CPUs).", ""]
    else:
        lines += ["Load average: not recorded for this run.", ""]
    if report.get("llm_load_s") is not None:
        lines += [f"Embedded LLM loaded once before timing in {report['llm_load_s']:.2f} s (not in the table).", ""]
    lines += ["| variant | trials | wall s | objective s | setup s | median objective ms | overhead ms/trial "
              "| overhead % of median objective | added over plain ms/trial | storage statements/trial "
              "| LLM calls | LLM s/call | overhead excl. LLM ms/trial | CPU ms/trial | journal appends (fsyncs)/trial |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, st in report["summary"].items():
        pct = st.get("overhead_pct_of_median_objective")
        lines.append("| " + " | ".join([
            name, _fmt(st.get("n_trials"), 0), _fmt(st.get("wall_s")), _fmt(st.get("objective_s")),
            _fmt(st.get("setup_s"), 3), _fmt(st.get("objective_median_ms"), 3), _fmt(st.get("overhead_per_trial_ms"), 1),
            _fmt(pct, 1 if pct and pct["mean"] < 1e4 else 0), _fmt(st.get("added_over_plain_per_trial_ms"), 1),
            _fmt(st.get("storage_statements_per_trial"), 1), _fmt(st.get("llm_calls"), 1), _fmt(st.get("llm_s_per_call"), 3),
            _fmt(st.get("overhead_excl_llm_per_trial_ms"), 1), _fmt(st.get("cpu_per_trial_ms"), 1),
            (f"{_fmt(st.get('journal_appends_per_trial'), 1)} ({_fmt(st.get('journal_fsyncs_per_trial'), 1)})"
             if st.get("journal_appends_per_trial") else "-")]) + " |")
    lines += ["", "Mean ± sample std over repeats. overhead = (wall - objective) / trials, wall from loading the "
              "task to the last trial (setup included); objective = sum of each trial's evaluation wall time. "
              "Storage statements: SQL statements of Optuna's storage per trial, setup included (not the "
              "checkpoints; '-' where not recorded). CPU: the process's CPU time per trial, setup included "
              "(with cross-validation, its CPU too). Journal appends: writes to the journal file per trial, "
              "and how many of them were flushed to the disk (fsync).", ""]
    return "\n".join(lines)


def run_key(report: dict[str, Any]) -> str:
    s = report["settings"]
    storage = s.get("storage", "sqlite")
    return (f"{s['dataset']}|{s['model']}|{s['objective']}|trials={s['trials']}|repeats={s['repeats']}|"
            f"llm={s['llm']}|mem={s['memory_saver']}|tmp={s.get('tmpdir', '')}"
            + (f"|storage={storage}" if storage != "sqlite" else "") + (f"|label={s['label']}" if s.get("label") else ""))


NOTES = "<!-- notes -->"  # FILE.md from this line on is written by hand, and kept by save


def save(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    runs: dict[str, Any] = {}
    if out.exists():
        with contextlib.suppress(ValueError, OSError):
            runs = json.loads(out.read_text()).get("runs", {})
    runs[run_key(report)] = report
    out.write_text(json.dumps({"benchmark": "benchmarks/overhead.py", "runs": runs}, indent=2, default=str))
    md = ["# TuneGraph: optimize-graph overhead vs a plain Optuna loop", "",
          "Produced by `benchmarks/overhead.py`; regenerate with the commands in its docstring.", ""]
    md += [markdown(r) for r in runs.values()]
    md_path = out.with_suffix(".md")
    old = md_path.read_text() if md_path.exists() else ""
    notes = old[old.index(NOTES):] if NOTES in old else ""  # written by hand: kept
    md_path.write_text("\n".join(md) + ("\n" + notes if notes else ""))
    _log(f"results written to {out} and {out.with_suffix('.md')}")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Per-trial overhead of the optimize graph vs a plain Optuna loop.")
    p.add_argument("--dataset", default="breast_cancer", help="built-in data set (default: breast_cancer)")
    p.add_argument("--model", default="xgboost", help="model family (default: xgboost)")
    p.add_argument("--metric", default=None, help="metric (default: the task's default)")
    p.add_argument("--trials", type=int, default=20, help="trials per run (default: 20)")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each variant (default: 3)")
    p.add_argument("--llm", choices=("none", "embedded"), default="none",
                   help="embedded: also run the graph with the embedded LLM and the llm_tpe sampler")
    p.add_argument("--objective", choices=("cv", "instant"), default="cv",
                   help="cv: cross-validation (default); instant: a trivial quadratic of the parameters")
    p.add_argument("--memory-saver", action="store_true", help="also run the graph with an InMemorySaver")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--seed", type=int, default=0, help="base seed; repeat r uses seed + r (default: 0)")
    p.add_argument("--warmup-trials", type=int, default=2, help="untimed warm-up trials per variant (0: none)")
    p.add_argument("--storage", choices=("sqlite", "journal"), default="sqlite",
                   help="both loops' Optuna storage: an SQLite file (default) or a journal file")
    p.add_argument("--tmpdir", default=None,
                   help="where the temp SQLite files go (default: the system temp dir; e.g. /dev/shm to take fsync out)")
    p.add_argument("--out", type=Path, help="merge the result into this JSON file and write a .md next to it")
    p.add_argument("--label", default="", help="a name for this run in --out (e.g. which code it measured)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trials < 1 or args.repeats < 1:
        print("--trials and --repeats must be at least 1", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # the same for both loops: no warning output inside the timings
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # as tools.trials.runs does for the graph
    report = run_benchmark(args)
    print(markdown(report))
    if args.out:
        save(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
