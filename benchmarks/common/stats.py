"""The benchmarks' statistics: NaN-aware summaries, regrets, ranks and significance tests.

Regrets, each on one data set:

* ``relative_gap``: how far a score falls short of a reference, as a fraction of |reference|.
* ``normalized_regret``: ``(s* - s) / (s* - s_w)`` between the best and the worst known scores
  (0 = the best, 1 = the worst); unlike the relative gap it does not blow up on a regression target
  whose best RMSE is near zero.
* ``bounded_regret``: the same with a missing score as the worst (1) and a best score of 0 allowed.
* ``anytime`` / ``at_budget``: a run's best-so-far curve and its score after B trials.

Tests: within a data set, the two-sided Mann-Whitney U test of the per-seed scores
(``mann_whitney``); across data sets, the Wilcoxon signed-rank test of the paired per-data-set
regrets (``wilcoxon_split``, zeros split; Demsar 2006: the test for two methods over several data
sets, and ``wilcoxon_less`` as the zero-shot portfolio report has it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

ALPHA = 0.05


# ---- summaries that skip NaN ------------------------------------------------------------------

def finite(xs: Iterable[float]) -> list[float]:
    return [x for x in xs if not math.isnan(x)]


def mean(xs: Iterable[float]) -> float:
    xs = finite(xs)
    return statistics.fmean(xs) if xs else math.nan


def std(xs: Iterable[float]) -> float:
    """The sample standard deviation; 0 for fewer than two values."""
    xs = finite(xs)
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def median(xs: Iterable[float]) -> float:
    xs = finite(xs)
    return statistics.median(xs) if xs else math.nan


def mean_std(values: list[float]) -> dict[str, float]:
    """Mean, sample std (0 for one value) and count of repeated measurements."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values)}


def best(values: Iterable[float | None], direction: str, default: float | None = None) -> float | None:
    """The best of the values that are not None (``default`` where there is none)."""
    ok = [v for v in values if v is not None]
    if not ok:
        return default
    return max(ok) if direction == "maximize" else min(ok)


# ---- regrets ----------------------------------------------------------------------------------

def relative_gap(value: float, reference: float, direction: str) -> float:
    """How far ``value`` falls short of ``reference``, as a fraction of |reference| (<= 0: as good or better)."""
    gap = (reference - value) if direction == "maximize" else (value - reference)
    return gap / max(abs(reference), 1e-12)


def normalized_regret(value: float, best: float, worst: float, direction: str) -> float:
    """0 = ``best``, 1 = ``worst`` (0 where they are equal)."""
    span = (best - worst) if direction == "maximize" else (worst - best)
    return relative_gap(value, best, direction) * abs(best) / span if span > 0 else 0.0


def bounded_regret(value: float | None, best: float, worst: float, direction: str) -> float:
    """As ``normalized_regret``, with a missing score as the worst (1) and a best score of 0 allowed
    (``normalized_regret`` divides by |best| and multiplies it back: 0 there)."""
    span = abs(best - worst)
    if value is None or not math.isfinite(value):
        return 1.0
    gap = (best - value) if direction == "maximize" else (value - best)
    return float(gap / span) if span > 0 else 0.0


def anytime(values: list[float | None], sign: float) -> list[float]:
    """Best-so-far curve in 'higher is better' units (sign * score); NaN until a trial succeeds."""
    out, top = [], -math.inf
    for v in values:
        if v is not None and math.isfinite(v):
            top = max(top, sign * v)
        out.append(top if top > -math.inf else math.nan)
    return out


def at_budget(curve: list[float], budget: int) -> float:
    """A run's score after ``budget`` trials; a zero-trial method (one point) is flat."""
    if not curve:
        return math.nan
    return curve[min(budget, len(curve)) - 1]


# ---- ranks and tests --------------------------------------------------------------------------

def ranks(means: dict[str, float], sign: float) -> dict[str, float]:
    """Rank 1 = best mean score; ties share the average rank."""
    from scipy.stats import rankdata

    names = list(means)
    values = [-(sign * means[m]) if not math.isnan(means[m]) else math.inf for m in names]
    return dict(zip(names, (float(r) for r in rankdata(values, method="average"))))


def mann_whitney(x: list[float], y: list[float], sign: float, alpha: float = ALPHA) -> tuple[str, float]:
    """('win' | 'tie' | 'loss', p) of scores ``x`` against ``y`` (Mann-Whitney U, two-sided): a win
    needs p < alpha and a better mean, a loss p < alpha and a worse mean."""
    from scipy.stats import mannwhitneyu

    x, y = finite(x), finite(y)
    if not x or not y:
        return "tie", math.nan
    if len(set(x) | set(y)) == 1:
        return "tie", 1.0
    p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    if math.isnan(p) or p >= alpha:
        return "tie", p
    better = sign * (mean(x) - mean(y)) > 0
    return ("win" if better else "loss"), p


def wilcoxon_split(diffs: list[float]) -> tuple[float, float]:
    """(two-sided p, one-sided p that the differences are below 0) of the Wilcoxon signed-rank test,
    zeros split; NaN for both where every difference is 0."""
    from scipy.stats import wilcoxon

    if not any(diffs):
        return math.nan, math.nan
    return (float(wilcoxon(diffs, alternative="two-sided", zero_method="zsplit").pvalue),
            float(wilcoxon(diffs, alternative="less", zero_method="zsplit").pvalue))


def wilcoxon_less(diffs) -> float:
    """One-sided p that the paired differences are below 0 (Wilcoxon signed-rank, zeros dropped);
    1 where every difference is 0."""
    from scipy.stats import wilcoxon

    return wilcoxon(diffs, alternative="less").pvalue if (diffs != 0).any() else 1.0
