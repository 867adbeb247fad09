"""One result of an optimization run, built from its study: the table, ``--out``, the API and
the chat all read this dict, so they number and count trials the same way.

Trial numbers a user reads count from 1 (``shown_number``) everywhere; ``best_params`` uses the
family's own parameter names and ``study_params`` the study's (``family`` plus
``<family>.<name>`` in a search across families), for those who resume a study by hand.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tunegraph.tools.llm.answers import shown_number
from tunegraph.tools.ml.cash import best_per_family, split
from tunegraph.tools.ml.search_space import FAMILY_PARAM
from tunegraph.tools.trials.distributed import counts


def finished_trials(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[FrozenTrial]:
    """Completed, pruned and failed trials (of ``trials``, the study's just read, if given); those
    abandoned by a crash before evaluation do not count."""
    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=finished)
    return [t for t in trials if t.state in finished and counts(t)]


def failure_reasons(finished: list[FrozenTrial], limit: int = 3) -> list[tuple[str, int]]:
    """The most common reasons (user attribute ``error``) the failed trials failed for, with their counts."""
    reasons = Counter(t.user_attrs.get("error") or "no reason recorded" for t in finished if t.state == TrialState.FAIL)
    return reasons.most_common(limit)


def own_params(params: dict[str, Any], family: str) -> tuple[str, dict[str, Any]]:
    """``(family, parameters under the family's own names)`` of a study's configuration."""
    return split(params) if FAMILY_PARAM in params else (family, dict(params))


def run_result(run: Any, state: dict[str, Any], wall_s: float | None = None) -> dict[str, Any]:
    """The result of ``run`` (tools.trials.runs.Run) after its graph ended in ``state``."""
    study = run.study
    every = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    trials = [t for t in every if counts(t)]  # a trial abandoned by a dead worker was re-queued: not counted
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = sum(1 for t in trials if t.state == TrialState.PRUNED)
    direction = run.metric.direction
    best = max(complete, key=lambda t: t.value if direction == "maximize" else -t.value) if complete else None
    family, params = own_params(best.params, run.family.name) if best else (None, None)
    reasons = failure_reasons(trials)
    return {
        "study": study.study_name, "task": run.task.name, "model": run.family.name,
        "metric": run.metric.name, "direction": direction,
        "best_value": best.value if best else None,
        "best_trial": shown_number(best.number) if best else None,
        "best_source": best.user_attrs.get("source") if best else None,
        "best_family": family, "best_params": params,
        "study_params": dict(best.params) if best else None,
        "cv_std": best.user_attrs.get("cv_std") if best else None,
        "best_per_family": {f: {"trial": shown_number(n), "value": v}
                            for f, (n, v) in best_per_family(complete, direction).items()},
        "n_trials": len(trials), "n_failed": len(trials) - len(complete) - pruned, "n_pruned": pruned,
        "n_abandoned": len(every) - len(trials),
        "trials_by_source": dict(Counter(t.user_attrs.get("source", "?") for t in trials)),
        "failure_reasons": [{"reason": reason, "count": count} for reason, count in reasons],
        "llm": state.get("llm") or {}, "llm_model": run.llm.name if run.llm else None,
        "stop_reason": state.get("stop_reason"), "wall_time_s": wall_s,
        "model_path": state.get("model_path"), "model_note": state.get("model_note"),
        "ensemble": state.get("ensemble"), "learned": state.get("learned"), "learn_note": state.get("learn_note"),
        "search_space": state.get("search_space"),
        "trials": [{"number": shown_number(t.number), "value": t.value, "state": t.state.name,
                    "status": t.state.name.lower(), "params": t.params, "source": t.user_attrs.get("source"),
                    "reasoning": t.user_attrs.get("reasoning"),
                    **({"error": t.user_attrs["error"]} if t.user_attrs.get("error") else {})}
                   for t in trials],
    }
