"""Zero-shot portfolios from the configuration matrix, leave-one-dataset-out (run by zero_shot.py --portfolio).

For each held-out data set t of the matrix:
1. t's column and t's own best configurations (pool origin ``best:t``) leave the matrix, and the
   FAISS task index is rebuilt from the meta-dataset without t;
2. the portfolio setting (global, or training tasks weighted toward t's nearest neighbours) is
   chosen by an inner leave-one-out over the other data sets of t's task type: nothing of t
   takes part in the choice;
3. t's portfolio is built; the best of its first k members (k = 1, 3, 5, 10) is read from t's
   matrix cells, which are real 5-fold CV scores (the same protocol as the meta-dataset);
4. on the same scale (0 = best known score of t in the meta-dataset and the matrix, 1 = worst):
   the k = 1 member family's library defaults, today's meta-learner pick (the ``--llm none`` rows
   of zero_shot.jsonl), and Optuna TPE (``TPESampler(seed=s)``, Optuna's defaults otherwise)
   after k trials on the first member's family, seeds 0-2 (real studies, cached in a JSON-lines
   file so the run resumes).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common.data import indexed_task, shipped_metadataset
from benchmarks.common.machine import quiet
from benchmarks.common.optuna_loops import tpe_study
from benchmarks.common.portfolio import inner_choice, matrix_meta_features
from benchmarks.common.results import append_row, archive, read_rows, write_rows
from benchmarks.common.stats import best as best_of
from benchmarks.common.stats import bounded_regret as regret
from benchmarks.common.stats import wilcoxon_less

KS = (1, 3, 5, 10)
TPE_SEEDS = (0, 1, 2)


def scale_of(frame: pd.DataFrame, matrix: pd.DataFrame) -> dict[str, tuple[float, float, str]]:
    """task -> (best, worst, direction) over the meta-dataset's and the matrix's scores."""
    out = {}
    ok = matrix[matrix.status == "ok"]
    for task, g in ok.groupby("task"):
        direction = g.direction.iloc[0]
        scores = pd.concat([g.score_mean, frame.loc[frame.task == task, "score_mean"]]).astype(float)
        best, worst = (scores.max(), scores.min()) if direction == "maximize" else (scores.min(), scores.max())
        out[task] = (float(best), float(worst), direction)
    return out


def portfolio_rows(matrix: pd.DataFrame, frame: pd.DataFrame) -> list[dict]:
    from tunegraph.tools.meta.portfolio import SETTINGS, task_portfolio
    from tunegraph.tools.meta.retrieval import TaskIndex

    scale = scale_of(frame, matrix)
    rows = []
    for t in sorted(matrix.task.unique()):
        own = matrix[matrix.task == t]
        task_type = own.task_type.iloc[0]
        best, worst, direction = scale[t]
        setting, inner = inner_choice(matrix, frame, t, task_type, SETTINGS)
        index = TaskIndex.build(frame[frame.task != t])
        distances = {s.task: s.distance for s in index.similar(matrix_meta_features(matrix, t), k=len(index),
                                                                task_type=task_type)}
        members = task_portfolio(matrix, task_type, k=max(KS), distances=distances, setting=setting, exclude_tasks=(t,))
        if not members:
            continue
        by_id = own.set_index("config_id")
        member_regret = [regret(by_id.at[m.config_id, "score_mean"] if by_id.at[m.config_id, "status"] == "ok" else None,
                                best, worst, direction) for m in members]
        first = members[0]
        default_id = f"{first.family}:000"
        default_score = by_id.at[default_id, "score_mean"] if by_id.at[default_id, "status"] == "ok" else None
        rows.append({"dataset": t, "task_type": task_type, "setting": setting.label(),
                     "inner": {s.label(): round(v, 4) for s, v in inner.items()},
                     "members": [m.config_id for m in members], "first_family": first.family,
                     **{f"portfolio_k{k}": min(member_regret[:k]) for k in KS},
                     "default_first_family": regret(default_score, best, worst, direction),
                     "first_score": by_id.at[first.config_id, "score_mean"], "default_score": default_score,
                     "best": best, "worst": worst, "direction": direction})
    return rows


def tpe_curve(datasets: str, name: str, family: str, seed: int, n_trials: int = max(KS)) -> list[float | None]:
    """Scores of an Optuna TPE study as it ships (``TPESampler(seed=seed)``) on one family, trial by trial."""
    quiet()
    task, metric = indexed_task(datasets, name)
    study = tpe_study(task, family, metric, folds=5, n_trials=n_trials, seed=seed)
    return [t.value if t.value is not None and np.isfinite(t.value) else None for t in study.trials]


def run(datasets: str, matrix_path: Path, results: Path, with_tpe: bool = True) -> str:
    """The portfolios' rows (written whole to ``results``, compressed) and their report; the TPE curves
    are cached in ``<results>_tpe.jsonl`` as they run, compressed once every one is there."""
    from tunegraph.tools.meta.config_matrix import load_matrix

    matrix = load_matrix(matrix_path)
    frame = shipped_metadataset()
    complete = _complete_tasks(matrix)
    matrix = matrix[matrix.task.isin(complete)]
    start = time.perf_counter()
    rows = portfolio_rows(matrix, frame)
    portfolio_s = time.perf_counter() - start
    tpe_path = results.with_name(results.stem + "_tpe.jsonl")
    curves = {(r["dataset"], r["family"], r["seed"]): r["values"] for r in read_rows(tpe_path)}
    if with_tpe:
        for row in rows:
            for seed in TPE_SEEDS:
                key = (row["dataset"], row["first_family"], seed)
                if key in curves:
                    continue
                values = tpe_curve(datasets, row["dataset"], row["first_family"], seed)
                curves[key] = values
                append_row(tpe_path, {"dataset": key[0], "family": key[1], "seed": seed, "values": values})
                print(f"TPE {key}: best {best_of(values, row['direction'])}", flush=True)
        archive(tpe_path)  # every curve is there
    pick = _meta_learner_picks(results.with_name("zero_shot.jsonl"))
    for row in rows:
        b, w, d = row["best"], row["worst"], row["direction"]
        for k in KS:
            seeds = [curves.get((row["dataset"], row["first_family"], s)) for s in TPE_SEEDS]
            vals = [regret(best_of(c[:k], d), b, w, d) for c in seeds if c]
            row[f"tpe_k{k}"] = float(np.mean(vals)) if vals else None
        row["meta_learner_pick"] = regret(pick.get(row["dataset"]), b, w, d) if row["dataset"] in pick else None
    write_rows(results, rows)
    return report(rows, results.with_suffix(".md"), portfolio_s, matrix)


def _complete_tasks(matrix: pd.DataFrame) -> list[str]:
    """Tasks whose every family has all its pool configurations in the matrix (a partial build leaves some out)."""
    counts = matrix.groupby(["task", "family"]).config_id.nunique()
    expected = matrix.groupby("family").config_id.nunique()
    families_per_type = matrix.groupby("task_type").family.unique().apply(set)
    complete = []
    for task, g in matrix.groupby("task"):
        fams = set(g.family)
        if fams == families_per_type[g.task_type.iloc[0]] and all(counts[(task, f)] == expected[f] for f in fams):
            complete.append(task)
    return complete


def _meta_learner_picks(path: Path) -> dict[str, float]:
    return {r["dataset"]: r["recommended"] for r in read_rows(path) if r["llm"] == "none" and r["status"] == "ok"}


def report(rows: list[dict], out: Path, portfolio_s: float, matrix: pd.DataFrame) -> str:
    df = pd.DataFrame(rows)
    n = len(df)
    lines = ["# Zero-shot portfolios, leave-one-dataset-out (`benchmarks/zero_shot.py --portfolio`)", "",
             f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}. {n} data sets whose matrix column is complete "
             f"({matrix.config_id.nunique()} shared configurations, {len(matrix)} cells). Portfolio scores are the "
             "held-out data set's matrix cells (5-fold CV, up to 5,000 rows, seed 0). Normalized regret: 0 = best "
             "known score of the data set (meta-dataset and matrix), 1 = worst known.", "",
             "| method | k = 1 | k = 3 | k = 5 | k = 10 |", "|---|---|---|---|---|"]

    def cell(col: str) -> str:
        v = df[col].dropna()
        return f"{v.mean():.3f} / {v.median():.3f}" if len(v) else "-"

    lines.append("| portfolio, best of first k (mean / median) | " + " | ".join(cell(f"portfolio_k{k}") for k in KS) + " |")
    if "tpe_k1" in df and df["tpe_k1"].notna().any():
        lines.append("| Optuna TPE after k trials, first member's family (3 seeds) | "
                     + " | ".join(cell(f"tpe_k{k}") for k in KS) + " |")
    lines += ["", f"- k = 1 member's family, library defaults: {cell('default_first_family')}",
              f"- today's meta-learner pick (`recommend --llm none`, zero_shot.jsonl): {cell('meta_learner_pick')}"]
    below = sum(1 for r in rows if r["default_score"] is not None and regret(r["first_score"], r["best"], r["worst"], r["direction"])
                > regret(r["default_score"], r["best"], r["worst"], r["direction"]) + 1e-12)
    lines.append(f"- k = 1 below its family's library defaults on {below} of {n} data sets")
    for k in KS:
        if f"tpe_k{k}" in df and df[f"tpe_k{k}"].notna().sum() >= 6:
            paired = df[[f"portfolio_k{k}", f"tpe_k{k}"]].dropna()
            diff = paired[f"portfolio_k{k}"] - paired[f"tpe_k{k}"]
            p = wilcoxon_less(diff)
            lines.append(f"- k = {k}: portfolio lower regret than TPE on {int((diff < 0).sum())}, higher on "
                         f"{int((diff > 0).sum())} of {len(diff)}; one-sided Wilcoxon signed-rank p = {p:.3g}")
    if "tpe_k10" in df and df["tpe_k10"].notna().sum() >= 6:  # the k = 5 target: below 10 TPE trials
        paired = df[["portfolio_k5", "tpe_k10"]].dropna()
        diff = paired.portfolio_k5 - paired.tpe_k10
        p = wilcoxon_less(diff)
        lines.append(f"- portfolio k = 5 against TPE after 10 trials: lower on {int((diff < 0).sum())}, higher on "
                     f"{int((diff > 0).sum())} of {len(diff)}; one-sided Wilcoxon p = {p:.3g}")
    mp = df[["portfolio_k1", "meta_learner_pick"]].dropna()
    if len(mp) >= 6:
        diff = mp.portfolio_k1 - mp.meta_learner_pick
        p = wilcoxon_less(diff)
        lines.append(f"- k = 1 against today's meta-learner pick: lower on {int((diff < 0).sum())}, higher on "
                     f"{int((diff > 0).sum())}; one-sided Wilcoxon p = {p:.3g}")
    settings = df.setting.value_counts().to_dict()
    lines += ["- setting chosen by the inner leave-one-out: " + ", ".join(f"{k}: {v}" for k, v in settings.items()),
              f"- the {n} portfolios (with their inner loops) took {portfolio_s:.1f} s in all", "",
              "| data set | setting | first member | k=1 | k=3 | k=5 | k=10 | defaults | TPE 1 | TPE 5 | TPE 10 | meta-learner |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(v):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"

    for r in rows:
        lines.append(f"| {r['dataset']} | {r['setting']} | {r['members'][0]} | " + " | ".join(
            f(r[f"portfolio_k{k}"]) for k in KS) + f" | {f(r['default_first_family'])} | {f(r.get('tpe_k1'))} | "
            f"{f(r.get('tpe_k5'))} | {f(r.get('tpe_k10'))} | {f(r.get('meta_learner_pick'))} |")
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text
