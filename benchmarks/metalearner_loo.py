"""Leave-one-dataset-out quality of the meta-learner on the shipped meta-dataset.

For each data set: train the meta-learner without it, predict the normalized score of every
configuration evaluated on it, and report the Spearman rank correlation with the true scores
and the normalized regret (0 = best known) of the top-1 predicted configuration, beside the
portfolio baseline (library defaults of the family best on average in training) and a random pick.

    python benchmarks/metalearner_loo.py [--path data/metadataset.parquet] [--out benchmarks/results/metalearner_loo.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tunegraph.tools.meta import metadataset  # noqa: E402
from tunegraph.tools.meta.metalearner import MetaLearner, leave_one_dataset_out  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=str(metadataset.shipped_path()))
    parser.add_argument("--out", default="benchmarks/results/metalearner_loo.md")
    args = parser.parse_args()
    frame = metadataset.load(args.path)
    t0 = time.perf_counter()
    MetaLearner().fit(frame)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = leave_one_dataset_out(frame)
    loo_s = time.perf_counter() - t0
    means = result[["spearman", "regret_top1", "regret_portfolio", "regret_random"]].mean()
    wins = int((result.regret_top1 < result.regret_portfolio - 1e-9).sum())
    losses = int((result.regret_top1 > result.regret_portfolio + 1e-9).sum())
    lines = [
        "# Meta-learner: leave-one-dataset-out", "",
        f"Meta-dataset: {args.path} ({len(frame)} experiments, {frame.task.nunique()} data sets, "
        f"{frame.family.nunique()} families). Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}. One run (deterministic: seeded XGBoost).", "",
        f"- training time on the whole meta-dataset: {train_s:.1f} s; the whole leave-one-out run: {loo_s:.0f} s",
        f"- mean Spearman (predicted vs true score within the held-out data set): {means.spearman:.3f}",
        f"- mean normalized regret of the top-1 prediction: {means.regret_top1:.3f}",
        f"- portfolio baseline (defaults of the family best on average): {means.regret_portfolio:.3f}",
        f"- random configuration (expected): {means.regret_random:.3f}",
        f"- top-1 vs portfolio per data set: {wins} better, {losses} worse, "
        f"{len(result) - wins - losses} equal", "",
        "| data set | configs | Spearman | regret top-1 | regret portfolio | portfolio family | regret random |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result.itertuples():
        lines.append(f"| {r.task} | {r.n_configs} | {r.spearman:.3f} | {r.regret_top1:.3f} | {r.regret_portfolio:.3f} "
                     f"| {r.portfolio_family} | {r.regret_random:.3f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))


if __name__ == "__main__":
    main()
