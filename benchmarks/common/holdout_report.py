"""The report of ``benchmarks/holdout.py`` (issue 22's outer holdout), from its JSON lines; it works on
partial results and says what is missing.

Definitions (also written into the report), per data set and trial budget, every score on the 20%
held out:

* methods: ``ensemble`` (the model an ``ensemble='on'`` run saved), ``single`` (the best single trial
  refit on the 80%), ``auto`` (the ensemble where the plan's rule chose it, else the single),
  ``flaml`` / ``autogluon`` (the peers, at TuneGraph's wall time for the same run).
* difference vs a reference (the best single trial unless said), per seed, positive = better:
  normalized ``sign * (s_m - s_ref) / |s_best - s_const|``, where ``s_best`` is the best held-out score
  of any method on the data set (any seed) and ``s_const`` the constant baseline's mean (the 80%'s class
  shares, or its mean); relative ``sign * (s_m - s_ref) / |s_ref|``. Averaged over the paired seeds,
  then over the data sets.
* across data sets: the Wilcoxon signed-rank test (zeros split) of the per-data-set mean normalized
  differences, one-sided: the method better than the reference.
* win / tie / loss on a data set: two-sided Mann-Whitney U of the per-seed scores at alpha 0.05 (a
  win needs p < 0.05 and a better mean, a loss p < 0.05 and a worse mean).
* extra wall time per run: (the modeler node with the ensemble - the single refit and save, which is
  what an ``ensemble='off'`` run's modeler does) + the out-of-fold overhead inside the trials, measured
  as the search time of the ``tunegraph`` run minus that of its ``ensemble='off'`` twin (same seed and
  budget, same trials) on the subset of twins, and applied to the other runs as the twins' median
  share of the search time; as a share of the ``ensemble='off'`` run's wall time.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common.machine import machine_line
from benchmarks.common.stats import ALPHA, mann_whitney, mean, median, relative_gap, wilcoxon_split

KINDS = ("tunegraph", "tunegraph_off", "flaml", "autogluon")
PEERS = ("flaml", "autogluon")
METHODS = ("single", "ensemble", "auto", "flaml", "autogluon")
LABELS = {"single": "best single trial (refit on the 80%)", "ensemble": "post-hoc ensemble (ensemble='on')",
          "auto": "auto's saved model", "flaml": "FLAML (TuneGraph's wall time)",
          "autogluon": "AutoGluon (TuneGraph's wall time)"}
COMPARISONS = (("ensemble", "single"), ("auto", "single"), ("flaml", "single"), ("autogluon", "single"),
               ("auto", "flaml"), ("auto", "autogluon"))
EXTRA_TARGET = 0.15


# ---- collecting --------------------------------------------------------------------------------

def collect(rows: list[dict[str, Any]], setting: dict[str, Any]) -> dict[int, dict[str, dict[str, dict[int, dict]]]]:
    """budget -> data set -> kind -> seed -> row, of this setting (a later row of a key replaces an earlier)."""
    by: dict[int, dict[str, dict[str, dict[int, dict]]]] = {}
    for r in rows:
        if r.get("kind") in KINDS and r.get("setting") == setting:
            by.setdefault(int(r["budget"]), {}).setdefault(r["dataset"], {}).setdefault(r["kind"], {})[int(r["seed"])] = r
    return by


def scores(entry: dict[str, dict[int, dict]], method: str) -> dict[int, float]:
    """seed -> held-out score of ``method`` on one (data set, budget)."""
    if method in PEERS:
        return {s: float(r["score"]) for s, r in entry.get(method, {}).items() if _ok(r.get("score"))}
    return {s: float(r["scores"][method]) for s, r in entry.get("tunegraph", {}).items()
            if _ok(r["scores"].get(method))}


def _ok(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def dataset_stats(entry: dict[str, dict[int, dict]]) -> dict[str, Any] | None:
    """Per data set: the sign, the normalizing span, each method's scores, each comparison's differences."""
    runs = entry.get("tunegraph") or {}
    if not runs:
        return None
    first = next(iter(runs.values()))
    direction = first["direction"]
    sign = 1.0 if direction == "maximize" else -1.0
    per = {m: scores(entry, m) for m in (*METHODS, "dummy")}
    every = [v for m in METHODS for v in per[m].values()]
    top = max(every, key=lambda v: sign * v)
    const = mean(per["dummy"].values())
    span = abs(top - const) if math.isfinite(const) else math.nan
    out = {"metric": first["metric"], "direction": direction, "sign": sign, "task_type": first["task_type"],
           "best": top, "const": const, "span": span, "scores": per, "cmp": {},
           "auto_chose": [bool(r["plan"].get("auto")) for r in runs.values()],
           "status": [r["plan"].get("status") for r in runs.values()],
           "members": [len(r["plan"].get("members") or []) for r in runs.values()]}
    for m, ref in COMPARISONS:
        seeds = sorted(set(per[m]) & set(per[ref]))
        if not seeds:
            continue
        x, y = [per[m][s] for s in seeds], [per[ref][s] for s in seeds]
        norm = [sign * (a - b) / span if span and span > 0 else 0.0 for a, b in zip(x, y)]
        rel = [-relative_gap(a, b, direction) for a, b in zip(x, y)]
        outcome, p = mann_whitney(x, y, sign)
        out["cmp"][(m, ref)] = {"seeds": seeds, "norm": mean(norm), "rel": mean(rel), "wtl": outcome, "p": p,
                                "mean": mean(x), "ref_mean": mean(y)}
    return out


def across(stats: dict[str, dict[str, Any]], m: str, ref: str) -> dict[str, Any] | None:
    """A comparison over the data sets that have it."""
    items = {n: s["cmp"][(m, ref)] for n, s in stats.items() if (m, ref) in s["cmp"]}
    if not items:
        return None
    norms = [c["norm"] for c in items.values()]
    _, p_less = wilcoxon_split([-d for d in norms]) if len(norms) > 1 else (math.nan, math.nan)
    wtl = Counter(c["wtl"] for c in items.values())
    return {"n": len(items), "norm": mean(norms), "rel": mean(c["rel"] for c in items.values()),
            "p": p_less, "wins": wtl["win"], "ties": wtl["tie"], "losses": wtl["loss"],
            "better": sum(d > 0 for d in norms), "worse": sum(d < 0 for d in norms),
            "loss_sets": sorted(n for n, c in items.items() if c["wtl"] == "loss"),
            "worse_sets": sorted(n for n, c in items.items() if c["norm"] < 0),
            "seeds": Counter(len(c["seeds"]) for c in items.values())}


# ---- wall time ---------------------------------------------------------------------------------

def wall_times(by_set: dict[str, dict[str, dict[int, dict]]]) -> dict[str, Any]:
    """The extra wall time of the ensemble per run, for one budget."""
    twins, runs = [], []
    for name, entry in by_set.items():
        for s, r in (entry.get("tunegraph") or {}).items():
            runs.append((name, s, r))
            off = (entry.get("tunegraph_off") or {}).get(s)
            if off:
                twins.append((name, s, r, off))
    pairs = []
    for name, s, on, off in twins:
        pairs.append({"dataset": name, "seed": s, "oof_s": on["search_s"] - off["search_s"],
                      "oof_share": (on["search_s"] - off["search_s"]) / off["search_s"] if off["search_s"] > 0 else math.nan,
                      "objective_share": ((on["objective_s"] - off["objective_s"]) / off["objective_s"]
                                          if off["objective_s"] > 0 else math.nan),
                      "modeler_extra_s": on["modeler_s"] - on["single_refit_s"],
                      "extra_s": on["modeler_s"] - on["single_refit_s"] + on["search_s"] - off["search_s"],
                      "off_wall_s": off["wall_s"], "off_modeler_s": off["modeler_s"],
                      "single_refit_s": on["single_refit_s"], "same_trials": on["values"] == off["values"],
                      "same_single": _close(on["scores"]["single"], off["scores"].get("single"))})
    for p in pairs:
        p["extra_pct"] = p["extra_s"] / p["off_wall_s"] if p["off_wall_s"] > 0 else math.nan
    share = median(p["oof_share"] for p in pairs) if pairs else math.nan
    estimated = []
    for name, s, r in runs:
        oof = r["search_s"] - r["search_s"] / (1 + share) if math.isfinite(share) else 0.0
        extra = r["modeler_s"] - r["single_refit_s"] + oof
        off_wall = r["wall_s"] - extra
        estimated.append({"dataset": name, "seed": s, "extra_s": extra, "modeler_extra_s": r["modeler_s"] - r["single_refit_s"],
                          "extra_pct": extra / off_wall if off_wall > 0 else math.nan, "wall_s": r["wall_s"],
                          "modeler_s": r["modeler_s"], "single_refit_s": r["single_refit_s"], "search_s": r["search_s"],
                          "plan_s": r.get("plan_s", math.nan)})
    return {"pairs": pairs, "share": share, "runs": estimated}


def _close(a, b) -> bool:
    return _ok(a) and _ok(b) and abs(a - b) <= 1e-9 * max(1.0, abs(a))


def _q(xs: list[float], q: float) -> float:
    xs = sorted(x for x in xs if math.isfinite(x))
    if not xs:
        return math.nan
    return xs[min(len(xs) - 1, max(0, int(math.ceil(q * len(xs))) - 1))]


# ---- summary and report ------------------------------------------------------------------------

def summarize(rows: list[dict[str, Any]], setting: dict[str, Any], budgets: list[int]) -> dict[str, Any]:
    by = collect(rows, setting)
    out: dict[str, Any] = {"budgets": {}, "n_rows": sum(1 for r in rows if r.get("kind") in KINDS and r.get("setting") == setting)}
    for b in budgets:
        by_set = by.get(b, {})
        stats = {n: st for n, e in sorted(by_set.items()) if (st := dataset_stats(e)) is not None}
        out["budgets"][b] = {"stats": stats, "across": {(m, ref): across(stats, m, ref) for m, ref in COMPARISONS},
                             "wall": wall_times(by_set), "peers": peer_walls(by_set)}
    return out


def peer_walls(by_set) -> dict[str, dict[str, float]]:
    out = {}
    for peer in PEERS:
        rs = [r for e in by_set.values() for r in (e.get(peer) or {}).values()]
        if rs:
            used = [r["fit_s"] / r["time_budget_s"] for r in rs if r["time_budget_s"] > 0]
            out[peer] = {"n": len(rs), "median_wall_s": median(r["wall_s"] for r in rs),
                         "median_budget_s": median(r["time_budget_s"] for r in rs), "median_used": median(used),
                         "early": sum(1 for u in used if u < 0.9)}
    return out


def _f(v: float, digits: int = 4) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}g}"


def _pct(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:+.2f}%"


def _p(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.3g}"


def write_report(rows: list[dict[str, Any]], setting: dict[str, Any], path: Path, *, datasets: list[str], seeds: int,
                 budgets: list[int], units: list[tuple], left: list[tuple], autogluon_installed: bool,
                 off: list[str], off_seeds: int) -> dict[str, Any]:
    summary = summarize(rows, setting, budgets)
    lines = ["# Outer holdout: the post-hoc ensemble, auto and the peers (issue 22)", ""]
    blocked = [u for u in left if u[0] == "autogluon" and not autogluon_installed]
    runnable, todo = len(units) - len(blocked), len(left) - len(blocked)
    lines += [f"Status: **{runnable - todo} of {runnable} units finished ({1 - todo / max(1, runnable):.0%})**"
              + ("; this is a partial result" if todo else "")
              + (f" ({len(blocked)} AutoGluon units cannot run here: not installed, see below)" if blocked else "")
              + ".", ""]
    lines += ["Protocol: for each data set of `../shared/datasets` (37), seed and trial budget, 20% of the rows are held "
              "out (stratified by class, by seed; data sets above "
              f"{setting['max_rows']} rows first subsampled to {setting['max_rows']}, as compare.py does). TuneGraph's "
              "default search (across families, the portfolio first, the box space, no LLM: compare.py's "
              f"`{setting['method']}`), leave-one-dataset-out (`exclude_tasks=[name]`, the portfolio's task weighting "
              f"chosen by an inner leave-one-out without the data set), {setting['folds']}-fold CV, runs on the other "
              "80% with `ensemble='on'`, so the ensemble is planned, refit and saved. Scored on the 20% with the run's "
              "metric (ROC AUC for two classes, accuracy for more, RMSE for regression). The `auto` rule is the "
              "product's, fixed before this measurement: the ensemble selected on one half of the rows must beat the "
              "best single trial chosen on that half, on the other half, both ways. FLAML (`AutoML().fit`, one thread) "
              "and AutoGluon (default preset) get the same 80%, the columns as TuneGraph's loader prepares them (text "
              "as pandas categories), and `time_budget`/`time_limit` = that TuneGraph run's wall time.", ""]
    lines += ["Definitions: " + " ".join(_definitions()), ""]
    for b in budgets:
        lines += _budget_section(b, summary["budgets"][b], seeds)
    lines += _wall_section(summary, budgets)
    lines += _coverage(rows, setting, datasets, seeds, budgets, units, left, autogluon_installed, off, off_seeds)
    lines += _machine(rows, setting)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return summary


def _definitions() -> list[str]:
    return ["Differences are against the best single trial unless the row says otherwise, per seed, positive = "
            "better: normalized = sign x (s_m - s_ref) / |s_best - s_const| (s_best: the best held-out score of any "
            "method on the data set, any seed; s_const: the constant baseline, the 80%'s class shares or mean), "
            "relative = sign x (s_m - s_ref) / |s_ref|; averaged over the seeds both have, then over data sets.",
            "p: one-sided Wilcoxon signed-rank (zeros split) of the per-data-set mean normalized differences, the "
            "method better than the reference.",
            f"W/T/L: data sets where a two-sided Mann-Whitney U of the per-seed scores gives p < {ALPHA} and a better "
            "(win) or worse (loss) mean; otherwise a tie."]


def _budget_section(b: int, s: dict[str, Any], seeds: int) -> list[str]:
    stats = s["stats"]
    lines = [f"## {b} trials", ""]
    if not stats:
        return lines + ["No finished run yet.", ""]
    n_seeds = Counter(len(st["scores"]["single"]) for st in stats.values())
    lines += [f"{len(stats)} data sets; seeds per data set: " + ", ".join(f"{k} ({v} sets)" for k, v in sorted(n_seeds.items()))
              + (f" (of {seeds})" if any(k < seeds for k in n_seeds) else ""), ""]
    lines += ["| method | vs | data sets | mean normalized diff | mean relative diff | W/T/L | better/worse sets | "
              "one-sided Wilcoxon p |", "|---|---|---|---|---|---|---|---|"]
    for (m, ref), a in s["across"].items():
        if a is None:
            lines.append(f"| {LABELS[m]} | {ref} | 0 | not run | | | | |")
            continue
        lines.append(f"| {LABELS[m]} | {ref} | {a['n']} | {_pct(a['norm'])} | {_pct(a['rel'])} | "
                     f"{a['wins']}/{a['ties']}/{a['losses']} | {a['better']}/{a['worse']} | {_p(a['p'])} |")
    lines.append("")
    chose = [c for st in stats.values() for c in st["auto_chose"]]
    status = Counter(x for st in stats.values() for x in st["status"])
    members = [k for st in stats.values() for k in st["members"]]
    lines.append(f"auto chose the ensemble in {sum(chose)} of {len(chose)} runs ({sum(chose) / max(1, len(chose)):.0%}); "
                 f"plans: {', '.join(f'{k} {v}' for k, v in status.items())}; ensemble members: median {_f(median(members), 3)}, "
                 f"max {max(members) if members else 'n/a'}.")
    auto = s["across"].get(("auto", "single"))
    if auto:
        loss = auto["loss_sets"]
        lines.append("auto worse than the best single trial beyond noise (Mann-Whitney loss): "
                     + (", ".join(loss) if loss else "**on no data set**")
                     + (f"; with a lower mean (not significant) on: {', '.join(n for n in auto['worse_sets'] if n not in loss)}"
                        if [n for n in auto["worse_sets"] if n not in loss] else "") + ".")
    lines.append("")
    lines += [f"Per data set ({b} trials): mean held-out score over seeds (W/T/L vs the best single trial; auto: runs "
              "where it chose the ensemble).", "",
              "| data set | metric | seeds | single | ensemble | auto | FLAML | AutoGluon | constant |",
              "|---|---|---|---|---|---|---|---|---|"]
    mark = {"win": "W", "tie": "T", "loss": "L"}
    for name, st in stats.items():
        cells = []
        for m in ("ensemble", "auto", "flaml", "autogluon"):
            c = st["cmp"].get((m, "single"))
            if c is None:
                cells.append("")
                continue
            extra = f", {sum(st['auto_chose'])}/{len(st['auto_chose'])}" if m == "auto" else ""
            cells.append(f"{_f(c['mean'], 5)} {mark[c['wtl']]}{extra}")
        lines.append(f"| {name} | {st['metric']} | {len(st['scores']['single'])} | {_f(mean(st['scores']['single'].values()), 5)} | "
                     + " | ".join(cells) + f" | {_f(st['const'], 4)} |")
    lines.append("")
    return lines


def _wall_section(summary: dict[str, Any], budgets: list[int]) -> list[str]:
    lines = ["## Extra wall time of the ensemble", "",
             "Per run: (modeler node with the ensemble's refits - the single refit and save an `ensemble='off'` run's "
             "modeler does) + the out-of-fold predictions inside the trials. The out-of-fold overhead is measured on "
             "the ensemble-off twins (the same seed and budget run again with `ensemble='off'`: the same trials, no "
             "predictions kept) as the difference of the search times; the other runs get the twins' median share of "
             f"the search time. Target: under {EXTRA_TARGET:.0%}. The modeler's time splits into the plan (Caruana's "
             "selection over the kept predictions and the auto rule's held-out check, timed around "
             "`agents.modeler.plan_ensemble`) and the members' refits with the save.", "",
             "| budget | runs | median extra (all runs, est.) | p90 | median modeler s: all / plan / refits+save "
             "| median single refit+save s | twins | median OOF share of search (twins) | median OOF share of CV time "
             "| median extra (twins, measured) | twins with the same trials |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for b in budgets:
        w = summary["budgets"][b]["wall"]
        runs, pairs = w["runs"], w["pairs"]
        if not runs:
            lines.append(f"| {b} | 0 | | | | | | | | | |")
            continue
        modeler = " / ".join(_f(median(x), 3) for x in ([r["modeler_s"] for r in runs], [r["plan_s"] for r in runs],
                                                         [r["modeler_s"] - r["plan_s"] for r in runs]))
        lines.append(f"| {b} | {len(runs)} | {_pct(median(r['extra_pct'] for r in runs))} | "
                     f"{_pct(_q([r['extra_pct'] for r in runs], 0.9))} | {modeler} | "
                     f"{_f(median(r['single_refit_s'] for r in runs), 3)} | "
                     f"{len(pairs)} | {_pct(w['share'])} | {_pct(median(p['objective_share'] for p in pairs) if pairs else math.nan)} | "
                     f"{_pct(median(p['extra_pct'] for p in pairs) if pairs else math.nan)} | "
                     f"{sum(p['same_trials'] for p in pairs)}/{len(pairs)} |")
    lines.append("")
    peers = [(b, p, v) for b in budgets for p, v in summary["budgets"][b]["peers"].items()]
    if peers:
        lines += ["Peers' wall time (their budget = the TuneGraph run's wall time):", "",
                  "| budget | peer | runs | median budget s | median wall s | median share of the budget used to fit | "
                  "stopped before 90% |", "|---|---|---|---|---|---|---|"]
        for b, p, v in peers:
            lines.append(f"| {b} | {p} | {v['n']} | {_f(v['median_budget_s'], 3)} | {_f(v['median_wall_s'], 3)} | "
                         f"{_pct(v['median_used']).lstrip('+')} | {v['early']} |")
        lines.append("")
    return lines


def _coverage(rows, setting, datasets, seeds, budgets, units, left, autogluon_installed, off, off_seeds) -> list[str]:
    lines = ["## What is finished and what is left", ""]
    kinds = sorted({u[0] for u in units}, key=KINDS.index)
    for kind in kinds:
        mine = [u for u in units if u[0] == kind]
        todo = [u for u in left if u[0] == kind]
        line = f"- `{kind}`: {len(mine) - len(todo)} of {len(mine)} finished"
        if kind == "autogluon" and not autogluon_installed:
            line += (" (autogluon.tabular is not installed here: `pip install autogluon.tabular` 1.6.3 would downgrade "
                     "pandas 3.1.2 to 2.3.3 and pyarrow 26 to 24 in the project's environment, so it was not installed; "
                     "the method runs when it is)")
        if todo and len(todo) <= 12:
            line += ": left " + ", ".join(f"{n} seed {s} budget {b}" for _, n, s, b in todo)
        elif todo:
            by_seed = Counter(s for _, _, s, _ in todo)
            line += ": left per seed " + ", ".join(f"{s}: {c}" for s, c in sorted(by_seed.items()))
        lines.append(line)
    done = {r["key"] for r in rows if r.get("kind") in KINDS}
    failures = {r["key"]: r for r in rows if r.get("kind") == "failure" and r["key"] not in done}
    if failures:
        lines.append("- failed (retried on the next start): " + "; ".join(
            f"{r['dataset']} seed {r['seed']} budget {r['budget']} {r['unit']}: {r['error'][:160]}" for r in failures.values()))
    lines += ["", f"Data sets ({len(datasets)}): {', '.join(datasets)}. Seeds 0..{seeds - 1}; budgets "
              f"{', '.join(map(str, budgets))}. Ensemble-off twins: {', '.join(off) or 'none'} (seeds 0..{off_seeds - 1}), "
              "chosen before any result: evenly spaced by row count.",
              "Not measured here: the issue's re-scored winner (repeated CV of the best few trials; not in the product "
              "yet) and the 14 out-of-distribution data sets of benchmarks/ood_datasets.py.", ""]
    return lines


def _machine(rows, setting) -> list[str]:
    machines = Counter(machine_line(r["machine"]) for r in rows
                       if r.get("kind") in KINDS and r.get("setting") == setting and r.get("machine"))
    loads = [la[0][0] for r in rows if r.get("kind") in KINDS and (la := r.get("load_avg")) and la[0]]
    jobs = sorted({r.get("jobs", 1) for r in rows if r.get("kind") in KINDS})
    lines = ["## Machine", ""]
    lines += [f"- {m} ({n} units)" for m, n in machines.most_common()] or ["- none recorded yet"]
    if loads:
        lines.append(f"- 1-minute load average at the start of a unit: median {statistics.median(loads):.2f}, max "
                     f"{max(loads):.2f} (the machine is shared: timings are noisy); --jobs {', '.join(map(str, jobs))}")
    lines.append("")
    return lines
