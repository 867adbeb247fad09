"""Trials per second through the Optuna storage, 1, 2 and 4 worker processes on one study.

A benchmark script, not a test. The objective is near-instant (a quadratic of the normalized
parameters, ``benchmarks/overhead.py``'s), so what is measured is the storage and the loop
around it. For each storage (SQLite file; PostgreSQL with ``--postgres URL`` or
``$TUNEGRAPH_TEST_POSTGRES``), each worker count and each repeat, on a fresh study:

* ``optuna``: N processes each run ``study.optimize(objective, n_trials=TOTAL / N)`` with
  ``TPESampler(seed=worker)`` on the family's search space: a plain Optuna loop.
* ``graph``: N processes each run ``tunegraph optimize --llm none --sampler tpe --trials TOTAL
  --worker wI`` on the same study (the budget shared through TuneGraph's claims), with the
  Evaluator's cross-validation swapped for the instant objective in each process (a benchmark
  device, as in overhead.py). Each worker has its own directory, so its own checkpoint file,
  as on its own machine.

The processes start, import and open the storage, then wait for a common start signal.
Throughput is TOTAL / (last trial's completion - first trial's start), from the trials' own
timestamps; process start-up (imports, about 3-7 s) is reported apart as the wall time.

Usage:
    python benchmarks/storage_throughput.py --trials 120 --repeats 3 --postgres postgresql://u:pw@127.0.0.1/db

Writes benchmarks/results/storage_throughput.json and .md (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common.graph_runs import graph_objective  # noqa: E402
from benchmarks.common.machine import load_avg, machine_info, machine_line  # noqa: E402
from benchmarks.common.optuna_loops import make_instant, suggest  # noqa: E402


def _space(dataset: str, model: str):
    from tunegraph.tools.ml.models import get_family
    from tunegraph.tools.ml.tasks import load_task
    from tunegraph.tools.trials.evaluation import get_metric

    task = load_task(dataset=dataset)
    family = get_family(model, task.task_type)
    return task, family, get_metric(None, task), family.search_space(task.task_type).to_optuna()


def _wait_for(go: Path, ready: Path) -> None:
    ready.touch()
    while not go.exists():
        time.sleep(0.01)


# ---- inside a worker process -----------------------------------------------------------------

def worker_optuna(args) -> None:
    import optuna

    from tunegraph.tools.trials.distributed import storage_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _, _, metric, distributions = _space(args.dataset, args.model)
    instant = make_instant(distributions, metric.direction)
    kwargs = {"connect_args": {"timeout": 60}} if args.storage.startswith("sqlite") else {}
    storage = optuna.storages.RDBStorage(storage_url(args.storage), engine_kwargs=kwargs)
    study = optuna.load_study(study_name=args.study, storage=storage,
                              sampler=optuna.samplers.TPESampler(seed=args.index))

    def objective(trial):
        params = {name: suggest(trial, name, dist) for name, dist in distributions.items()}
        return instant(None, None, params).mean

    _wait_for(Path(args.go), Path(args.ready))
    study.optimize(objective, n_trials=args.n)


def worker_graph(args) -> None:
    """``tunegraph optimize`` in this process (``python -m tunegraph``, the CLI as installed), around the
    instant objective."""
    import runpy
    import warnings

    warnings.simplefilter("ignore")
    _, _, metric, distributions = _space(args.dataset, args.model)
    with graph_objective(make_instant(distributions, metric.direction)):
        _wait_for(Path(args.go), Path(args.ready))
        sys.argv = ["tunegraph", "optimize", "--dataset", args.dataset, "--model", args.model, "--llm", "none",
                    "--sampler", "tpe", "--trials", str(args.n), "--storage", args.storage, "--study", args.study,
                    "--worker", f"w{args.index}", "--no-learn", "--quiet"]
        runpy.run_module("tunegraph", run_name="__main__")  # exits with the command's status


# ---- the parent ------------------------------------------------------------------------------

def run_once(mode: str, storage: str, workers: int, total: int, args, tmp: Path) -> dict:
    import optuna

    from tunegraph.tools.trials.distributed import counts, storage_url

    study = f"bench-{mode}-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=study, storage=storage_url(storage),
                        direction=_space(args.dataset, args.model)[2].direction)
    go = tmp / f"{study}.go"
    procs = []
    started = time.perf_counter()
    for i in range(workers):
        cwd = tmp / f"{study}-w{i}"  # its own directory: its own checkpoints, as on its own machine
        cwd.mkdir()
        n = total // workers + (1 if i < total % workers else 0) if mode == "optuna" else total
        command = [sys.executable, str(Path(__file__).resolve()), "--as-worker", mode, "--storage", storage,
                   "--study", study, "--index", str(i), "--n", str(n), "--go", str(go),
                   "--ready", str(tmp / f"{study}.ready{i}"), "--dataset", args.dataset, "--model", args.model]
        procs.append(subprocess.Popen(command, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    while not all((tmp / f"{study}.ready{i}").exists() for i in range(workers)):
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.02)
    go.touch()
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - started
    if any(p.returncode for p in procs):
        raise RuntimeError(f"{mode} worker failed: {errors}")
    trials = [t for t in optuna.load_study(study_name=study, storage=storage_url(storage)).trials if counts(t)]
    first = min(t.datetime_start for t in trials)
    last = max(t.datetime_complete for t in trials)
    span = (last - first).total_seconds()
    optuna.delete_study(study_name=study, storage=storage_url(storage))
    return {"mode": mode, "workers": workers, "trials": len(trials), "span_s": span, "wall_s": wall,
            "trials_per_s": len(trials) / span}


def run_benchmark(args) -> dict:
    storages = {"sqlite": None}
    if args.postgres:
        storages["postgresql"] = args.postgres
    report = {"settings": {"dataset": args.dataset, "model": args.model, "trials": args.trials,
                           "repeats": args.repeats, "workers": args.workers},
              "machine": machine_info(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "load_avg": {"start": load_avg()}, "raw": []}
    with tempfile.TemporaryDirectory(prefix="tunegraph-throughput-") as tmp:
        tmp = Path(tmp)
        for rep in range(args.repeats):
            for backend, url in storages.items():
                for workers in args.workers:
                    for mode in ("optuna", "graph") if rep % 2 == 0 else ("graph", "optuna"):
                        storage = url or f"sqlite:///{tmp / f'{uuid.uuid4().hex[:8]}.db'}"
                        result = run_once(mode, storage, workers, args.trials, args, tmp)
                        result.update(backend=backend, repeat=rep)
                        report["raw"].append(result)
                        print(f"repeat {rep + 1}/{args.repeats} {backend} {mode} x{workers}: "
                              f"{result['trials_per_s']:.1f} trials/s ({result['trials']} trials in "
                              f"{result['span_s']:.2f} s; wall {result['wall_s']:.1f} s)", file=sys.stderr, flush=True)
    report["load_avg"]["end"] = load_avg()
    return report


def markdown(report: dict) -> str:
    s = report["settings"]
    cells: dict[tuple, list[float]] = {}
    for r in report["raw"]:
        cells.setdefault((r["backend"], r["workers"], r["mode"]), []).append(r["trials_per_s"])

    def fmt(values):
        if not values:
            return "-"
        return f"{statistics.fmean(values):.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"

    lines = ["# TuneGraph: trials per second through the storage", "",
             "Produced by `benchmarks/storage_throughput.py`; regenerate with the command in its docstring.", "",
             f"{s['dataset']} / {s['model']} search space, near-instant objective, TPE, {s['trials']} trials per run, "
             f"{s['repeats']} repeat(s). Machine: {machine_line(report['machine'])}. Date: {report['date']}. "
             f"Load average (1/5/15 min) at start {report['load_avg']['start']}, at end {report['load_avg']['end']} "
             f"(above the CPU count: other work competed for the CPUs).", "",
             "| storage | workers | plain Optuna trials/s | TuneGraph graph trials/s | graph ms/trial per worker "
             "| plain ms/trial per worker |", "|---|---|---|---|---|---|"]
    for backend in dict.fromkeys(r["backend"] for r in report["raw"]):
        for workers in s["workers"]:
            plain, graph = cells.get((backend, workers, "optuna"), []), cells.get((backend, workers, "graph"), [])
            per = (lambda v: f"{1000 * workers / statistics.fmean(v):.0f}" if v else "-")
            lines.append(f"| {backend} | {workers} | {fmt(plain)} | {fmt(graph)} | {per(graph)} | {per(plain)} |")
    lines += ["", "Mean ± sample std over repeats. Throughput = trials / (last completion - first start), from "
              "the trials' timestamps; process start-up is excluded. ms/trial per worker = workers / throughput. "
              "Plain Optuna splits the total between its workers (TOTAL / N each); the graph's workers share "
              "one budget through TuneGraph's claims (study lock, heartbeats), with their own checkpoint files.", ""]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Trials per second through the storage, 1-4 workers, plain Optuna vs graph.")
    p.add_argument("--trials", type=int, default=120, help="trials per run, shared by its workers (default 120)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--dataset", default="iris")
    p.add_argument("--model", default="knn")
    p.add_argument("--postgres", default=os.environ.get("TUNEGRAPH_TEST_POSTGRES", ""),
                   help="PostgreSQL URL (default: $TUNEGRAPH_TEST_POSTGRES; none: SQLite only)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "storage_throughput.json")
    # inside a worker process
    p.add_argument("--as-worker", choices=("optuna", "graph"), help=argparse.SUPPRESS)
    for name in ("--storage", "--study", "--go", "--ready"):
        p.add_argument(name, help=argparse.SUPPRESS)
    p.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.as_worker == "optuna":
        worker_optuna(args)
        return 0
    if args.as_worker == "graph":
        worker_graph(args)
        return 0
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = run_benchmark(args)
    text = markdown(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    args.out.with_suffix(".md").write_text(text)
    print(f"results written to {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
