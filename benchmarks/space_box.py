"""Would a transferred search space help? A first, cheap look at the bounding box of Perrone et
al. (NeurIPS 2019) on the meta-dataset, before any search is run with it.

The box of a family on a held-out task ``t`` spans, per numeric hyperparameter, the values of the
best configuration of that family on other tasks: the product's own box
(``tools.meta.space_transfer.bounding_box``, without the portfolio it also holds in a run). Leave-one-dataset-out: ``t``'s records and its distances come from an
index built without it. Two sources of boxes, both fixed before looking at any result (none is
chosen over the other here): all other tasks of ``t``'s type (Perrone's box) and the 5 nearest by
meta-features (the portfolio's shipped neighbourhood).

Measured per (task, family) on ``t``'s own records (about 30 cross-validated configurations
each, half of them random draws, half TPE's):

- ``volume``: the box's share of the space (product of the numeric parameters' normalized widths;
  categorical parameters keep every value). A box that is the whole space cannot help.
- ``covers_best``: whether ``t``'s best configuration of the family lies in the box. A box that
  leaves out the optimum caps what a search inside it can find.
- ``regret_in_box``: the best normalized score of the family on ``t`` minus the best among its
  records inside the box (0: the box keeps the best; 1: it keeps only the worst; NaN: no record
  inside). The records are not uniform over the space (TPE's cluster near good regions), so this
  is a rough reading of what the box excludes, not the regret of a search.
- ``random_gain``: the mean normalized score of ``t``'s random draws inside the box minus that of
  those outside. The random draws are uniform over the space, so this one is unbiased: it is what
  a random search gains per draw by staying in the box.

A search run with the box is what decides (issue 15: keep it only if it wins). This proxy says
whether that run is worth its CPU hours.

    python benchmarks/space_box.py [--out benchmarks/results/space_box.md]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common.paths import RESULTS, SHIPPED_METADATASET  # noqa: E402
from benchmarks.common.results import write_rows  # noqa: E402

N_NEAREST = 5  # the portfolio's shipped neighbourhood, fixed before this study


def box_of(space, configs: list[dict[str, Any]]):
    """The product's box (``tools.meta.space_transfer.bounding_box``): numeric ranges narrowed to
    ``configs``, categorical parameters whole, a parameter whose values agree whole."""
    from tunegraph.tools.meta.space_transfer import bounding_box

    return bounding_box(space, configs)


def _scale(p, value: float) -> float:
    return math.log(float(value)) if p.log else float(value)


def volume(space, box) -> float:
    """The box's share of the space: the product of its numeric ranges' normalized widths (log
    units where the space is logarithmic)."""
    from tunegraph.tools.ml.search_space import CategoricalParam

    share = 1.0
    for name, p in space.params.items():
        if isinstance(p, CategoricalParam):
            continue
        q = box.params[name]
        full = _scale(p, p.high) - _scale(p, p.low)
        share *= (_scale(q, q.high) - _scale(q, q.low)) / full if full > 0 else 1.0
    return share


def inside(box, config: dict[str, Any]) -> bool:
    return box.contains(config)


def study(frame: pd.DataFrame) -> list[dict[str, Any]]:
    from tunegraph.tools.meta.retrieval import TaskIndex
    from tunegraph.tools.ml.models import get_family
    from tunegraph.tools.ml.tasks import META_FEATURE_NAMES

    frame = frame.assign(config=frame["params"].map(json.loads))
    best = frame.loc[frame.groupby(["task", "family"])["score_norm"].idxmax()]
    rows = []
    for t in sorted(frame.task.unique()):
        own = frame[frame.task == t]
        task_type = own.task_type.iloc[0]
        mf = {k: float(own[f"mf_{k}"].iloc[0]) for k in META_FEATURE_NAMES}
        index = TaskIndex.build(frame[frame.task != t])  # nothing of t: leave-one-dataset-out
        nearest = [s.task for s in index.similar(mf, k=N_NEAREST, task_type=task_type, exclude=[t])]
        others = set(frame.loc[(frame.task_type == task_type) & (frame.task != t), "task"])
        for family in sorted(own.family.unique()):
            space = get_family(family, task_type).search_space(task_type)
            mine = own[own.family == family]
            top = float(mine.score_norm.max())
            best_config = mine.loc[mine.score_norm.idxmax(), "config"]
            for source, tasks in (("all", others), (f"{N_NEAREST} nearest", set(nearest))):
                configs = best[(best.family == family) & best.task.isin(tasks)].config.tolist()
                if len(configs) < 2:
                    continue
                box = box_of(space, configs)
                kept = mine[[inside(box, c) for c in mine.config]]
                randoms = mine[mine.source == "random"]
                within = np.array([inside(box, c) for c in randoms.config], dtype=bool)
                gain = (float(randoms.score_norm[within].mean() - randoms.score_norm[~within].mean())
                        if within.any() and (~within).any() else float("nan"))
                rows.append({"task": t, "task_type": task_type, "family": family, "source": source,
                             "n_configs": len(configs), "volume": volume(space, box),
                             "covers_best": inside(box, best_config),
                             "regret_in_box": top - float(kept.score_norm.max()) if len(kept) else float("nan"),
                             "random_gain": gain,
                             "random_inside": int(within.sum()),
                             "random_total": len(randoms)})
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    table = pd.DataFrame(rows)
    lines = ["# Transferred search space: the bounding box, a proxy study", "",
             "Produced by `benchmarks/space_box.py` (method and caveats in its docstring). Leave-one-dataset-out "
             f"over the {table.task.nunique()} data sets of `data/metadataset.parquet`; one box per (held-out data "
             "set, family, source of the box).", "",
             "| box from | (task, family) pairs | median volume | covers the best | regret in box: median / mean / 90th pct "
             "| no record in box | random draws inside | random draws: inside minus outside (mean; pairs better) |",
             "|---|---|---|---|---|---|---|---|"]
    for source, part in table.groupby("source", sort=False):
        lines.append(f"| {source} | {len(part)} | {part.volume.median():.3g} | "
                     f"{part.covers_best.mean():.0%} | {part.regret_in_box.median():.3f} / "
                     f"{part.regret_in_box.mean():.3f} / {part.regret_in_box.quantile(0.9):.3f} | "
                     f"{part.regret_in_box.isna().mean():.0%} | "
                     f"{part.random_inside.sum()} of {part.random_total.sum()} | "
                     f"{part.random_gain.mean():+.3f}; {(part.random_gain > 0).sum()} of {part.random_gain.notna().sum()} |")
    lines += ["", "Per family (box from the 5 nearest):", "",
              "| family | pairs | median volume | covers the best | median regret in box |", "|---|---|---|---|---|"]
    near = table[table.source == f"{N_NEAREST} nearest"]
    for family, part in near.groupby("family"):
        lines.append(f"| {family} | {len(part)} | {part.volume.median():.3g} | {part.covers_best.mean():.0%} | "
                     f"{part.regret_in_box.median():.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from tunegraph.tools.meta import metadataset

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--metadataset", default=str(SHIPPED_METADATASET))
    p.add_argument("--out", default=str(RESULTS / "space_box.md"))
    args = p.parse_args(argv)
    rows = study(metadataset.load(Path(args.metadataset)))
    text = report(rows)
    Path(args.out).write_text(text)
    write_rows(Path(args.out).with_suffix(".jsonl"), rows)  # the rows, compressed: space_box.jsonl.gz
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
