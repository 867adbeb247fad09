"""Issue 22's outer holdout: does the post-hoc ensemble (and ``--ensemble auto``'s saved model) beat the
best single trial on rows the run never saw, at what extra wall time, and how do FLAML and AutoGluon
do at TuneGraph's own wall time?

A benchmark script over ``benchmarks/common`` (``outer_holdout``: the split, the run, the scores and the
peers; ``holdout_report``: the report); its smoke configuration is tests/test_holdout_smoke.py.
For each data set of a folder with an ``index.json`` (default ../shared/datasets, all 37), each seed
(0..4) and each trial budget (10, 20):

* ``tunegraph``: 20% of the rows held out (stratified by class, by seed; larger data sets first
  subsampled to ``--max-rows`` as compare.py does); TuneGraph's default search (no --model: across
  families, the portfolio first, the box space, no LLM) on the other 80%, leave-one-dataset-out
  exactly as compare.py's default method ``tunegraph_box`` runs it (``exclude_tasks=[name]``, the
  portfolio's task weighting chosen by the nested inner leave-one-out), with ``ensemble='on'`` so
  the ensemble is planned, refit and saved. Scored on the 20% with the run's metric: (a) the saved
  model (the ensemble), (b) the best single trial refit on the 80% (``fit_model`` on the study's
  best trial), (c) auto's model: (a) where the plan's ``auto`` rule (fixed in advance: the ensemble
  selected on one half of the rows beats the best single trial chosen on that half, on the other
  half, both ways) says so, else (b); and a constant baseline. Wall time split into setup, search
  (the trials), the modeler node (the ensemble's refits) and the single refit (b) with its save,
  which is what an ``ensemble='off'`` run's modeler does.
* ``tunegraph_off``: the same run with ``ensemble='off'`` (no out-of-fold predictions kept), on a
  subset fixed in advance (``--off-datasets`` data sets evenly spaced by size, seeds below
  ``--off-seeds``): its search time against the ``tunegraph`` run's is the out-of-fold overhead.
* ``flaml``: ``flaml.AutoML().fit`` on the same 80% (the columns TuneGraph's loader prepared, text
  as pandas categories), ``time_budget`` = that ``tunegraph`` run's wall time, one thread, scored on
  the same 20%; its wall time recorded.
* ``autogluon``: ``autogluon.tabular.TabularPredictor`` (default preset), ``time_limit`` = the same;
  only where ``autogluon.tabular`` is installed (it is not: installing it downgrades pandas 3 to 2.3,
  see the report), otherwise listed as not run.

Resumable like compare.py: one JSON line per finished unit in ``results/holdout.jsonl`` (a failure is
a ``failure`` line and is retried on the next start), seed-major order, compressed into
``holdout.jsonl.gz`` when nothing is left; the report (``holdout.md``) is rebuilt from whatever is
finished, and says what is missing.

    python benchmarks/holdout.py --dry-run             # the plan, what is left, a time estimate
    python benchmarks/holdout.py --jobs 1              # the full run (resumes where it stopped)
    python benchmarks/holdout.py --only sonar servo --seeds 1 --budgets 10
    python benchmarks/holdout.py --report-only         # the report from what is finished
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

from benchmarks.common.graph_runs import isolated_home, matrix_env  # noqa: E402
from benchmarks.common.holdout_report import KINDS, PEERS, write_report  # noqa: E402
from benchmarks.common.machine import load_avg, log, machine_info, quiet  # noqa: E402
from benchmarks.common.outer_holdout import (  # noqa: E402
    HOLDOUT_SHARE,
    METHOD,
    autogluon_available,
    close_run,
    holdout_scores,
    model_predictions,
    outer_split,
    run_autogluon,
    run_default_search,
    run_flaml,
    score_predictions,
    test_target,
    train_task,
    write_train,
)
from benchmarks.common.paths import DEFAULT_DATASETS, RESULTS, SHIPPED_METADATASET  # noqa: E402
from benchmarks.common.portfolio import nested_neighbors, snapshot_matrix  # noqa: E402
from benchmarks.common.results import append_row, archive, read_rows, working_path  # noqa: E402

BUDGETS = [10, 20]
SEEDS = 5
OFF_DATASETS, OFF_SEEDS = 8, 2
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PORTFOLIO_RESULTS = RESULTS / "compare_portfolio.jsonl"  # measured tunegraph_box wall times: the estimate


# ---- settings, keys, the plan ------------------------------------------------------------------

def setting_of(args) -> dict[str, Any]:
    """What makes two runs comparable (rows of another setting in the file are ignored); also the
    keys ``graph_runs.graph_context`` reads (no LLM: the default search makes no LLM call)."""
    return {"method": METHOD, "folds": args.folds, "max_rows": args.max_rows, "holdout": HOLDOUT_SHARE,
            "llm": "none", "p_llm": 0.5, "warm_start": 0}


def setting_id(setting: dict[str, Any]) -> str:
    return ";".join(f"{k}={setting[k]}" for k in sorted(setting))


def unit_key(kind: str, dataset: str, seed: int, budget: int, setting: dict[str, Any]) -> str:
    return f"{kind}|{dataset}|{seed}|budget={budget}|{setting_id(setting)}"


Unit = tuple[str, str, int, int]  # kind, data set, seed, budget


def off_datasets(names: list[str], index: dict[str, Any], n: int) -> list[str]:
    """``n`` of ``names`` evenly spaced by row count (fixed before any result: the off-run subset)."""
    ordered = sorted(names, key=lambda m: (index[m].get("rows") or 0, m))
    if n >= len(ordered):
        return ordered
    if n <= 0:
        return []
    picks = sorted({round(i * (len(ordered) - 1) / max(1, n - 1)) for i in range(n)})
    return [ordered[i] for i in picks]


def kinds_of(args) -> list[str]:
    kinds = ["tunegraph"] + [p for p in PEERS if p in args.peers]
    return kinds + (["tunegraph_off"] if args.off_datasets and args.off_seeds else [])


def plan(args, names: list[str], index: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[list[Unit], list[Unit]]:
    """(every unit, those still to do) in seed-major order: per (seed, data set, budget) the run, its
    peers, then its ensemble-off twin where chosen."""
    setting = setting_of(args)
    done = {r["key"] for r in rows if r.get("kind") in KINDS}
    off = set(off_datasets(names, index, args.off_datasets))
    kinds = kinds_of(args)
    units = [(k, n, s, b) for s in range(args.seeds) for n in names for b in args.budgets for k in kinds
             if k != "tunegraph_off" or (n in off and s < args.off_seeds)]
    return units, [u for u in units if unit_key(*u, setting) not in done]


def selection(args) -> tuple[dict[str, Any], list[str]]:
    from tunegraph.tools.meta.metabuild import read_index

    index = read_index(args.datasets)
    if args.only:
        unknown = [n for n in args.only if n not in index]
        if unknown:
            raise SystemExit(f"not in {args.datasets}/index.json: {', '.join(unknown)}; it has: {', '.join(sorted(index))}")
        return index, list(args.only)
    return index, sorted(index)


# ---- one unit (in this process or a worker) ----------------------------------------------------

def unit_job(datasets: str, name: str, entry: dict[str, Any], kind: str, seed: int, budget: int,
             setting: dict[str, Any], matrix: dict[str, Any] | None, peer_budget: float | None,
             peer_max_s: float) -> dict[str, Any]:
    """One unit's JSON line (a ``failure`` line where it raised)."""
    try:
        return _unit(datasets, name, entry, kind, seed, budget, setting, matrix, peer_budget, peer_max_s)
    except Exception as exc:  # one unit's failure is recorded; the others go on
        return {"kind": "failure", "unit": kind, "key": unit_key(kind, name, seed, budget, setting), "dataset": name,
                "seed": seed, "budget": budget, "setting": setting, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()[-3000:], "date": datetime.now(UTC).isoformat(timespec="seconds")}


def _unit(datasets, name, entry, kind, seed, budget, setting, matrix, peer_budget, peer_max_s) -> dict[str, Any]:
    quiet()
    with isolated_home() as tmp, matrix_env(matrix["path"] if matrix else None, tmp):
        load_before = load_avg()
        split = outer_split(datasets, name, entry, seed, setting["max_rows"])
        path = write_train(split, tmp)
        out: dict[str, Any] = {}
        if kind in ("tunegraph", "tunegraph_off"):
            search = run_default_search(split, path, seed, setting, tmp, budget, matrix,
                                        "on" if kind == "tunegraph" else "off")
            run = search["run"]
            try:
                task, metric = run.task, run.metric
                out.update(search["record"])
                if kind == "tunegraph":
                    out.update(holdout_scores(split, search, seed, tmp))
                else:  # the off run's own saved model (the single best, refit by its modeler): a check
                    from tunegraph.tools.ml.fitted import load_model

                    y = test_target(split, task)
                    model = load_model(search["model_path"])
                    out["scores"] = {"single": score_predictions(metric.name, task.task_type, y,
                                                                 model_predictions(model, split.test_features(),
                                                                                   task.task_type))}
                    out.update(n_train=int(len(task.y)), n_test=int(len(y)), n_classes=int(task.n_classes))
            finally:
                close_run(run)
        else:
            from tunegraph.tools.trials.evaluation import default_metric, get_metric

            task = train_task(path, split)
            metric = get_metric(default_metric(task), task)
            budget_s = float(peer_budget) if peer_max_s <= 0 else min(float(peer_budget), peer_max_s)
            t0 = time.perf_counter()
            peer = run_flaml if kind == "flaml" else run_autogluon
            out.update(peer(split, task, metric.name, seed, budget_s, tmp))
            out.update(wall_s=time.perf_counter() - t0, tunegraph_wall_s=float(peer_budget),
                       n_train=int(len(task.y)), n_test=int(len(split.test)), n_classes=int(task.n_classes))
    return {"kind": kind, "key": unit_key(kind, name, seed, budget, setting), "dataset": name, "seed": seed,
            "budget": budget, "setting": setting, "task_type": task.task_type, "metric": metric.name,
            "direction": metric.direction, "n_rows": int(len(split.frame)), "split": split.digest, **out,
            "load_avg": [load_before, load_avg()], "pid": os.getpid(), "machine": machine_info(),
            "jobs": int(os.environ.get("TUNEGRAPH_HOLDOUT_JOBS", "1")),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


# ---- estimates ---------------------------------------------------------------------------------

def base_walls(rows: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """(data set, budget) -> seconds of a run: this file's tunegraph runs, else compare.py's measured
    ``tunegraph_box`` runs on all rows (x0.8, the share the search sees here)."""
    walls: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        if r.get("kind") == "tunegraph":
            walls.setdefault((r["dataset"], int(r["budget"])), []).append(float(r["wall_s"]))
    known = {k: statistics.fmean(v) for k, v in walls.items()}
    with_portfolio: dict[tuple[str, int], list[float]] = {}
    for r in read_rows(PORTFOLIO_RESULTS):
        if r.get("kind") == "run" and r.get("method") == METHOD and r.get("budget"):
            with_portfolio.setdefault((r["dataset"], int(r["budget"])), []).append(0.8 * float(r["wall_s"]))
    for k, v in with_portfolio.items():
        known.setdefault(k, statistics.fmean(v))
    return known


def unit_estimate(unit: Unit, walls: dict[tuple[str, int], float]) -> float:
    """Seconds of a unit: a run ~ its base wall plus refits (x1.15); a peer ~ the run's wall; the off twin ~ the run."""
    kind, name, _, budget = unit
    wall = walls.get((name, budget))
    if wall is None:  # unknown data set: the median of the same budget
        same = [v for (n, b), v in walls.items() if b == budget]
        wall = statistics.median(same) if same else 2.0 * budget
    return wall * (1.15 if kind in ("tunegraph", *PEERS) else 1.0)


def dry_run(args) -> dict[str, Any]:
    index, names = selection(args)
    rows = read_rows(Path(args.results))
    units, left = plan(args, names, index, rows)
    walls = base_walls(rows)
    print(f"outer holdout: {len(names)} data sets, seeds 0..{args.seeds - 1}, budgets {' '.join(map(str, args.budgets))}, "
          f"peers: {', '.join(args.peers) or 'none'}; setting {setting_id(setting_of(args))}")
    print(f"ensemble-off twins on {', '.join(off_datasets(names, index, args.off_datasets)) or 'none'} "
          f"(seeds below {args.off_seeds})")
    if "autogluon" in args.peers and not autogluon_available():
        print("note: autogluon.tabular is not installed: its units are not run (listed as missing in the report)")
    print(f"{'unit':16} {'all':>6} {'to do':>6} {'est. h':>8}")
    total = 0.0
    for kind in kinds_of(args):
        mine = [u for u in units if u[0] == kind]
        todo = [u for u in left if u[0] == kind]
        if kind == "autogluon" and not autogluon_available():
            print(f"{kind:16} {len(mine):>6} {len(todo):>6} {'not run':>8}")
            continue
        est = sum(unit_estimate(u, walls) for u in todo) / 3600
        total += est
        print(f"{kind:16} {len(mine):>6} {len(todo):>6} {est:>8.1f}")
    print(f"total: {len(units)} units, {len(left)} to do; estimated {total:.1f} h on one thread, "
          f"{total / args.jobs:.1f} h with --jobs {args.jobs} (from measured run times: this file's, else compare.py's "
          f"{METHOD} runs; plus a few seconds per unit for the split, the refits and the scoring)")
    return {"units": len(units), "left": len(left), "hours": total}


# ---- the driver --------------------------------------------------------------------------------

class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def execute(args) -> None:
    results = Path(args.results)
    index, names = selection(args)
    setting = setting_of(args)
    rows = read_rows(results)
    units, left = plan(args, names, index, rows)
    skipped = [u for u in left if u[0] == "autogluon" and not autogluon_available()]
    left = [u for u in left if u not in skipped]
    log(f"data sets: {', '.join(names)}; seeds: {args.seeds}; budgets: {' '.join(map(str, args.budgets))}; "
        f"peers: {', '.join(args.peers) or 'none'}; setting: {setting_id(setting)}")
    log(f"ensemble-off twins: {', '.join(off_datasets(names, index, args.off_datasets)) or 'none'} "
        f"(seeds below {args.off_seeds})")
    if skipped:
        log(f"autogluon.tabular is not installed: {len(skipped)} AutoGluon units not run")
    log(f"to do: {len(left)} of {len(units)} units; results: {results}")
    if not left:
        if working_path(results).is_file() and not skipped:
            log(f"finished: results compressed into {archive(results)}")
        return
    env = {"TUNEGRAPH_METADATASET": str(Path(args.metadataset).resolve()), "TUNEGRAPH_HOLDOUT_JOBS": str(args.jobs)}
    if args.jobs > 1:  # one thread per worker (read by the spawned processes)
        env.update({var: os.environ.get(var, "1") for var in THREAD_VARS})
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with tempfile.TemporaryDirectory(prefix="tunegraph-holdout-matrix-") as folder:
            matrix = snapshot_matrix(Path(args.matrix), Path(folder)) if args.matrix != "none" else None
            if matrix:
                cache = results.with_name(results.stem + "_nested_settings.json")
                matrix["neighbors"] = nested_neighbors(matrix, args.metadataset, names, cache)
                log(f"configuration matrix: {matrix['source']} (copy sha256 {matrix['sha256'][:12]}, {matrix['cells']} "
                    f"cells, {matrix['tasks']} data sets); portfolio weighting without the held-out data set: "
                    + ", ".join(f"{n} {k}" for n, k in matrix["neighbors"].items()))
            _run_units(args, results, index, setting, left, rows, matrix)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    _, left = plan(args, names, index, read_rows(results))
    if not [u for u in left if u[0] != "autogluon" or autogluon_available()] and working_path(results).is_file():
        log(f"finished: results compressed into {archive(results)}")


def _run_units(args, results: Path, index, setting, todo: list[Unit], rows, matrix) -> None:
    """Run ``todo`` in order, ``--jobs`` at a time; a peer waits for its run (it takes the run's wall time)."""
    walls = base_walls(rows)
    runs_wall = {(r["dataset"], r["seed"], r["budget"]): float(r["wall_s"]) for r in rows
                 if r.get("kind") == "tunegraph" and r.get("setting") == setting}
    failed_runs: set[tuple[str, int, int]] = set()
    pending = list(todo)
    est_total = sum(unit_estimate(u, walls) for u in todo)
    est_done, started, done = 0.0, time.perf_counter(), 0
    pool = (ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) if args.jobs > 1 else None)
    flight: dict[Any, Unit] = {}

    def ready(u: Unit) -> bool:
        return u[0] not in PEERS or (u[1], u[2], u[3]) in runs_wall

    def submit(u: Unit) -> None:
        kind, n, s, b = u
        a = (args.datasets, n, index[n], kind, s, b, setting, matrix, runs_wall.get((n, s, b)), args.peer_max_s)
        flight[pool.submit(unit_job, *a) if pool else _Done(unit_job(*a))] = u

    try:
        while pending or flight:
            for u in [u for u in pending if u[0] in PEERS and (u[1], u[2], u[3]) in failed_runs]:
                pending.remove(u)
                log(f"{u[1]} seed {u[2]} budget {u[3]} {u[0]}: skipped, its TuneGraph run failed")
            while pending and len(flight) < args.jobs:
                nxt = next((u for u in pending if ready(u)), None)
                if nxt is None:
                    break
                pending.remove(nxt)
                submit(nxt)
            if not flight:
                break
            finished = list(flight) if not pool else list(wait(flight, return_when=FIRST_COMPLETED).done)
            for future in finished:
                u = flight.pop(future)
                kind, n, s, b = u
                try:
                    row = future.result()
                except Exception as exc:  # a worker died
                    row = {"kind": "failure", "unit": kind, "key": unit_key(*u, setting), "dataset": n, "seed": s,
                           "budget": b, "setting": setting, "error": f"{type(exc).__name__}: {exc}", "traceback": ""}
                append_row(results, row)
                done += 1
                est_done += unit_estimate(u, walls)
                what = f"{n} seed {s} budget {b} {kind}"
                if row["kind"] == "failure":
                    if kind == "tunegraph":
                        failed_runs.add((n, s, b))
                    log(f"[{done}/{len(todo)}] {what}: failed: {row['error']}\n{row['traceback']}")
                    continue
                if kind == "tunegraph":
                    runs_wall[(n, s, b)] = float(row["wall_s"])
                elapsed = time.perf_counter() - started
                eta = elapsed / max(est_done, 1e-9) * (est_total - est_done) / 60
                log(f"[{done}/{len(todo)}] {what}: {_summary(row)}; elapsed {elapsed / 60:.1f} min, "
                    f"ETA {eta:.0f} min ({eta / 60:.1f} h)")
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)


def _summary(row: dict[str, Any]) -> str:
    if row["kind"] in PEERS:
        return (f"{row['metric']} {row['score']:.5g} on the 20% ({row['best_estimator']}) in {row['wall_s']:.1f} s "
                f"of {row['time_budget_s']:.1f} s")
    sc = row["scores"]
    if row["kind"] == "tunegraph_off":
        return f"single {sc['single']:.5g}; search {row['search_s']:.1f} s, modeler {row['modeler_s']:.1f} s"
    plan_ = row["plan"]
    ens = "n/a" if sc["ensemble"] is None else f"{sc['ensemble']:.5g}"
    return (f"{row['metric']} on the 20%: ensemble {ens} ({len(plan_['members'])} members, {plan_['status']}), "
            f"single {sc['single']:.5g}, auto {'ensemble' if plan_['auto'] else 'single'}; search {row['search_s']:.1f} s, "
            f"modeler {row['modeler_s']:.1f} s, single refit {row['single_refit_s']:.1f} s, wall {row['wall_s']:.1f} s")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Issue 22's outer holdout: TuneGraph's ensemble, auto and best single "
                                            "trial, FLAML and AutoGluon, scored on 20% of the rows held out.")
    p.add_argument("--datasets", default=str(DEFAULT_DATASETS), help="folder with index.json (default: ../shared/datasets)")
    p.add_argument("--only", nargs="+", help="these data sets (default: every one of the index)")
    p.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds 0..N-1 (default: {SEEDS})")
    p.add_argument("--budgets", nargs="+", type=int, default=BUDGETS, help="trial budgets (default: 10 20)")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS),
                   help="peer AutoML systems (default: flaml autogluon; autogluon runs only where installed)")
    p.add_argument("--off-datasets", type=int, default=OFF_DATASETS,
                   help=f"data sets (evenly spaced by size) of the ensemble-off twins (default: {OFF_DATASETS}; 0: none)")
    p.add_argument("--off-seeds", type=int, default=OFF_SEEDS, help=f"seeds of the twins (default: 0..{OFF_SEEDS - 1})")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    p.add_argument("--max-rows", type=int, default=5000, help="subsample larger data sets first (default: 5000)")
    p.add_argument("--metadataset", default=str(SHIPPED_METADATASET), help="base meta-dataset (default: the shipped one)")
    p.add_argument("--matrix", default=None,
                   help="configuration matrix (default: $TUNEGRAPH_MATRIX, else the one beside --metadataset)")
    p.add_argument("--peer-max-s", type=float, default=0.0,
                   help="cap on a peer's time budget in seconds (smoke tests only; default 0: none, TuneGraph's wall)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default: 1; timings want 1)")
    p.add_argument("--results", default=str(RESULTS / "holdout.jsonl"),
                   help="JSON-lines results, resumable (default: benchmarks/results/holdout.jsonl; .gz when finished)")
    p.add_argument("--report", default=None, help="Markdown report (default: the results path with .md)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, what is left and an estimate; run nothing")
    p.add_argument("--report-only", action="store_true", help="only rebuild the report from the results")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.budgets = sorted(set(args.budgets))
    args.results = str(working_path(args.results))
    args.datasets = str(Path(args.datasets).resolve())
    if args.matrix is None:
        env = os.environ.get("TUNEGRAPH_MATRIX")
        args.matrix = env or str(Path(args.metadataset).with_name("config_matrix.parquet"))
    if min(args.budgets) < 1 or args.seeds < 1 or args.jobs < 1 or args.folds < 2:
        parser.error("--budgets, --seeds and --jobs must be at least 1, --folds at least 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        dry_run(args)
        return 0
    if not args.report_only:
        execute(args)
    index, names = selection(args)
    units, left = plan(args, names, index, read_rows(Path(args.results)))
    report = Path(args.report) if args.report else Path(args.results).with_suffix(".md")
    summary = write_report(read_rows(Path(args.results)), setting_of(args), report, datasets=names,
                           seeds=args.seeds, budgets=args.budgets, units=units, left=left,
                           autogluon_installed=autogluon_available(),
                           off=off_datasets(names, index, args.off_datasets), off_seeds=args.off_seeds)
    log(f"report: {report} ({summary['n_rows']} finished units, {len(left)} left)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
