"""Zero-shot quality and response time of `recommend`, leave-one-dataset-out.

For each data set of a folder with index.json (default ../shared/datasets):
1. remove its rows from the meta-dataset and retrain the meta-learner without it;
2. run the recommend graph (evidence, recommender, judge) with --llm none, and optionally with
   the embedded LLM, timing each response;
3. cross-validate the recommended configuration on the data set (same protocol as the
   meta-dataset: up to 5,000 rows, 5 folds, seed 0);
4. compare with the best score known for the data set (any family, from the meta-dataset),
   the recommended family's library defaults, and Optuna TPE after 10 and 30 trials of that
   family (a real study, seed 0), whose wall time is the reference for the response time.

Results go to a JSON-lines file (one line per data set and LLM: resumable; compressed into
``zero_shot.jsonl.gz`` when every data set is done, see ``benchmarks/common/results.py``) and a
Markdown report.

    python benchmarks/zero_shot.py [--llm none embedded] [--only wine_uci glass] [--jobs 2]
    python benchmarks/zero_shot.py --portfolio [--matrix FILE] [--no-tpe]   # greedy portfolios, see that module
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common.data import indexed_task, shipped_metadataset, worst_known, write_task  # noqa: E402
from benchmarks.common.machine import quiet  # noqa: E402
from benchmarks.common.optuna_loops import tpe_study  # noqa: E402
from benchmarks.common.paths import DEFAULT_DATASETS, RESULTS  # noqa: E402
from benchmarks.common.results import append_rows, archive, read_rows, working_path  # noqa: E402
from benchmarks.common.stats import best, normalized_regret, relative_gap  # noqa: E402


def run_one(datasets: str, name: str, llms: list[str], folds: int, max_rows: int,
            known_tpe: dict[str, dict] | None = None) -> list[dict]:
    """The rows of one data set; ``known_tpe`` (family -> TPE baseline of an earlier row) skips re-running TPE."""
    from tunegraph.context import Context
    from tunegraph.graphs.recommend import graph
    from tunegraph.tools.meta import knowledge
    from tunegraph.tools.trials.evaluation import cross_validate_config

    quiet()
    task, metric = indexed_task(datasets, name, max_rows=max_rows)
    frame = shipped_metadataset()
    own = frame[frame.task == name]
    best_known = own.score_mean.max() if metric.direction == "maximize" else own.score_mean.min()
    # the data file is re-read by the graph: give it the same rows as the build did
    tmp = write_task(task, Path(os.environ.get("TMPDIR", "/tmp")) / f"zs-{os.getpid()}-{name}.parquet")
    rows = []
    tpe_cache: dict[str, dict] = dict(known_tpe or {})  # seed 0: the same study gives the same values
    for llm in llms:
        knowledge.forget()
        start = time.perf_counter()
        out = graph.invoke({"data_path": str(tmp), "target": task.target, "task_type": task.task_type,
                            "metric": metric.name, "exclude_tasks": [name]}, context=Context(llm=llm, seed=0))
        response_s = time.perf_counter() - start
        final = out["final"]
        rec = cross_validate_config(task, final["family"], final["params"], metric.name, folds=folds, seed=0)
        defaults = own[(own.family == final["family"]) & (own.source == "default")]
        default_score = float(defaults.score_mean.iloc[0]) if len(defaults) else float("nan")
        if final["family"] not in tpe_cache:
            t0 = time.perf_counter()
            values = [t.value for t in tpe_study(task, final["family"], metric, folds, n_trials=30, seed=0).trials]
            tpe_cache[final["family"]] = {"tpe10": best(values[:10], metric.direction),
                                          "tpe30": best(values, metric.direction),
                                          "tpe30_wall_s": time.perf_counter() - t0}
        tpe = tpe_cache[final["family"]]
        attempts = out["attempts"]
        rows.append({
            "dataset": name, "llm": llm, "task_type": task.task_type, "metric": metric.name,
            "direction": metric.direction, "family": final["family"], "params": final["params"],
            "source": final["source"], "recommended": rec.mean, "status": rec.status, "best_known": float(best_known),
            "default": default_score, **tpe, "response_s": response_s, "rounds": len(attempts),
            "judge_scores": [a["judgement"]["score"] for a in attempts],
            "judge_passed": [a["judgement"]["passed"] for a in attempts], "llm_calls": (out.get("llm") or {}).get("calls", 0),
        })
    tmp.unlink(missing_ok=True)
    return rows


def report(rows: list[dict], out: Path) -> str:
    import numpy as np
    import pandas as pd

    df = pd.DataFrame(rows)
    worst = worst_known(shipped_metadataset())
    lines = ["# Zero-shot recommendation, leave-one-dataset-out", "",
             f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}. One run per data set and LLM (seed 0); CV: 5 folds, up to 5,000 rows.", ""]
    for llm, g in df.groupby("llm"):
        g = g[g.status == "ok"]
        gap_best = [relative_gap(r.recommended, r.best_known, r.direction) for r in g.itertuples()]
        gap_def = [relative_gap(r.recommended, r.default, r.direction) for r in g.itertuples() if r.default == r.default]
        gap10 = [relative_gap(r.recommended, r.tpe10, r.direction) for r in g.itertuples()]
        gap30 = [relative_gap(r.recommended, r.tpe30, r.direction) for r in g.itertuples()]
        below_default = sum(1 for x in gap_def if x > 1e-9)
        # range-normalized: 0 = the best configuration known for the data set, 1 = the worst; unlike the
        # relative gap it does not blow up on a regression target whose best RMSE is near zero
        def regret(column: str) -> list[float]:
            return [normalized_regret(getattr(r, column), r.best_known, worst.get(r.dataset, r.best_known), r.direction)
                    for r in g.itertuples() if getattr(r, column) == getattr(r, column)]
        speedup = 1 - g.response_s / g.tpe30_wall_s
        lines += [f"## --llm {llm} ({len(g)} data sets)", "",
                  f"- shortfall vs the best known configuration: mean {np.mean(gap_best):.2%}, median "
                  f"{np.median(gap_best):.2%}, worst {np.max(gap_best):.2%}",
                  "- normalized regret (0 = best known configuration of the data set, 1 = worst known), mean / median: "
                  + "; ".join(f"{label} {np.mean(regret(c)):.3f} / {np.median(regret(c)):.3f}" for label, c in (
                      ("recommended", "recommended"), ("family defaults", "default"), ("TPE 10", "tpe10"),
                      ("TPE 30", "tpe30"))),
                  f"- vs the recommended family's library defaults: mean {np.mean(gap_def):.2%} "
                  f"(negative = better); below the defaults on {below_default} of {len(gap_def)} data sets",
                  f"- vs Optuna TPE after 10 trials of the family: mean {np.mean(gap10):.2%}; after 30: {np.mean(gap30):.2%}",
                  f"- response time: median {g.response_s.median():.2f} s, 95th percentile {g.response_s.quantile(0.95):.2f} s; "
                  f"30-trial TPE run: median {g.tpe30_wall_s.median():.1f} s; response time shorter by "
                  f"{speedup.median():.1%} (median)",
                  f"- judge: sent an answer back on {int((g.rounds > 1).sum())} of {len(g)} data sets; "
                  + _rescore(g), "",
                  "| data set | metric | family | source | recommended | best known | default | TPE 10 | TPE 30 | response s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in g.sort_values("dataset").itertuples():
            lines.append(f"| {r.dataset} | {r.metric} | {r.family} | {r.source} | {r.recommended:.4g} | {r.best_known:.4g} "
                         f"| {r.default:.4g} | {r.tpe10:.4g} | {r.tpe30:.4g} | {r.response_s:.2f} |")
        lines.append("")
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def _rescore(g) -> str:
    multi = [r.judge_scores for r in g.itertuples() if len(r.judge_scores) > 1]
    if not multi:
        return "no re-answers to compare"
    better = sum(1 for s in multi if max(s[1:]) > s[0])
    return f"the re-answer scored higher in {better} of {len(multi)} cases"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(DEFAULT_DATASETS))
    parser.add_argument("--llm", nargs="+", default=["none"])
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--results", default=str(RESULTS / "zero_shot.jsonl"))
    parser.add_argument("--baselines", nargs="*", default=[],
                        help="other result files whose TPE baselines (same data set and family) are reused")
    parser.add_argument("--portfolio", action="store_true",
                        help="instead: the greedy portfolios of the configuration matrix, leave-one-dataset-out "
                        "(benchmarks/zero_shot_portfolio.py), against defaults, the meta-learner pick and TPE")
    parser.add_argument("--matrix", help="configuration matrix for --portfolio (default: the shipped one)")
    parser.add_argument("--no-tpe", action="store_true", help="with --portfolio: skip the TPE baseline runs")
    args = parser.parse_args()
    if args.portfolio:
        from benchmarks.zero_shot_portfolio import run as run_portfolio
        from tunegraph.tools.meta.config_matrix import shipped_matrix_path

        print(run_portfolio(args.datasets, Path(args.matrix or shipped_matrix_path()),
                            RESULTS / "zero_shot_portfolio.jsonl", with_tpe=not args.no_tpe))
        return
    from tunegraph.tools.meta.metabuild import read_index

    names = args.only or sorted(read_index(args.datasets))
    results = working_path(args.results)
    earlier = read_rows(results)
    done = {(r["dataset"], r["llm"]) for r in earlier}
    tpe_of: dict[str, dict[str, dict]] = {}
    for r in [row for f in args.baselines for row in read_rows(f)] + earlier:
        tpe_of.setdefault(r["dataset"], {})[r["family"]] = {k: r[k] for k in ("tpe10", "tpe30", "tpe30_wall_s")}
    todo = [n for n in names if any((n, llm) not in done for llm in args.llm)]
    print(f"{len(todo)} data sets to run ({len(names) - len(todo)} done)", flush=True)
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_one, args.datasets, n, [l for l in args.llm if (n, l) not in done], args.folds,
                               args.max_rows, tpe_of.get(n)): n for n in todo}
        for future in as_completed(futures):
            try:
                rows = future.result()
            except Exception as exc:  # one data set's failure is reported, the others go on
                print(f"{futures[future]}: failed: {exc}", flush=True)
                failed += 1
                continue
            append_rows(results, rows)
            print(f"{futures[future]}: " + ", ".join(f"{r['llm']}: {r['family']} {r['recommended']:.4g} "
                                                      f"(best {r['best_known']:.4g})" for r in rows), flush=True)
    if not failed:  # every data set and LLM done: compress the results (benchmarks/common/results.py)
        archive(results)
    rows = read_rows(results)
    print(report(rows, results.with_suffix(".md")))

if __name__ == "__main__":
    main()
