"""The report of ``benchmarks/compare.py``: tables, statistics and plots from its JSON lines.

It works on partial results: a data set is reported over the seeds that every method has
finished on it (data sets where some method has none yet are listed as pending).

Definitions (also written into the report):

* score at budget B: the best CV score among a run's first B trials (the anytime curve of one
  run of max(B) trials); the recommender's is its configuration's CV score (zero trials).
* normalized regret: ``(s* - s) / (s* - s_w)`` on a data set, where ``s*`` is the best score
  any method found on it (any seed, any trial) and ``s_w`` the worst point of any anytime
  curve shown (a run's first trial, or the recommender); 0 = the best found, 1 = the worst.
* rank: methods ranked per data set and budget by their mean score over seeds (1 = best, ties
  averaged), then averaged over data sets.
* win / tie / loss against Optuna TPE: two-sided Mann-Whitney U test of the per-seed scores at
  alpha 0.05; a win needs p < 0.05 and a better mean, a loss p < 0.05 and a worse mean.

    python benchmarks/compare_report.py [--results benchmarks/results/compare.jsonl]
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from pathlib import Path
from typing import Any

ALPHA = 0.05
ANCHOR = "optuna_tpe"
LABELS = {
    "optuna_tpe": "Optuna TPE",
    "optuna_random": "Optuna random",
    "tunegraph_tpe": "TuneGraph TPE, no LLM (ablation)",
    "tunegraph_llm_tpe": "TuneGraph llm_tpe",
    "tunegraph_llm_tpe_warm": "TuneGraph llm_tpe + warm start",
    "tunegraph_tpe_warm": "TuneGraph TPE + warm start",
    "recommender": "recommender alone (0 trials)",
}
WARM = ("tunegraph_llm_tpe_warm", "tunegraph_tpe_warm")  # the targets are about warm-started TuneGraph


# ---- scores ------------------------------------------------------------------------------------

def anytime(values: list[float | None], sign: float) -> list[float]:
    """Best-so-far curve in 'higher is better' units (sign * score); NaN until a trial succeeds."""
    out, best = [], -math.inf
    for v in values:
        if v is not None and math.isfinite(v):
            best = max(best, sign * v)
        out.append(best if best > -math.inf else math.nan)
    return out


def at_budget(curve: list[float], budget: int) -> float:
    """A run's score after ``budget`` trials; a zero-trial method (one point) is flat."""
    if not curve:
        return math.nan
    return curve[min(budget, len(curve)) - 1]


def collect(rows: list[dict[str, Any]], setting: dict[str, Any], methods: list[str]) -> dict[str, Any]:
    """Runs of this setting, by data set -> method -> seed, kept to the seeds all methods have."""
    by: dict[str, dict[str, dict[int, dict]]] = {}
    for r in rows:
        if r.get("kind") == "run" and r.get("setting") == setting and r["method"] in methods:
            by.setdefault(r["dataset"], {}).setdefault(r["method"], {})[int(r["seed"])] = r
    complete, pending = {}, {}
    for name, per_method in sorted(by.items()):
        seeds = set.intersection(*(set(per_method.get(m, {})) for m in methods))
        if seeds:
            complete[name] = {m: [per_method[m][s] for s in sorted(seeds)] for m in methods}
        else:
            pending[name] = {m: len(per_method.get(m, {})) for m in methods}
    return {"complete": complete, "pending": pending}


def dataset_table(runs: dict[str, list[dict]], budgets: list[int]) -> dict[str, Any]:
    """Per method and budget: the per-seed scores (original units), their regret, and the curves."""
    first = next(iter(runs.values()))[0]
    sign = 1.0 if first["direction"] == "maximize" else -1.0
    curves = {m: [anytime(r["values"], sign) for r in rs] for m, rs in runs.items()}
    points = [v for cs in curves.values() for c in cs for v in c if not math.isnan(v)]
    best, worst = (max(points), min(points)) if points else (math.nan, math.nan)
    span = best - worst

    def regret(v: float) -> float:
        if math.isnan(v):
            return math.nan
        return 0.0 if span <= 0 else (best - v) / span

    out = {"sign": sign, "best": sign * best, "worst": sign * worst, "metric": first["metric"],
           "direction": first["direction"], "n_rows": first.get("n_rows"), "task_type": first.get("task_type"),
           "seeds": len(next(iter(runs.values()))), "curves": curves, "regret_fn": regret, "methods": {}}
    for m, cs in curves.items():
        out["methods"][m] = {b: {"scores": [sign * at_budget(c, b) for c in cs],
                                 "regrets": [regret(at_budget(c, b)) for c in cs]} for b in budgets}
    return out


def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.fmean(xs) if xs else math.nan


def _std(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def compare_to_anchor(x: list[float], y: list[float], sign: float) -> tuple[str, float]:
    """('win' | 'tie' | 'loss', p) of scores ``x`` against the anchor's ``y`` (Mann-Whitney U, two-sided)."""
    from scipy.stats import mannwhitneyu

    x = [v for v in x if not math.isnan(v)]
    y = [v for v in y if not math.isnan(v)]
    if not x or not y:
        return "tie", math.nan
    if len(set(x) | set(y)) == 1:
        return "tie", 1.0
    p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    if math.isnan(p) or p >= ALPHA:
        return "tie", p
    better = sign * (_mean(x) - _mean(y)) > 0
    return ("win" if better else "loss"), p


def ranks(means: dict[str, float], sign: float) -> dict[str, float]:
    """Rank 1 = best mean score; ties share the average rank."""
    from scipy.stats import rankdata

    names = list(means)
    values = [-(sign * means[m]) if not math.isnan(means[m]) else math.inf for m in names]
    return dict(zip(names, (float(r) for r in rankdata(values, method="average"))))


# ---- timing ------------------------------------------------------------------------------------

def timing(runs: list[dict]) -> dict[str, float]:
    """Mean seconds per run: wall, objective, LLM, recommend (meta-learner + its LLM) and the rest;
    overhead per trial and as a share of the run's median objective time (median over runs)."""
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
    return {"wall_s": _mean(walls), "objective_s": _mean(objs), "llm_s": _mean(llms), "recommend_s": _mean(recs),
            "rest_s": _mean(rests), "overhead_ms_per_trial": 1000 * statistics.median(per_trial),
            "overhead_pct_of_median_objective": statistics.median(pct) if pct else math.nan,
            "median_objective_ms": 1000 * statistics.median(medians),
            "llm_calls": _mean([float(r.get("llm_calls") or 0) for r in runs]),
            "llm_s_per_call": (sum(llms) / max(1.0, sum(float(r.get("llm_calls") or 0) for r in runs))),
            "trials": _mean([float(len(r["values"])) for r in runs]), "runs": len(runs)}


# ---- the report --------------------------------------------------------------------------------

def summarize(rows: list[dict[str, Any]], setting: dict[str, Any], budgets: list[int],
              methods: list[str]) -> dict[str, Any]:
    """Everything the report shows, as plain data (the smoke test checks it)."""
    methods = [m for m in LABELS if m in methods]
    data = collect(rows, setting, methods)
    tables = {name: dataset_table(runs, budgets) for name, runs in data["complete"].items()}
    summary: dict[str, Any] = {"methods": methods, "budgets": budgets, "n_datasets": len(tables),
                               "datasets": list(tables), "pending": data["pending"], "tables": tables,
                               "runs": data["complete"],
                               "mean_regret": {}, "avg_rank": {}, "wtl": {}, "per_dataset": {}}
    for b in budgets:
        rank_lists: dict[str, list[float]] = {m: [] for m in methods}
        summary["wtl"][b] = {m: {"win": 0, "tie": 0, "loss": 0} for m in methods if m != ANCHOR}
        for name, t in tables.items():
            means = {m: _mean(t["methods"][m][b]["scores"]) for m in methods}
            rk = ranks(means, t["sign"])
            for m in methods:
                rank_lists[m].append(rk[m])
            for m in methods:
                cell = t["methods"][m][b]
                entry = {"mean": means[m], "std": _std(cell["scores"]), "regret": _mean(cell["regrets"]),
                         "rank": rk[m]}
                if m != ANCHOR and ANCHOR in methods:
                    outcome, p = compare_to_anchor(cell["scores"], t["methods"][ANCHOR][b]["scores"], t["sign"])
                    entry.update(outcome=outcome, p=p)
                    summary["wtl"][b][m][outcome] += 1
                summary["per_dataset"].setdefault(name, {}).setdefault(b, {})[m] = entry
        summary["avg_rank"][b] = {m: _mean(v) for m, v in rank_lists.items()}
        summary["mean_regret"][b] = {m: _mean([summary["per_dataset"][n][b][m]["regret"] for n in tables])
                                     for m in methods}
    summary["across"] = {b: {m: across_datasets(summary["per_dataset"], m, b) for m in methods if m != ANCHOR}
                         for b in budgets} if ANCHOR in methods else {}
    summary["timing"] = {m: timing([r for runs in data["complete"].values() for r in runs[m]]) for m in methods
                         if tables}
    return summary


def across_datasets(per_dataset: dict[str, Any], method: str, budget: int) -> dict[str, Any]:
    """Is ``method`` better than the anchor over the data sets (not within one)? Counts of data
    sets with lower / higher mean regret and a two-sided Wilcoxon signed-rank test on the paired
    mean regrets (Demsar 2006: the test for two methods over several data sets)."""
    from scipy.stats import wilcoxon

    pairs = [(d[budget][method]["regret"], d[budget][ANCHOR]["regret"]) for d in per_dataset.values()]
    pairs = [(a, b) for a, b in pairs if not (math.isnan(a) or math.isnan(b))]
    diffs = [a - b for a, b in pairs]
    better, worse = sum(1 for x in diffs if x < 0), sum(1 for x in diffs if x > 0)
    p = math.nan
    if any(diffs):
        p = float(wilcoxon(diffs, alternative="two-sided", zero_method="zsplit").pvalue)
    return {"better": better, "worse": worse, "mean_diff": _mean(diffs), "p": p}


def across_table(summary: dict[str, Any]) -> list[str]:
    budgets = summary["budgets"]
    if not summary["across"]:
        return [f"Not computed: {LABELS[ANCHOR]} is not among the methods."]
    lines = ["| method | " + " | ".join(f"@{b}: better / worse (p)" for b in budgets) + " |",
             "|---|" + "---|" * len(budgets)]
    for m in summary["methods"]:
        if m == ANCHOR:
            continue
        cells = [f"{a['better']} / {a['worse']} ({_f(a['p'], 2)})" for a in (summary["across"][b][m] for b in budgets)]
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    return lines


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
                a = summary["across"][b][warm]
                chance = "beyond chance" if a["p"] < ALPHA else "within chance"
                out.append(f"- {LABELS[warm]} beats Optuna TPE on average rank at {b} trials: "
                           f"**{'met' if rw < rt else 'not met'}** ({rw:.2f} vs {rt:.2f}; lower regret on "
                           f"{a['better']} of {summary['n_datasets']} data sets, Wilcoxon p {_f(a['p'], 2)}: {chance})")
        if 30 in summary["budgets"]:
            wtl = summary["wtl"][30][warm]
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
        cells += ["anchor" if m == ANCHOR else "{win}/{tie}/{loss}".format(**summary["wtl"][b][m]) for b in budgets]
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    return lines


def markdown(summary: dict[str, Any], setting: dict[str, Any], plots: dict[str, str], rows: list[dict]) -> str:
    budgets, methods = summary["budgets"], summary["methods"]
    n_seeds = sorted({len(next(iter(t["curves"].values()))) for t in summary["tables"].values()})
    recs = [r for r in rows if r.get("kind") == "recommendation" and r["dataset"] in summary["tables"]
            and r.get("family") == setting["family"] and r.get("llm") == setting["llm"]]
    finished = [r for t in summary["runs"].values() for rs in t.values() for r in rs]
    jobs = "/".join(str(j) for j in sorted({int(r.get("jobs") or 1) for r in finished})) or "-"
    loads = [la[0] for r in finished for la in (r.get("load_avg") or []) if la]
    load = statistics.median(loads) if loads else math.nan
    lines = ["# TuneGraph vs plain Optuna (benchmarks/compare.py)", "",
             f"Machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), Python "
             f"{platform.python_version()}; {jobs} job(s) in parallel, 1 thread each (estimators, llama.cpp, torch); "
             f"load average (1 min) during the runs: median {_f(load, 3)} (other work on the machine counts).", "",
             f"Setting: family **{setting['family']}** (its default search space) for every method and data set; "
             f"{setting['folds']}-fold CV (stratified for classification), folds and models seeded by the run's seed; "
             f"metric: ROC AUC (2 classes), accuracy (more), RMSE (regression); "
             f"LLM of the TuneGraph methods: `{setting['llm']}`; llm_tpe with p_llm {setting['p_llm']}; warm start "
             f"K = {setting['warm_start']}; patience off, no learning between runs; one run of {setting['trials']} "
             f"trials per (method, data set, seed), the score at a budget B is the best of its first B trials.", "",
             f"Data sets: {summary['n_datasets']} finished ({', '.join(summary['datasets']) or 'none'}), "
             f"seeds per data set: {', '.join(map(str, n_seeds)) or '-'}."
             + (f" Pending: {', '.join(f'{n} ({sum(c.values())} runs done)' for n, c in summary['pending'].items())}."
                if summary["pending"] else ""), "",
             "Methods: " + "; ".join(f"**{LABELS[m]}** (`{m}`)" for m in methods) + ". The recommender runs "
             "leave-one-dataset-out: the data set's rows are removed from the meta-dataset and the meta-learner "
             "is retrained without them; its answer is computed once per data set and is what the warm-started "
             "runs enqueue (the recommender's time is charged to each of them).", ""]
    if not summary["n_datasets"]:
        return "\n".join(lines + ["No data set is finished yet.", ""])
    lines += ["## Headline", ""] + headline(summary) + ["",
              "rank: mean over data sets of the method's rank by mean score over seeds (1 = best, ties averaged). "
              "regret: normalized regret, mean over data sets and seeds (0 = the best score any method found on "
              "the data set, 1 = the worst point of any anytime curve on it). W/T/L: data sets where the method "
              f"is better / not different / worse than Optuna TPE by a two-sided Mann-Whitney U test over seeds, "
              f"alpha {ALPHA} " + (f"(with {min(n_seeds)} seed(s) on some data sets no difference can reach it there: "
                                   "the two-sided test needs at least 4 seeds a side)." if min(n_seeds) < 4 else
                                   f"(with {min(n_seeds)} seeds a difference needs nearly every seed on one side)."),
              "",
              "## Across data sets", "",
              "Data sets where the method's mean normalized regret is lower / higher than Optuna TPE's, and the "
              "p-value of a two-sided Wilcoxon signed-rank test on the paired per-data-set mean regrets (zeros "
              f"split). A rank difference is only more than chance where p < {ALPHA}.", ""]
    lines += across_table(summary) + ["", "## Targets", ""] + targets(summary) + [""]
    if plots:
        lines += ["## Plots", ""] + [f"![{k}]({v})" for k, v in plots.items()] + [""]
    lines += ["## Wall time", "",
              "Mean seconds per run (all budgets: one run of the full trial count). objective: the cross-validations; "
              "LLM: the optimize graph's LLM calls (Initializer, Optimizer, retries); recommend: the recommend graph "
              "(retrieval, meta-learner, SHAP, recommender LLM, judge), measured once per data set and charged to each "
              "warm-started run; rest: graph, storage, checkpoints and sampler (for plain Optuna: the sampler). "
              "overhead per trial = (wall - objective) / trials, median over runs; % = of the run's median "
              "objective time. The embedded LLM is loaded once per process before timing.", "",
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
              "evaluation, not part of its answer).", ""]
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
                  "Sources: tpe (TPE, or the ablation's), llm (the LLM Optimizer), meta (the recommender's warm "
                  "start), init (the Initializer: library defaults and, with an LLM, its first configurations).", "",
                  "| method | source | trials | mean percentile | beat the best so far |", "|---|---|---|---|---|"]
        lines += [f"| {LABELS.get(r['method'], r['method'])} | {r['source']} | {r['trials']} | {r['percentile']:.2f} | "
                  f"{r['improved']:.1%} |" for r in sources]
        lines.append("")
    lines += ["## Per data set", "",
              "Mean ± std over seeds of the best CV score found; * after a value: different from Optuna TPE at "
              f"alpha {ALPHA} (Mann-Whitney U, p in brackets when < 0.1).", ""]
    for b in budgets:
        lines += [f"### {b} trials", "",
                  "| data set | metric | " + " | ".join(LABELS[m] for m in methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for name, t in summary["tables"].items():
            cells = []
            for m in methods:
                e = summary["per_dataset"][name][b][m]
                star = "*" if e.get("outcome") in ("win", "loss") else ""
                p = f" (p {e['p']:.2f})" if e.get("p") is not None and not math.isnan(e["p"]) and e["p"] < 0.1 else ""
                cells.append(f"{_f(e['mean'])} ± {_f(e['std'], 2)}{star}{p}")
            arrow = "max" if t["direction"] == "maximize" else "min"
            lines.append(f"| {name} ({t['n_rows']} rows) | {t['metric']} ({arrow}) | " + " | ".join(cells) + " |")
        lines.append("")
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


def plot(summary: dict[str, Any], out_prefix: Path) -> dict[str, str]:
    """Regret vs trials (all data sets; one panel per data set) and the wall-time split, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables, methods = summary["tables"], summary["methods"]
    if not tables:
        return {}
    n = max(len(c) for t in tables.values() for cs in t["curves"].values() for c in cs)
    colors = {m: f"C{i}" for i, m in enumerate(methods)}

    def mean_curve(t: dict, m: str) -> list[float]:
        cs = t["curves"][m]
        return [_mean([t["regret_fn"](at_budget(c, k)) for c in cs]) for k in range(1, n + 1)]

    paths = {}
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for m in methods:
        curves = [mean_curve(t, m) for t in tables.values()]
        y = [_mean([c[k] for c in curves]) for k in range(n)]
        style = {"ls": "--"} if m == "recommender" else {}
        ax.plot(range(1, n + 1), y, label=LABELS[m], color=colors[m], **style)
    for b in summary["budgets"]:
        ax.axvline(b, color="grey", lw=0.5)
    ax.set_xlabel("trials")
    ax.set_ylabel("normalized regret (mean over data sets and seeds)")
    ax.set_title(f"Regret vs trials, {len(tables)} data sets")
    ax.legend(fontsize=8)
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
            ax.plot(range(1, n + 1), mean_curve(t, m), color=colors[m], ls="--" if m == "recommender" else "-")
        ax.set_title(f"{name} ({t['metric']})", fontsize=9)
        ax.set_xlabel("trials", fontsize=7)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(tables):]:
        ax.axis("off")
    fig.legend([LABELS[m] for m in methods], loc="lower center", ncol=3, fontsize=8)
    fig.supylabel("normalized regret", fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    path = out_prefix.with_name(out_prefix.name + "_regret_datasets.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    paths["regret vs trials per data set"] = path.name

    fig, ax = plt.subplots(figsize=(7, 3.8))
    parts = [("objective_s", "objective"), ("llm_s", "LLM"), ("recommend_s", "recommend"), ("rest_s", "rest")]
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
                 methods: list[str] | None = None) -> dict[str, Any]:
    """Write the Markdown report (and its PNG plots next to it); returns the summary."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows, setting, budgets, list(methods or LABELS))
    plots = plot(summary, out.with_suffix(""))
    out.write_text(markdown(summary, setting, plots, rows))
    return summary


def main() -> None:
    import sys

    from benchmarks.compare import main as compare_main

    sys.exit(compare_main(["--report-only", *sys.argv[1:]]))


if __name__ == "__main__":
    import sys
    from pathlib import Path as _P

    sys.path.insert(0, str(_P(__file__).resolve().parents[1]))
    main()
