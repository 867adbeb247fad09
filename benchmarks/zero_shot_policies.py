"""Does a different pick among the meta-learner's candidates fix the zero-shot shortfall?

For each data set of a folder with index.json, leave-one-dataset-out (its rows out of the
meta-dataset, the meta-learner retrained without it), the candidates the no-LLM recommender
ranks (per family: the library defaults, the best configurations of similar tasks, 300 sampled
ones) are picked from by several policies; each pick is cross-validated (5 folds, seed 0, up to
5,000 rows, the meta-dataset's protocol) and scored by its normalized regret (0 = the best
configuration known for the data set, 1 = the worst).

Policies: P0 the current pick (highest predicted score, 3 similar tasks x 3 configurations);
P1 only "trusted" configurations (defaults and similar tasks' best, 3x3 or 8x5: no extrapolation
to sampled points, which a max over 300 predictions favours); P2 sampled ones penalized by 0.03
or 0.1 of predicted normalized score; P3 the best-predicted family's defaults.

    python benchmarks/zero_shot_policies.py [--datasets DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common.data import indexed_task, shipped_metadataset  # noqa: E402
from benchmarks.common.machine import quiet  # noqa: E402
from benchmarks.common.paths import DEFAULT_DATASETS, RESULTS  # noqa: E402
from benchmarks.common.results import append_row, archive, read_rows, working_path  # noqa: E402
from benchmarks.common.stats import normalized_regret, relative_gap  # noqa: E402

POLICIES = ("P0_current", "P1_trusted_k3", "P1_trusted_k8", "P2_pen0.03_k8", "P2_pen0.1_k8", "P3_defaults_only")


def run_one(datasets: str, name: str) -> dict:
    from tunegraph.tools.meta import knowledge
    from tunegraph.tools.ml.models import families_for
    from tunegraph.tools.trials.evaluation import cross_validate_config

    quiet()
    frame = shipped_metadataset()
    task, metric = indexed_task(datasets, name)
    own = frame[frame.task == name]
    kn = knowledge.open_knowledge(exclude_tasks=(name,), frame=frame)
    mf, families = task.meta_features(), families_for(task.task_type)
    pools = {}
    for k_similar, n_best in ((3, 3), (8, 5)):
        found = kn.task_index.similar(mf, k=k_similar, task_type=task.task_type, families=families, n_best=n_best)
        seeds = [(s.task, b["family"], b["params"]) for s in found for b in s.best]
        pools[k_similar] = [c for f in families for c in kn.learner.candidates(
            mf, task.task_type, [f], n_per_family=300, similar=seeds, seed=0, top=400)]

    def top(pool, penalty=0.0):
        return max(pool, key=lambda c: c.predicted_score - (penalty if c.origin == "sampled" else 0.0))

    picks = {"P0_current": top(pools[3]),
             "P1_trusted_k3": top([c for c in pools[3] if c.origin != "sampled"]),
             "P1_trusted_k8": top([c for c in pools[8] if c.origin != "sampled"]),
             "P2_pen0.03_k8": top(pools[8], 0.03), "P2_pen0.1_k8": top(pools[8], 0.1),
             "P3_defaults_only": top([c for c in pools[3] if c.origin == "default"])}
    maximize = metric.direction == "maximize"
    row = {"dataset": name, "direction": metric.direction, "metric": metric.name,
           "best_known": float(own.score_mean.max() if maximize else own.score_mean.min()),
           "worst_known": float(own.score_mean.min() if maximize else own.score_mean.max())}
    scored: dict[tuple, float | None] = {}
    for policy, c in picks.items():
        key = (c.family, json.dumps(c.params, sort_keys=True, default=str))
        if key not in scored:
            result = cross_validate_config(task, c.family, c.params, metric.name, folds=5, seed=0)
            scored[key] = result.mean if result.ok else None
        defaults = own[(own.family == c.family) & (own.source == "default")]
        row[policy] = {"family": c.family, "origin": c.origin, "pred": c.predicted_score, "score": scored[key],
                       "family_default": float(defaults.score_mean.iloc[0]) if len(defaults) else None}
    return row


def report(rows: list[dict]) -> str:
    import numpy as np

    lines = ["# Zero-shot pick policies, leave-one-dataset-out (`benchmarks/zero_shot_policies.py`)", "",
             f"{len(rows)} data sets, one run each (deterministic: seed 0). Normalized regret: 0 = best known "
             "configuration of the data set, 1 = worst known.", "",
             "| policy | normalized regret, mean | median | shortfall vs best known, mean | median | below the family's defaults |",
             "|---|---|---|---|---|---|"]
    for policy in POLICIES:
        regrets = [1.0 if r[policy]["score"] is None else
                   normalized_regret(r[policy]["score"], r["best_known"], r["worst_known"], r["direction"]) for r in rows]
        gaps = [relative_gap(r[policy]["score"], r["best_known"], r["direction"]) for r in rows if r[policy]["score"] is not None]
        below = sum(1 for r in rows if r[policy]["score"] is not None and r[policy]["family_default"] is not None
                    and relative_gap(r[policy]["score"], r[policy]["family_default"], r["direction"]) > 1e-9)
        lines.append(f"| {policy} | {np.mean(regrets):.3f} | {np.median(regrets):.3f} | {np.mean(gaps):.2%} | "
                     f"{np.median(gaps):.2%} | {below} of {len(rows)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(DEFAULT_DATASETS))
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--results", default=str(RESULTS / "zero_shot_policies.jsonl"))
    args = parser.parse_args()
    from tunegraph.tools.meta.metabuild import read_index

    results = working_path(args.results)
    done = {r["dataset"] for r in read_rows(results)}
    for name in [n for n in (args.only or sorted(read_index(args.datasets))) if n not in done]:
        start = time.perf_counter()
        append_row(results, run_one(args.datasets, name))
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
    archive(results)  # every data set done: compress the results (benchmarks/common/results.py)
    text = report(read_rows(results))
    results.with_suffix(".md").write_text(text)
    print(text)

if __name__ == "__main__":
    main()
