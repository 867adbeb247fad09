"""Cost of --trial-timeout's child process per trial: the same cross-validation in-process and isolated.

    python benchmarks/isolation_overhead.py [--repeats 10]

Writes benchmarks/results/isolation_overhead.md: the child's start-up (once per run, and after
each kill) and the median per-trial wall time both ways, for a small and a larger data set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    from tunegraph.tools.ml.tasks import load_task
    from tunegraph.tools.trials.evaluation import cross_validate_config

    iris = load_task(dataset="iris")
    cross_validate_config(iris, "xgboost", {}, folds=5)  # this process's imports, so they are not counted below
    started = time.perf_counter()
    cross_validate_config(iris, "xgboost", {}, folds=5, isolate=True, time_limit=600)
    startup = time.perf_counter() - started
    lines = ["# Isolated evaluation (`--trial-timeout`): overhead per trial", "",
             f"Machine: {os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}. "
             f"{args.repeats} repeats per row, medians. xgboost defaults, 5-fold CV.", "",
             f"- first isolated trial, child start-up included (spawn, imports; once per run and after each kill): "
             f"{startup:.2f} s", "",
             "| data set | in-process s | isolated s | overhead s |", "|---|---|---|---|"]
    for name in ("iris", "breast_cancer", "digits"):
        task = load_task(dataset=name)
        config = {"n_estimators": 100}
        times = {}
        for isolate in (False, True):
            cross_validate_config(task, "xgboost", config, folds=5, isolate=isolate, time_limit=600 if isolate else None)
            runs = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                result = cross_validate_config(task, "xgboost", config, folds=5, isolate=isolate,
                                               time_limit=600 if isolate else None)
                runs.append(time.perf_counter() - t0)
                assert result.ok, result.error
            times[isolate] = statistics.median(runs)
        lines.append(f"| {name} ({len(task.y)} rows) | {times[False]:.3f} | {times[True]:.3f} | "
                     f"{times[True] - times[False]:+.3f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "isolation_overhead.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
