"""The catalogue of the methods ``compare.py`` runs and its report compares: names, labels, how each
runs, and which run once per trial budget. How they run: ``optuna_loops`` and ``graph_runs``."""

from __future__ import annotations

from dataclasses import dataclass

# TPE draws its 10 start-up trials with a RandomSampler of its own seed: random search gets another
# seed, or its first 10 trials would be TPE's, and the two runs the same sample up to budget 10
RANDOM_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class GraphMethod:
    """How a TuneGraph method runs the optimize graph (its portfolio is on for ``PER_BUDGET`` methods,
    its warm start for ``WARM``)."""

    sampler: str  # tpe | llm_tpe
    uses_llm: bool = False  # the run's --llm; otherwise 'none'
    across: bool = False  # model 'auto' (the search across families); otherwise --family
    adaptive: bool = False  # llm_tpe's adaptive LLM share; otherwise last round's fixed coin of p_llm
    space_box: bool = False  # Context.space_box: TPE in the box of past tasks' best configurations


PLAIN_METHODS = {"optuna_tpe": ("tpe", False), "optuna_random": ("random", False),
                 "optuna_tpe_cash": ("tpe", True), "optuna_random_cash": ("random", True)}  # sampler, across
GRAPH_METHODS = {
    "tunegraph_tpe": GraphMethod("tpe"),
    "tunegraph_llm_tpe": GraphMethod("llm_tpe", uses_llm=True),
    "tunegraph_llm_tpe_warm": GraphMethod("llm_tpe", uses_llm=True),
    "tunegraph_tpe_warm": GraphMethod("tpe", uses_llm=True),
    "tunegraph_default": GraphMethod("tpe", across=True),
    "tunegraph_portfolio_xgb": GraphMethod("tpe"),
    "tunegraph_llm_tpe_adaptive": GraphMethod("llm_tpe", uses_llm=True, across=True, adaptive=True),
    "tunegraph_box": GraphMethod("tpe", across=True, space_box=True),
}
COMPARE_METHODS = ("optuna_tpe", "optuna_random", "tunegraph_tpe", "tunegraph_llm_tpe", "tunegraph_llm_tpe_warm",
                   "tunegraph_tpe_warm", "recommender")
PORTFOLIO_METHODS = ("optuna_tpe", "optuna_tpe_cash", "optuna_random_cash", "tunegraph_default",
                     "tunegraph_portfolio_xgb", "tunegraph_tpe_warm", "tunegraph_llm_tpe_adaptive", "tunegraph_box")
METHODS = (*COMPARE_METHODS, *(m for m in PORTFOLIO_METHODS if m not in COMPARE_METHODS))

LABELS = {
    "optuna_tpe": "Optuna TPE",
    "optuna_tpe_cash": "Optuna TPE, across families",
    "optuna_random": "Optuna random",
    "optuna_random_cash": "Optuna random, across families",
    "tunegraph_default": "TuneGraph portfolio + TPE across families, full space (the default until 2 Dec 2026)",
    "tunegraph_portfolio_xgb": "TuneGraph portfolio + TPE, one family",
    "tunegraph_tpe": "TuneGraph TPE, no LLM (ablation)",
    "tunegraph_llm_tpe": "TuneGraph llm_tpe",
    "tunegraph_llm_tpe_warm": "TuneGraph llm_tpe + warm start",
    "tunegraph_tpe_warm": "TuneGraph TPE + warm start",
    "tunegraph_llm_tpe_adaptive": "TuneGraph llm_tpe, adaptive share, portfolio, across families",
    "tunegraph_box": "TuneGraph default (portfolio + TPE across families in the box of past tasks' best "
                     "configurations, no LLM)",
    "recommender": "recommender alone (0 trials)",
}
ANCHOR = "optuna_tpe"
ANCHORS = ("optuna_tpe", "optuna_tpe_cash")  # each one present in a report is tested against
SHORT = {"optuna_tpe": "TPE", "optuna_tpe_cash": "TPE across families"}
WARM = ("tunegraph_llm_tpe_warm", "tunegraph_tpe_warm")  # the targets are about warm-started TuneGraph
NEEDS_RECOMMENDATION = (*WARM, "recommender")  # computed once per data set, before their runs
# the portfolio's size depends on the trial budget (K = min(8, B // 2)): one run per budget, not an anytime curve
PER_BUDGET = ("tunegraph_default", "tunegraph_portfolio_xgb", "tunegraph_llm_tpe_adaptive", "tunegraph_box")
SUBSET = ("tunegraph_llm_tpe_adaptive",)  # run on fewer data sets: reported in a section of their own
HEADLINE = "tunegraph_box"  # the product's default since 2 Dec 2026 (Context.space_box): the suite's claim
FULL_SPACE = "tunegraph_default"  # the portfolio search in the full space, the default until then
# settings tried on top of the portfolio search: each is kept only if it beats it (issue 15)
VARIANTS = ("tunegraph_box", "tunegraph_llm_tpe_adaptive")


def uses_matrix(method: str) -> bool:
    """Whether ``method`` starts from the configuration matrix's portfolio."""
    return method in PER_BUDGET


def serving_budget(method: str, budget: int, budgets: list[int]) -> int:
    """The run (by its budget; 0 = the one run of max(budgets) trials) whose anytime curve gives
    ``method``'s score at ``budget``. A portfolio method has a run per budget, except budget 1:
    the first trial of its smallest run (K is 1 at budget 1, and the greedy portfolio's first
    member does not depend on K)."""
    if method not in PER_BUDGET:
        return 0
    if budget == 1:
        larger = [b for b in budgets if b > 1]
        return min(larger) if larger else 1
    return budget


def run_budgets(method: str, budgets: list[int]) -> list[int]:
    """The runs ``method`` needs per (data set, seed): [0] (one anytime run), or one per budget."""
    return sorted({serving_budget(method, b, budgets) for b in budgets})
