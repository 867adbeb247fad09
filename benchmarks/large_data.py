"""Large files: time to the first finished trial, peak memory, and fold-level pruning.

Synthetic binary classification CSVs (20 numeric features, a nonlinear target with noise) of
100,000 and 1,000,000 rows. Each measurement is a fresh `tunegraph optimize` process (xgboost,
`--llm none`, 5-fold CV), so start-up, reading the file and the estimate are included:

* first trial: `--trials 1` (the library defaults): the process's wall time and peak memory;
* pruning: 20,000 rows by default (`--pruning-rows`), 10 trials of TPE with `--pruner none` against `--pruner median`
  (Optuna's MedianPruner: from the 6th trial, a trial behind the median after a fold stops).

Writes benchmarks/results/large_data.md (and .json).

    python benchmarks/large_data.py [--sizes 100000 1000000] [--pruning-trials 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 20)).astype(np.float32)
    logit = X[:, 0] + X[:, 1] * X[:, 2] - 0.5 * X[:, 3] ** 2 + rng.normal(scale=1.0, size=rows)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    frame["y"] = (logit > 0).astype(int)
    frame.to_csv(path, index=False, float_format="%.5g")


def optimize(csv: Path, workdir: Path, trials: int, pruner: str, study: str) -> dict:
    """One `tunegraph optimize` process: wall time, peak memory (its own, from the kernel) and the result."""
    out = workdir / f"{study}.json"
    command = [sys.executable, "-m", "tunegraph", "optimize", "--data", str(csv), "--target", "y", "--model",
               "xgboost", "--llm", "none", "--sampler", "tpe", "--trials", str(trials), "--pruner", pruner,
               "--no-learn", "--study", study, "--out", str(out)]  # not --quiet: the estimate line is wanted
    script = ("import resource, subprocess, sys, json, time; t=time.perf_counter(); "
              "r=subprocess.run(sys.argv[1:], capture_output=True, text=True); "
              "print(json.dumps({'rc': r.returncode, 'wall_s': time.perf_counter()-t, "
              "'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024, 'err': r.stderr[-2000:]}))")
    measured = json.loads(subprocess.run([sys.executable, "-c", script, *command], cwd=workdir, capture_output=True,
                                         text=True, check=True).stdout)
    result = json.loads(out.read_text()) if out.exists() else {}
    estimate = next((line for line in measured["err"].splitlines() if line.startswith("estimate")), "")
    return {**{k: measured[k] for k in ("rc", "wall_s", "peak_mb")}, "estimate": estimate,
            "best_value": result.get("best_value"), "n_pruned": result.get("n_pruned"), "n_trials": result.get("n_trials")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pruning-rows", type=int, default=20_000)  # 100,000: hours of TPE trials on 2 cores
    parser.add_argument("--pruning-trials", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tg-large-") as tmp:
        work = Path(tmp)
        files = {}
        for n in sorted(set(args.sizes + [args.pruning_rows])):
            files[n] = work / f"synthetic_{n}.csv"
            make_csv(files[n], n)
        for n in args.sizes:
            r = optimize(files[n], work, 1, "none", f"first-{n}")
            rows.append({"kind": "first trial", "rows": n, "trials": 1, "pruner": "none", **r})
            print(rows[-1], flush=True)
        for pruner in ("none", "median"):
            r = optimize(files[args.pruning_rows], work, args.pruning_trials, pruner, f"prune-{pruner}")
            rows.append({"kind": "pruning", "rows": args.pruning_rows, "trials": args.pruning_trials, "pruner": pruner, **r})
            print(rows[-1], flush=True)
    (RESULTS / "large_data.json").write_text(json.dumps(rows, indent=1))
    lines = ["# Large files (`benchmarks/large_data.py`)", "",
             f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}; 1-minute load average {os.getloadavg()[0]:.1f} at the end "
             "(other work shared the cores). One run each; xgboost, `--llm none`, 5-fold CV, synthetic binary "
             "classification with 20 numeric features. Wall time and peak memory are the whole process's.", "",
             "| run | rows | trials | pruner | wall s | peak MB | pruned | best ROC AUC | estimate shown first |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        best = f"{r['best_value']:.4f}" if r["best_value"] is not None else "-"
        lines.append(f"| {r['kind']} | {r['rows']:,} | {r['trials']} | {r['pruner']} | {r['wall_s']:.1f} | "
                     f"{r['peak_mb']:.0f} | {r['n_pruned'] if r['n_pruned'] is not None else '-'} | {best} | "
                     f"{r['estimate'][:90]} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "large_data.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
