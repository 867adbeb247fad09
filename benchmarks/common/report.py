"""The report of ``benchmarks/compare.py``: tables, statistics and plots from its JSON lines.

It works on partial results: a data set is reported over the seeds that every method has
finished on it (data sets where some method has none yet are listed as pending).

Definitions (also written into the report):

* score at budget B: the best CV score among a run's first B trials (the anytime curve of one
  run of max(B) trials); the recommender's is its configuration's CV score (zero trials). The
  portfolio methods (``PER_BUDGET``) run their first K = min(8, B // 2) trials from the portfolio,
  so a shorter budget is another run, not a prefix: their score at B is that budget's own run
  (budget 1 is the first trial of the smallest run: K is 1 there and the greedy portfolio's first
  member is the same for every K).
* normalized regret: ``(s* - s) / (s* - s_w)`` on a data set, where ``s*`` is the best score
  any method found on it (any seed, any trial) and ``s_w`` the worst point of any anytime
  curve shown (a run's first trial, or the recommender); 0 = the best found, 1 = the worst.
* rank: methods ranked per data set and budget by their mean score over seeds (1 = best, ties
  averaged), then averaged over data sets.
* win / tie / loss against an anchor (Optuna TPE; in the portfolio suite also Optuna TPE over the
  same families): two-sided Mann-Whitney U test of the per-seed scores at alpha 0.05; a win needs
  p < 0.05 and a better mean, a loss p < 0.05 and a worse mean.
* across data sets: Wilcoxon signed-rank test of the paired per-data-set mean regrets, two-sided
  and one-sided (the method's regret lower than the anchor's).

Its command line is ``compare.py --report-only`` (or ``compare_report.py``, the same).
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common.methods import (
    ANCHOR,
    ANCHORS,
    FULL_SPACE,
    HEADLINE,
    LABELS,
    PER_BUDGET,
    SHORT,
    SUBSET,
    VARIANTS,
    WARM,
    run_budgets,
    serving_budget,
)
from benchmarks.common.stats import ALPHA, anytime, at_budget, mann_whitney, mean, median, ranks, std, wilcoxon_split

# ---- scores ------------------------------------------------------------------------------------

def collect(rows: list[dict[str, Any]], setting: dict[str, Any], methods: list[str], budgets: list[int],
            datasets: list[str] | None = None) -> dict[str, Any]:
    """Runs of this setting by data set -> method -> [per seed: {run budget (0: the anytime run): row}],
    kept to the seeds every method has finished (all of its runs); ``datasets`` limits the data sets."""
    by: dict[str, dict[str, dict[int, dict[int, dict]]]] = {}
    for r in rows:
        if (r.get("kind") == "run" and r.get("setting") == setting and r["method"] in methods
                and (datasets is None or r["dataset"] in datasets)):
            seeds = by.setdefault(r["dataset"], {}).setdefault(r["method"], {})
            seeds.setdefault(int(r["seed"]), {})[int(r.get("budget") or 0)] = r
    complete, pending = {}, {}
    for name, per_method in sorted(by.items()):
        def finished(m: str) -> set[int]:
            need = run_budgets(m, budgets)
            return {s for s, runs in per_method.get(m, {}).items() if all(k in runs for k in need)}

        seeds = set.intersection(*(finished(m) for m in methods))
        if seeds:
            complete[name] = {m: [{k: per_method[m][s][k] for k in run_budgets(m, budgets)} for s in sorted(seeds)]
                              for m in methods}
        else:
            pending[name] = {m: len(finished(m)) for m in methods}
    return {"complete": complete, "pending": pending}


def longest(entries: dict[str, dict[str, list[dict[int, dict]]]]) -> dict[str, dict[str, list[dict]]]:
    """Per data set, method and seed the one row of its longest run (what timing and sources are read from)."""
    return {name: {m: [e[max(e)] for e in es] for m, es in per_method.items()} for name, per_method in entries.items()}


def dataset_table(entries: dict[str, list[dict[int, dict]]], budgets: list[int]) -> dict[str, Any]:
    """Per method and budget: the per-seed scores (original units), their regret, and the curves."""
    first = next(iter(next(iter(entries.values()))[0].values()))
    sign = 1.0 if first["direction"] == "maximize" else -1.0
    curves = {m: [{k: anytime(r["values"], sign) for k, r in e.items()} for e in es] for m, es in entries.items()}
    points = [v for cs in curves.values() for e in cs for c in e.values() for v in c if not math.isnan(v)]
    best, worst = (max(points), min(points)) if points else (math.nan, math.nan)
    span = best - worst

    def regret(v: float) -> float:
        if math.isnan(v):
            return math.nan
        return 0.0 if span <= 0 else (best - v) / span

    out = {"sign": sign, "best": sign * best, "worst": sign * worst, "metric": first["metric"],
           "direction": first["direction"], "n_rows": first.get("n_rows"), "task_type": first.get("task_type"),
           "seeds": len(next(iter(entries.values()))), "curves": curves, "regret_fn": regret, "methods": {}}
    for m, cs in curves.items():
        at = {b: [at_budget(e[serving_budget(m, b, budgets)], b) for e in cs] for b in budgets}
        out["methods"][m] = {b: {"scores": [sign * v for v in at[b]], "regrets": [regret(v) for v in at[b]]}
                             for b in budgets}
    return out










# ---- timing ------------------------------------------------------------------------------------

def timing(runs: list[dict]) -> dict[str, float]:
    """Seconds per run, mean and median (``*_med``): wall, objective, LLM, recommend (meta-learner + its
    LLM, charged to warm-started runs) and graph (the rest: wall - objective - LLM - recommend; for plain
    Optuna its loop and sampler); overhead per trial and as a share of the run's median objective time."""
    walls, objs, llms, recs, rests, per_trial, pct, medians = [], [], [], [], [], [], [], []
    for r in runs:
        n = max(1, len(r["values"]))
        rec = float(r.get("recommend_s") or 0.0)
        wall = float(r["wall_s"]) + rec
        obj, llm = float(r["objective_s"]), float(r.get("llm_latency_s") or 0.0)
        if r.get("method") == "recommender":  # its wall is the recommend graph's response: LLM + the rest of it
            rec = wall - llm
        walls.append(wall)
        objs.append(obj)
        llms.append(llm)
        recs.append(rec)
        rests.append(wall - obj - llm - rec)
        med = statistics.median(r["cv_wall_s"]) if r["cv_wall_s"] else 0.0
        medians.append(med)
        per_trial.append((wall - obj) / n)
        pct.append(100 * (wall - obj) / n / med if med > 0 else math.nan)
    return {"wall_s": mean(walls), "objective_s": mean(objs), "llm_s": mean(llms), "recommend_s": mean(recs),
            "rest_s": mean(rests), "wall_med": median(walls), "objective_med": median(objs),
            "llm_med": median(llms), "recommend_med": median(recs), "graph_med": median(rests),
            "overhead_ms_per_trial": 1000 * statistics.median(per_trial),
            "overhead_pct_of_median_objective": statistics.median(pct) if pct else math.nan,
            "median_objective_ms": 1000 * statistics.median(medians),
            "llm_calls": mean([float(r.get("llm_calls") or 0) for r in runs]),
            "llm_s_per_call": (sum(llms) / max(1.0, sum(float(r.get("llm_calls") or 0) for r in runs))),
            "trials": mean([float(len(r["values"])) for r in runs]), "runs": len(runs)}




# ---- the report --------------------------------------------------------------------------------

def summarize(rows: list[dict[str, Any]], setting: dict[str, Any], budgets: list[int],
              methods: list[str], datasets: list[str] | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (the smoke test checks it). ``wtl`` and ``across``
    are by anchor, then budget, then method; ``runs`` holds each seed's longest run."""
    methods = [m for m in LABELS if m in methods]
    anchors = [a for a in ANCHORS if a in methods]
    data = collect(rows, setting, methods, budgets, datasets)
    tables = {name: dataset_table(entries, budgets) for name, entries in data["complete"].items()}
    summary: dict[str, Any] = {"methods": methods, "anchors": anchors, "budgets": budgets,
                               "n_datasets": len(tables), "datasets": list(tables), "pending": data["pending"],
                               "tables": tables, "entries": data["complete"], "runs": longest(data["complete"]),
                               "mean_regret": {}, "median_regret": {}, "avg_rank": {},
                               "wtl": {a: {} for a in anchors}, "per_dataset": {}}
    for b in budgets:
        rank_lists: dict[str, list[float]] = {m: [] for m in methods}
        for a in anchors:
            summary["wtl"][a][b] = {m: {"win": 0, "tie": 0, "loss": 0} for m in methods if m != a}
        for name, t in tables.items():
            means = {m: mean(t["methods"][m][b]["scores"]) for m in methods}
            rk = ranks(means, t["sign"])
            for m in methods:
                rank_lists[m].append(rk[m])
                cell = t["methods"][m][b]
                entry: dict[str, Any] = {"mean": means[m], "std": std(cell["scores"]),
                                         "regret": mean(cell["regrets"]), "rank": rk[m], "vs": {}}
                for a in anchors:
                    if m != a:
                        outcome, p = mann_whitney(cell["scores"], t["methods"][a][b]["scores"], t["sign"])
                        entry["vs"][a] = {"outcome": outcome, "p": p}
                        summary["wtl"][a][b][m][outcome] += 1
                entry.update(entry["vs"].get(anchors[0], {}) if anchors else {})
                summary["per_dataset"].setdefault(name, {}).setdefault(b, {})[m] = entry
        summary["avg_rank"][b] = {m: mean(v) for m, v in rank_lists.items()}
        regrets = {m: [summary["per_dataset"][n][b][m]["regret"] for n in tables] for m in methods}
        summary["mean_regret"][b] = {m: mean(v) for m, v in regrets.items()}
        summary["median_regret"][b] = {m: median(v) for m, v in regrets.items()}
    summary["across"] = {a: {b: {m: across_datasets(summary["per_dataset"], m, b, a) for m in methods if m != a}
                             for b in budgets} for a in anchors}
    summary["timing"] = {m: timing([r for runs in summary["runs"].values() for r in runs[m]]) for m in methods
                         if tables}
    return summary


def across_datasets(per_dataset: dict[str, Any], method: str, budget: int, anchor: str = ANCHOR) -> dict[str, Any]:
    """Is ``method`` better than ``anchor`` over the data sets (not within one)? Counts of data sets
    with lower / higher mean regret and Wilcoxon signed-rank tests on the paired mean regrets (Demsar
    2006: the test for two methods over several data sets): ``p`` two-sided, ``p_less`` one-sided
    (the method's regret is lower)."""
    pairs = [(d[budget][method]["regret"], d[budget][anchor]["regret"]) for d in per_dataset.values()]
    pairs = [(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))]
    diffs = [a - b for a, b in pairs]
    better, worse = sum(1 for x in diffs if x < 0), sum(1 for x in diffs if x > 0)
    p, p_less = wilcoxon_split(diffs)
    return {"better": better, "worse": worse, "mean_diff": mean(diffs), "p": p, "p_less": p_less}


def across_table(summary: dict[str, Any]) -> list[str]:
    budgets = summary["budgets"]
    if not summary["anchors"]:
        return [f"Not computed: {LABELS[ANCHOR]} is not among the methods."]
    lines: list[str] = []
    for a in summary["anchors"]:
        if len(summary["anchors"]) > 1:
            lines += [f"Against **{LABELS[a]}**:", ""]
        lines += ["| method | " + " | ".join(f"@{b}: better / worse (p; one-sided p)" for b in budgets) + " |",
                  "|---|" + "---|" * len(budgets)]
        for m in summary["methods"]:
            if m == a:
                continue
            cells = [f"{x['better']} / {x['worse']} ({_f(x['p'], 2)}; {_f(x['p_less'], 2)})"
                     for x in (summary["across"][a][b][m] for b in budgets)]
            lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines[:-1]


def targets(summary: dict[str, Any]) -> list[str]:
    """The issue's targets, each met or not, with the figures, for each warm-started method."""
    warms = [m for m in WARM if m in summary["methods"]]
    if not warms or ANCHOR not in summary["methods"] or not summary["n_datasets"]:
        return ["- targets: not evaluated (needs Optuna TPE and a warm-started method on finished data sets)"]
    out = []
    for warm in warms:
        for b in (10, 20):
            if b in summary["budgets"]:
                rw, rt = summary["avg_rank"][b][warm], summary["avg_rank"][b][ANCHOR]
                a = summary["across"][ANCHOR][b][warm]
                chance = "beyond chance" if a["p"] < ALPHA else "within chance"
                out.append(f"- {LABELS[warm]} beats Optuna TPE on average rank at {b} trials: "
                           f"**{'met' if rw < rt else 'not met'}** ({rw:.2f} vs {rt:.2f}; lower regret on "
                           f"{a['better']} of {summary['n_datasets']} data sets, Wilcoxon p {_f(a['p'], 2)}: {chance})")
        if 30 in summary["budgets"]:
            wtl = summary["wtl"][ANCHOR][30][warm]
            losers = [n for n, d in summary["per_dataset"].items() if d[30][warm].get("outcome") == "loss"]
            seeds = min(len(rs) for per_method in summary["runs"].values() for rs in per_method.values())
            verdict = ("not met" if losers else "met" if seeds >= 4 else
                       f"not judged: with {seeds} seed(s) the test cannot show a loss")
            out.append(f"- {LABELS[warm]} at 30 trials never worse than TPE beyond noise on any data set: "
                       f"**{verdict}** ({wtl['loss']} losses" + (f": {', '.join(losers)}" if losers else "") + ")")
    for m in ("tunegraph_llm_tpe", *warms):
        t = summary["timing"].get(m)
        if t:
            pct = t["overhead_pct_of_median_objective"]
            out.append(f"- overhead per trial below 10% of the median objective time ({LABELS[m]}): "
                       f"**{'met' if pct < 10 else 'not met'}** ({t['overhead_ms_per_trial']:.0f} ms per trial = "
                       f"{pct:.0f}% of the median objective {t['median_objective_ms']:.0f} ms; LLM "
                       f"{1000 * t['llm_s'] / max(1, t['trials']):.0f} ms per trial)")
    return out


def verdict(summary: dict[str, Any], method: str = HEADLINE) -> list[str]:
    """Issue 15's claim, per anchor and budget: ``method``'s mean regret over the data sets is lower
    than the anchor's by a one-sided Wilcoxon signed-rank test at alpha 0.05."""
    if method not in summary["methods"] or not summary["anchors"] or not summary["n_datasets"]:
        return [f"- not evaluated (needs {LABELS[method]}, an anchor and finished data sets)"]
    n, out = summary["n_datasets"], []
    for a in summary["anchors"]:
        for b in summary["budgets"]:
            x = summary["across"][a][b][method]
            met = not math.isnan(x["p_less"]) and x["p_less"] < ALPHA
            out.append(f"- {LABELS[method]} beats {LABELS[a]} at {b} trials (p < {ALPHA}): "
                       f"**{'met' if met else 'not met'}** (lower mean regret on {x['better']} of {n} data sets, "
                       f"higher on {x['worse']}; mean difference {_f(x['mean_diff'], 2)}; one-sided Wilcoxon "
                       f"p {_f(x['p_less'], 2)})")
    return out


def versus_full_space(summary: dict[str, Any]) -> list[str]:
    """Each setting added to the portfolio search against the search without it (the full space,
    no LLM): Wilcoxon over data sets and Mann-Whitney over seeds per data set, as against the anchors."""
    base = FULL_SPACE
    variants = [m for m in VARIANTS if m in summary["methods"]]
    if base not in summary["methods"] or not variants or not summary["n_datasets"]:
        return []
    lines = [f"Against **{LABELS[base]}** (a setting is kept only if it beats the search without it):", "",
             "| method | budget | mean regret: method / without | better / worse data sets (one-sided p, "
             "lower regret) | W/T/L by Mann-Whitney over seeds |", "|---|---|---|---|---|"]
    for m in variants:
        for b in summary["budgets"]:
            x = across_datasets(summary["per_dataset"], m, b, base)
            wtl = {"win": 0, "tie": 0, "loss": 0}
            for t in summary["tables"].values():
                wtl[mann_whitney(t["methods"][m][b]["scores"], t["methods"][base][b]["scores"],
                                      t["sign"])[0]] += 1
            lines.append(f"| {LABELS[m]} | {b} | {_f(summary['mean_regret'][b][m], 3)} / "
                         f"{_f(summary['mean_regret'][b][base], 3)} | {x['better']} / {x['worse']} "
                         f"({_f(x['p_less'], 2)}) | {wtl['win']}/{wtl['tie']}/{wtl['loss']} |")
    return lines + [""]


def proposals_by_source(complete: dict[str, dict[str, list[dict]]], start: int = 5) -> list[dict[str, Any]]:
    """How good each source's trials are within their own run, after the first ``start`` trials:
    the mean percentile of their score in the run (1 = the run's best trial, 0 = its worst) and
    how often a trial beat the best found before it."""
    from collections import defaultdict

    found: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    for per_method in complete.values():
        for method, runs in per_method.items():
            for r in runs:
                if len(r.get("sources") or []) < 2:  # the recommender's one trial has no run to rank it in
                    continue
                sign = 1.0 if r["direction"] == "maximize" else -1.0
                scores = [sign * v if v is not None else float("-inf") for v in r["values"]]
                order = sorted(range(len(scores)), key=lambda i: scores[i])
                percentile = {i: rank / max(len(scores) - 1, 1) for rank, i in enumerate(order)}
                best = float("-inf")
                for i, (source, score) in enumerate(zip(r["sources"], scores)):
                    if i >= start:
                        found[(method, source)].append((percentile[i], score > best))
                    best = max(best, score)
    return [{"method": m, "source": src, "trials": len(v), "percentile": sum(p for p, _ in v) / len(v),
             "improved": sum(1 for _, up in v if up) / len(v)} for (m, src), v in sorted(found.items())]


def _fixed(x: float, decimals: int) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.{decimals}f}"


def families_table(summary: dict[str, Any]) -> list[str]:
    """The share of each family among the trials of the methods that search across families."""
    from collections import Counter

    counts: dict[str, Counter] = {}
    for per_method in summary["runs"].values():
        for m, runs in per_method.items():
            for r in runs:
                counts.setdefault(m, Counter()).update(r.get("families") or [])
    counts = {m: c for m, c in counts.items() if len(c) > 1}
    if not counts:
        return []
    families = sorted({f for c in counts.values() for f in c})
    lines = ["## Families tried", "",
             "Share of the trials (runs of the largest budget) per model family, for the methods that search "
             "across families.", "",
             "| method | " + " | ".join(families) + " |", "|---|" + "---|" * len(families)]
    for m, c in counts.items():
        total = sum(c.values())
        lines.append(f"| {LABELS[m]} | " + " | ".join(f"{c[f] / total:.0%}" for f in families) + " |")
    return lines + [""]


def _f(x: float, digits: int = 4) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def headline(summary: dict[str, Any]) -> list[str]:
    """The README's table: average rank, mean normalized regret, W/T/L vs Optuna TPE per budget."""
    budgets, lines = summary["budgets"], []
    cols = ([f"rank @{b}" for b in budgets] + [f"regret @{b}" for b in budgets]
            + [f"W/T/L vs TPE @{b}" for b in budgets])
    head = "| method | " + " | ".join(cols) + " |"
    lines += [head, "|" + "---|" * (1 + 3 * len(budgets))]
    for m in summary["methods"]:
        cells = [f"{summary['avg_rank'][b][m]:.2f}" for b in budgets]
        cells += [f"{summary['mean_regret'][b][m]:.3f}" for b in budgets]
        cells += ["anchor" if m == ANCHOR or ANCHOR not in summary["wtl"] else
                  "{win}/{tie}/{loss}".format(**summary["wtl"][ANCHOR][b][m]) for b in budgets]
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    return lines


def portfolio_headline(summary: dict[str, Any]) -> list[str]:
    """Per budget and method: mean and median normalized regret, mean rank, and against each anchor the
    W/T/L over data sets and the one-sided Wilcoxon p (the method's regret lower than the anchor's)."""
    anchors = summary["anchors"]
    head = ["budget", "method", "mean regret", "median regret", "mean rank"]
    for a in anchors:
        head += [f"W/T/L vs {SHORT[a]}", f"p vs {SHORT[a]}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in summary["budgets"]:
        for m in summary["methods"]:
            name = f"**{LABELS[m]}**" if m == HEADLINE else LABELS[m]
            cells = [str(b), name, _fixed(summary["mean_regret"][b][m], 3), _fixed(summary["median_regret"][b][m], 3),
                     _fixed(summary["avg_rank"][b][m], 2)]
            for a in anchors:
                if m == a:
                    cells += ["anchor", "-"]
                else:
                    cells += ["{win}/{tie}/{loss}".format(**summary["wtl"][a][b][m]),
                              _f(summary["across"][a][b][m]["p_less"], 2)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def matrix_lines(summary: dict[str, Any]) -> list[str]:
    """Which configuration matrix the portfolio runs read (a snapshot per start of compare.py), and
    how many of their runs started from a portfolio."""
    snaps: dict[str, dict] = {}
    portfolio_runs, started = 0, 0
    for per_method in summary["entries"].values():
        for m, es in per_method.items():
            if m not in PER_BUDGET:
                continue
            for e in es:
                for r in e.values():
                    portfolio_runs += 1
                    started += bool(r.get("sources")) and r["sources"][0] == "portfolio"
                    if r.get("matrix"):
                        snaps[r["matrix"]["sha256"]] = r["matrix"]
    if not portfolio_runs:
        return []
    text = ("Configuration matrix: " + ("; ".join(f"`{m['source']}` (snapshot sha256 {sha[:12]}, {m['cells']} "
                                                   f"cells, {m['tasks']} data sets)" for sha, m in snaps.items())
                                          or "none (the Initializer's defaults start every run)") + ". "
            f"{started} of {portfolio_runs} portfolio-method runs started from a portfolio"
            + ("" if started == portfolio_runs else " (the others: no matrix cells of the task's type, so the "
                                                   "Initializer's library defaults)") + ".")
    if len(snaps) > 1:
        text += (f" **Note:** the runs read {len(snaps)} snapshots of the matrix (it was being built while they "
                 "ran); their portfolios may differ.")
    return [text, ""]


def timing_lines(summary: dict[str, Any], methods: list[str]) -> list[str]:
    """Median seconds per run of each method's longest runs, split into objective, LLM, recommend and graph."""
    lines = ["| method | runs | trials | wall s | objective s | LLM s | recommend s | graph s | LLM calls |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in methods:
        t = summary["timing"][m]
        lines.append(f"| {LABELS[m]} | {t['runs']} | {t['trials']:.0f} | {_f(t['wall_med'], 3)} | "
                     f"{_f(t['objective_med'], 3)} | {_f(t['llm_med'], 3)} | {_f(t['recommend_med'], 3)} | "
                     f"{_f(t['graph_med'], 3)} | {t['llm_calls']:.1f} |")
    return lines


def _intro(summary: dict[str, Any], setting: dict[str, Any], portfolio: bool) -> list[str]:
    """The setting paragraph: last round's (one family for every method) or the portfolio suite's."""
    common = (f"{setting['folds']}-fold CV (stratified for classification), folds and models seeded by the run's "
              "seed; metric: ROC AUC (2 classes), accuracy (more), RMSE (regression); patience off, no learning "
              "between runs")
    if not portfolio:
        return [f"Setting: family **{setting['family']}** (its default search space) for every method and data set; "
                f"{common}; LLM of the TuneGraph methods: `{setting['llm']}`; llm_tpe with p_llm {setting['p_llm']}; "
                f"warm start K = {setting['warm_start']}; one run of {setting['trials']} trials per (method, data "
                "set, seed), the score at a budget B is the best of its first B trials.", ""]
    from tunegraph.tools.ml.cash import CASH_FAMILIES

    families = "; ".join(f"{t}: {', '.join(f)}" for t, f in CASH_FAMILIES.items())
    return [f"Setting: {common}; data sets subsampled to {setting['max_rows']} rows where larger.", "",
            f"- One family (**{setting['family']}**, its default search space): Optuna TPE (the anchor of last "
            "round), TuneGraph portfolio + TPE one family, TuneGraph TPE + warm start.",
            f"- Across families, the space TuneGraph searches (`tools.ml.cash.cash_space`: the family first, then "
            f"only its parameters; {families}): Optuna TPE and random search across families (plain ask/tell, "
            "`cash_space(task_type).suggest(trial)`, family `auto`), TuneGraph default and its full-space form.",
            "- Optuna baselines as Optuna ships them: `TPESampler(seed=seed)` (10 random start-up trials, "
            "independent sampling), `RandomSampler(seed=10000 + seed)`; in-memory storage.",
            "- TuneGraph default = the optimize graph with its defaults: model `auto`, sampler `tpe`, portfolio "
            "K = min(8, B // 2) (at least 1) configurations from the configuration matrix as the first trials, "
            "then TPE at once, in the box of past tasks' best configurations (each numeric hyperparameter "
            "narrowed to the range of the best configurations of the other data sets in the meta-dataset and "
            "the portfolio; `Context.space_box`, the default since 2 Dec 2026); `llm=none`: **the default path "
            "makes no LLM call**. Full space: the same without the box (`--full-space`), the default until then.",
            "- Leave-one-dataset-out: each data set's own matrix column and its best configurations are left out "
            "of its portfolio (graph input `exclude_tasks`), and the warm-started method's meta-learner is "
            "retrained without its rows (its recommendation is last round's: computed without the matrix, "
            f"LLM `{setting['llm']}`, K = {setting['warm_start']}, `portfolio=0`).",
            "- Budgets: the portfolio methods' first trials depend on the budget, so they run once per budget "
            "(budget 1 is the first trial of their smallest run: K is 1 there, and the greedy portfolio's first "
            f"member is the same for every K); the other methods run {setting['trials']} trials once, read as an "
            "anytime curve.", ""]


def markdown(summary: dict[str, Any], setting: dict[str, Any], plots: dict[str, str], rows: list[dict],
             subset: dict[str, Any] | None = None, notes: list[str] | None = None) -> str:
    budgets, methods, anchors = summary["budgets"], summary["methods"], summary["anchors"]
    portfolio = HEADLINE in methods or FULL_SPACE in methods
    n_seeds = sorted({len(next(iter(t["curves"].values()))) for t in summary["tables"].values()})
    recs = [r for r in rows if r.get("kind") == "recommendation" and r["dataset"] in summary["tables"]
            and r.get("family") == setting["family"] and r.get("llm") == setting["llm"]]
    finished = [r for t in summary["runs"].values() for rs in t.values() for r in rs]
    jobs = "/".join(str(j) for j in sorted({int(r.get("jobs") or 1) for r in finished})) or "-"
    loads = [la[0] for r in finished for la in (r.get("load_avg") or []) if la]
    load = statistics.median(loads) if loads else math.nan
    title = ("TuneGraph's portfolio-initialized search across families vs plain Optuna TPE "
             "(benchmarks/compare.py --suite portfolio)" if portfolio else
             "TuneGraph vs plain Optuna (benchmarks/compare.py)")
    lines = [f"# {title}", "",
             f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python "
             f"{platform.python_version()}; {jobs} job(s) in parallel, 1 thread each (estimators, llama.cpp, torch); "
             f"load average (1 min) during the runs: median {_f(load, 3)} (other work on the machine counts).", ""]
    lines += _intro(summary, setting, portfolio)
    lines += [f"Data sets: {summary['n_datasets']} finished ({', '.join(summary['datasets']) or 'none'}), "
              f"seeds per data set: {', '.join(map(str, n_seeds)) or '-'}."
              + (f" Pending: {', '.join(f'{n} ({sum(c.values())} seeds done)' for n, c in summary['pending'].items())}."
                 if summary["pending"] else ""), ""]
    lines += [f"{n}" for n in (notes or [])] + ([""] if notes else [])
    lines += matrix_lines(summary)
    lines += ["Methods: " + "; ".join(f"**{LABELS[m]}** (`{m}`)" for m in methods) + ". The recommender runs "
              "leave-one-dataset-out: the data set's rows are removed from the meta-dataset and the meta-learner "
              "is retrained without them; its answer is computed once per data set and is what the warm-started "
              "runs enqueue (the recommender's time is charged to each of them).", ""]
    if not summary["n_datasets"]:
        return "\n".join(lines + ["No data set is finished yet.", ""])
    few = (f"(with {min(n_seeds)} seed(s) on some data sets no difference can reach it there: the two-sided test "
           "needs at least 4 seeds a side)." if min(n_seeds) < 4 else
           f"(with {min(n_seeds)} seeds a difference needs nearly every seed on one side).")
    if portfolio:
        lines += ["## Headline", ""] + portfolio_headline(summary) + ["",
                  "regret: normalized regret (0 = the best score any method found on the data set, 1 = the worst "
                  "point of any anytime curve on it), per data set the mean over seeds; mean and median over data "
                  "sets. rank: mean over data sets of the method's rank by mean score over seeds (1 = best). "
                  "W/T/L: data sets where the method is better / not different / worse than the anchor by a "
                  f"two-sided Mann-Whitney U test over seeds, alpha {ALPHA} {few} p: one-sided Wilcoxon "
                  "signed-rank test over the data sets that the method's mean regret is lower than the anchor's "
                  "(zeros split).", "",
                  "## Verdict: TuneGraph's portfolio search vs the TPE anchors", ""]
        for m in (HEADLINE, FULL_SPACE):
            if m in methods:
                lines += verdict(summary, m) + [""]
    else:
        lines += ["## Headline", ""] + headline(summary) + ["",
                  "rank: mean over data sets of the method's rank by mean score over seeds (1 = best, ties averaged). "
                  "regret: normalized regret, mean over data sets and seeds (0 = the best score any method found on "
                  "the data set, 1 = the worst point of any anytime curve on it). W/T/L: data sets where the method "
                  f"is better / not different / worse than Optuna TPE by a two-sided Mann-Whitney U test over seeds, "
                  f"alpha {ALPHA} " + few, ""]
    lines += ["## Across data sets", "",
              "Data sets where the method's mean normalized regret is lower / higher than the anchor's, and the "
              "p-values of Wilcoxon signed-rank tests on the paired per-data-set mean regrets (zeros split): "
              "two-sided, and one-sided for a lower regret. A difference is only more than chance where p < "
              f"{ALPHA}.", ""]
    lines += across_table(summary) + [""]
    lines += versus_full_space(summary)
    if not portfolio:
        lines += ["## Targets", ""] + targets(summary) + [""]
    if plots:
        lines += ["## Plots", ""] + [f"![{k}]({v})" for k, v in plots.items()] + [""]
    longest_note = (" For the portfolio methods: their runs of the largest budget." if portfolio else "")
    lines += ["## Wall time", "",
              "Mean seconds per run (one run of the full trial count). objective: the cross-validations; "
              "LLM: the optimize graph's LLM calls (Initializer, Optimizer, retries); recommend: the recommend graph "
              "(retrieval, meta-learner, SHAP, recommender LLM, judge), measured once per data set and charged to each "
              "warm-started run; rest: graph, storage, checkpoints and sampler (for plain Optuna: the sampler). "
              "overhead per trial = (wall - objective) / trials, median over runs; % = of the run's median "
              "objective time. The embedded LLM is loaded once per process before timing." + longest_note, "",
              "| method | wall s | objective s | LLM s | recommend s | rest s | LLM calls | s per call "
              "| overhead ms/trial | % of median objective |", "|---|---|---|---|---|---|---|---|---|---|"]
    for m in methods:
        t = summary["timing"][m]
        lines.append(f"| {LABELS[m]} | {t['wall_s']:.1f} | {t['objective_s']:.1f} | {t['llm_s']:.1f} | "
                     f"{t['recommend_s']:.1f} | {t['rest_s']:.1f} | {t['llm_calls']:.1f} | "
                     f"{_f(t['llm_s_per_call'], 3) if t['llm_calls'] else '-'} | "
                     + ("- | - |" if m == "recommender" else
                        f"{t['overhead_ms_per_trial']:.0f} | {_f(t['overhead_pct_of_median_objective'], 3)} |"))
    lines += ["", "For the recommender the 'wall' is its response time and the 'objective' 0 (its one CV is the "
              "evaluation, not part of its answer).", "",
              "Median seconds per run, split: graph = wall - objective - LLM - recommend (for plain Optuna: its "
              "ask/tell loop and sampler)." + longest_note, ""]
    lines += timing_lines(summary, methods) + [""]
    skip = 5 if max(budgets) > 10 else 0  # the start-up trials are all defaults, warm start or random
    for start in sorted({0, skip}):
        sources = proposals_by_source(summary["runs"], start=start)
        if not sources:
            continue
        which = "All trials" if start == 0 else f"After each run's first {start} trials"
        lines += [f"## Trials by source: {which.lower()}", "",
                  f"{which}: the mean percentile of a source's trials within their run "
                  "(1 = the run's best trial, 0 = its worst) and the share that beat the best found before them "
                  "(a run's first trial always does). "
                  "Sources: tpe (TPE, or the ablation's), random, llm (the LLM Optimizer), portfolio (the "
                  "configuration matrix's portfolio members), meta (the recommender's warm start), init (the "
                  "Initializer: library defaults and, with an LLM, its first configurations)."
                  + longest_note, "",
                  "| method | source | trials | mean percentile | beat the best so far |", "|---|---|---|---|---|"]
        lines += [f"| {LABELS.get(r['method'], r['method'])} | {r['source']} | {r['trials']} | {r['percentile']:.2f} | "
                  f"{r['improved']:.1%} |" for r in sources]
        lines.append("")
    lines += families_table(summary)
    marks = dict(zip(anchors, ("*", "†")))
    lines += ["## Per data set", "",
              "Mean ± std over seeds of the best CV score found; after a value: "
              + ", ".join(f"{k} different from {LABELS[a]}" for a, k in marks.items())
              + f" at alpha {ALPHA} (Mann-Whitney U" + (f", p against {LABELS[anchors[0]]} in brackets when < 0.1)."
                                                        if anchors else ")."), ""]
    for b in budgets:
        lines += [f"### {b} trials", "",
                  "| data set | metric | " + " | ".join(LABELS[m] for m in methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for name, t in summary["tables"].items():
            cells = []
            for m in methods:
                e = summary["per_dataset"][name][b][m]
                star = "".join(k for a, k in marks.items() if e["vs"].get(a, {}).get("outcome") in ("win", "loss"))
                p = f" (p {e['p']:.2f})" if e.get("p") is not None and not math.isnan(e["p"]) and e["p"] < 0.1 else ""
                cells.append(f"{_f(e['mean'])} ± {_f(e['std'], 2)}{star}{p}")
            arrow = "max" if t["direction"] == "maximize" else "min"
            lines.append(f"| {name} ({t['n_rows']} rows) | {t['metric']} ({arrow}) | " + " | ".join(cells) + " |")
        lines.append("")
    if subset is not None:
        lines += subset_lines(subset)
    if recs:
        lines += ["## Recommendations (leave-one-dataset-out)", "",
                  "| data set | meta-dataset rows (held out) | similar tasks | source | judge | response s "
                  "| LLM calls |",
                  "|---|---|---|---|---|---|---|"]
        for r in sorted(recs, key=lambda r: r["dataset"]):
            f = r["final"]
            lines.append(f"| {r['dataset']} | {r['meta_rows']} | {', '.join(r['similar_tasks'])} | {f['source']} | "
                         f"{_f(f.get('judge_score'), 2)} | {r['response_s']:.1f} | "
                         f"{int((r.get('llm_counts') or {}).get('calls', 0))} |")
        lines.append("")
    return "\n".join(lines)


def subset_lines(subset: dict[str, Any]) -> list[str]:
    """The section of the methods run on fewer data sets (the embedded-LLM one), with every method on those."""
    extra = [m for m in subset["methods"] if m in SUBSET]
    if not extra:
        return []
    names = ", ".join(LABELS[m] for m in extra)
    lines = [f"## {names}: on {subset['n_datasets']} data sets", ""]
    if not subset["n_datasets"]:
        return lines + ["No data set is finished yet" + (f" (pending: {', '.join(subset['pending'])})"
                                                          if subset["pending"] else "") + ".", ""]
    lines += [f"Every method on the data sets where {names} ran ({', '.join(subset['datasets'])}); regret, ranks "
              "and tests as in the headline, over these data sets only.", ""]
    lines += portfolio_headline(subset) + [""]
    for m in extra:
        lines += verdict(subset, m) + [""]
    lines += versus_full_space(subset)
    lines += timing_lines(subset, subset["methods"]) + [""]
    return lines


def plot(summary: dict[str, Any], out_prefix: Path) -> dict[str, str]:
    """Regret vs trials (all data sets; one panel per data set) and the wall-time split, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables, methods, budgets = summary["tables"], summary["methods"], summary["budgets"]
    if not tables:
        return {}
    n = max(len(c) for t in tables.values() for es in t["curves"].values() for e in es for c in e.values())
    colors = {m: f"C{i}" for i, m in enumerate(methods)}

    def mean_curve(t: dict, m: str) -> list[float]:
        cs = [e[0] for e in t["curves"][m]]
        return [mean([t["regret_fn"](at_budget(c, k)) for c in cs]) for k in range(1, n + 1)]

    def draw(ax, m: str, per_table: list[dict], **style) -> None:
        """An anytime curve, or, for a method with a run per budget, its points at the budgets."""
        if m in PER_BUDGET:
            y = [mean([mean(t["methods"][m][b]["regrets"]) for t in per_table]) for b in budgets]
            ax.plot(budgets, y, color=colors[m], marker="o", ls=":", **style)
            return
        curves = [mean_curve(t, m) for t in per_table]
        ax.plot(range(1, n + 1), [mean([c[k] for c in curves]) for k in range(n)], color=colors[m],
                ls="--" if m == "recommender" else "-", **style)

    paths = {}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in methods:
        draw(ax, m, list(tables.values()), label=LABELS[m])
    for b in budgets:
        ax.axvline(b, color="grey", lw=0.5)
    ax.set_xlabel("trials")
    ax.set_ylabel("normalized regret (mean over data sets and seeds)")
    ax.set_title(f"Regret vs trials, {len(tables)} data sets"
                 + (" (dotted: one run per budget)" if any(m in PER_BUDGET for m in methods) else ""))
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out_prefix.with_name(out_prefix.name + "_regret.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths["regret vs trials"] = path.name

    cols = min(len(tables), 4)
    rows_n = math.ceil(len(tables) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.2 * cols, 2.5 * rows_n), squeeze=False)
    for ax, (name, t) in zip(axes.flat, tables.items()):
        for m in methods:
            draw(ax, m, [t])
        ax.set_title(f"{name} ({t['metric']})", fontsize=9)
        ax.set_xlabel("trials", fontsize=7)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tables):]:
        ax.axis("off")
    fig.legend([LABELS[m] for m in methods], loc="lower center", ncol=2, fontsize=7)
    fig.supylabel("normalized regret", fontsize=9)
    fig.tight_layout(rect=(0, 0.04 + 0.02 * math.ceil(len(methods) / 2) / rows_n, 1, 1))
    path = out_prefix.with_name(out_prefix.name + "_regret_datasets.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths["regret vs trials per data set"] = path.name

    fig, ax = plt.subplots(figsize=(7, 3.8))
    parts = [("objective_s", "objective"), ("llm_s", "LLM"), ("recommend_s", "recommend"), ("rest_s", "graph (rest)")]
    left = [0.0] * len(methods)
    for key, label in parts:
        vals = [max(0.0, summary["timing"][m][key]) for m in methods]
        ax.barh([LABELS[m] for m in methods], vals, left=left, label=label)
        left = [a + v for a, v in zip(left, vals)]
    ax.set_xlabel("seconds per run (mean)")
    ax.legend(fontsize=8)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    path = out_prefix.with_name(out_prefix.name + "_time.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths["wall time per run"] = path.name
    return paths


def write_report(rows: list[dict[str, Any]], setting: dict[str, Any], budgets: list[int], out: Path,
                 methods: list[str] | None = None, subset_datasets: list[str] | None = None,
                 notes: list[str] | None = None) -> dict[str, Any]:
    """Write the Markdown report (and its PNG plots next to it); returns the summary.

    ``methods``: those to report (default: every method with runs of ``setting``); those of ``SUBSET``
    get a section of their own over ``subset_datasets`` (default: wherever they ran). ``notes``: lines
    added under the setting (which data sets were left out and why).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    methods = list(methods or {r["method"] for r in rows if r.get("kind") == "run" and r.get("setting") == setting})
    main_methods = [m for m in methods if m not in SUBSET]
    summary = summarize(rows, setting, budgets, main_methods)
    subset = None
    if any(m in SUBSET for m in methods):
        subset = summarize(rows, setting, budgets, methods, datasets=subset_datasets)
    plots = plot(summary, out.with_suffix(""))
    out.write_text(markdown(summary, setting, plots, rows, subset=subset, notes=notes))
    summary["subset"] = subset
    return summary




