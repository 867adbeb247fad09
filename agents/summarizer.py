"""History summarizer: the study so far as a short text for the optimizer's prompt, and the stop rules.

The summary is built from the study (the source of truth), not from a growing chat log, and
is cut to a character budget, so the prompt stays inside a small model's context however
many trials have run: the best few configurations, the latest few, and counts.
"""

from __future__ import annotations

from typing import Any

import optuna
from langgraph.runtime import Runtime
from optuna.trial import FrozenTrial, TrialState

from tunegraph.context import Context
from tunegraph.prompts import render
from tunegraph.state import OptimizeState
from tunegraph.tools.llm.answers import format_config, format_value, shown_number
from tunegraph.tools.trials.results import failure_reasons, finished_trials
from tunegraph.tools.trials.runs import run_for

HISTORY_CHARS = 1800  # ~450 tokens: leaves room for the task, the space and the answer in 2k tokens


def summarize(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: refresh best/history from the study and decide whether to stop."""
    ctx = runtime.context
    run = run_for(state, ctx)
    trials = run.study.get_trials(deepcopy=False)
    run.stored.keep_read(trials)  # the Optimizer's next node needs the running and queued ones
    finished = finished_trials(run.study, trials)
    update = progress(finished, run.study.direction)
    update["history"] = history_text(finished, run.study.direction, run.metric.name)
    reasons = failure_reasons(finished, limit=1)
    update["stop_reason"] = stop_reason(update["n_done"], update["since_improvement"],
                                        float(state.get("elapsed_s") or 0.0), ctx, n_failed=update["n_failed"],
                                        top_failure=reasons[0] if reasons else None)
    return update


def progress(finished: list[FrozenTrial], direction) -> dict[str, Any]:
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    best = _best(complete, direction)
    since = sum(1 for t in finished if best is None or t.number > best.number)
    return {
        "n_done": len(finished), "n_failed": sum(1 for t in finished if t.state == TrialState.FAIL),
        "n_pruned": sum(1 for t in finished if t.state == TrialState.PRUNED),
        "best_value": _value(best) if best else None,
        "best_params": dict(best.params) if best else None,
        "best_number": int(best.number) if best else None,
        "since_improvement": int(since),
    }


def stop_reason(n_done: int, since_improvement: int, elapsed_s: float, ctx, n_failed: int = 0,
                top_failure: tuple[str, int] | None = None) -> str | None:
    """Why the run stops now, or None to go on.

    When the first ``ctx.fail_fast`` trials have all failed, the run stops before the budget:
    a model that cannot fit the data (a bad column, a class it refuses) fails every trial the
    same way, and spending the whole budget to learn that again hides the reason behind time.
    """
    if ctx.fail_fast and n_done >= ctx.fail_fast and n_failed == n_done:
        reason, count = top_failure or ("no reason recorded", n_failed)
        return (f"stopped early: all of the first {n_done} trials failed (fail-fast {ctx.fail_fast}); "
                f"most common reason ({count} of {n_done}): {reason}")
    if n_done >= ctx.trials:
        return f"trial budget of {ctx.trials} reached"
    if ctx.time_budget and elapsed_s >= ctx.time_budget:
        return f"time budget of {ctx.time_budget:g} s reached"
    if ctx.patience and since_improvement >= ctx.patience:
        return f"early stopping: no improvement in {since_improvement} trials (patience {ctx.patience})"
    return None


def history_text(finished: list[FrozenTrial], direction, metric: str, max_chars: int = HISTORY_CHARS) -> str:
    """The optimizer's state for its prompt: counts, the best value, the top five trials best first
    (value and configuration), the latest trials not among them, and the trials since the last improvement.

    Cut to ``max_chars``: the latest trials go first, then the lower-ranked ones; the best stays.

    Example:
        >>> history_text([], "maximize", "roc_auc")
        'No trials yet.'
    """
    if not finished:
        return "No trials yet."
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    best = _best(complete, direction)
    ranked = _ranked(complete, direction)
    for n_top, n_recent in ((5, 3), (5, 2), (5, 1), (4, 1), (3, 1), (2, 1), (1, 1), (1, 0)):
        top = ranked[:n_top]
        shown = {t.number for t in top}
        recent = [t for t in finished[-n_recent:] if t.number not in shown] if n_recent else []
        text = render(
            "summarizer", n_done=len(finished), n_failed=len(finished) - len(complete), metric=metric,
            best_value=format_value(_value(best)) if best else "none",
            best_number=shown_number(best.number) if best else "-",
            top="\n".join(_line(t) for t in top) or "(none)",
            recent="\n".join(_line(t) for t in recent) or ("(among the best above)" if n_recent else "(omitted)"),
            since_improvement=sum(1 for t in finished if best is None or t.number > best.number),
        ).strip()
        if len(text) <= max_chars:
            return text
    return text[:max_chars]


def _line(trial: FrozenTrial) -> str:
    source = trial.user_attrs.get("source", "?")
    result = format_value(_value(trial)) if trial.state == TrialState.COMPLETE else "failed"
    # numbered as the user reads them: the LLM's reasoning, quoted in explanations, cites these numbers
    return f"- trial {shown_number(trial.number)} ({source}): {result} with {format_config(trial.params)}"


def _ranked(complete: list[FrozenTrial], direction) -> list[FrozenTrial]:
    return sorted(complete, key=_value, reverse=direction == optuna.study.StudyDirection.MAXIMIZE)


def _best(complete: list[FrozenTrial], direction) -> FrozenTrial | None:
    ranked = _ranked(complete, direction)
    return ranked[0] if ranked else None


def _value(trial: FrozenTrial) -> float:
    """A complete trial's value: Optuna types ``value`` Optional, a COMPLETE trial always has one."""
    if trial.value is None:
        raise ValueError(f"trial {trial.number} has no value")
    return float(trial.value)
