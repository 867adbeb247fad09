"""Evaluator agent: cross-validates the pending trial and tells the study the result.

Idempotent, so a run that was killed mid-evaluation re-evaluates the same trial on resume,
and a trial that was already told is not evaluated or counted twice.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
from langgraph.runtime import Runtime
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from tunegraph.context import Context
from tunegraph.state import OptimizeState, RecommendState
from tunegraph.tools.ml.ensemble import oof_fits
from tunegraph.tools.trials import oof_store
from tunegraph.tools.trials.distributed import heartbeats
from tunegraph.tools.trials.evaluation import cross_validate_config
from tunegraph.tools.trials.runs import run_for


def evaluate(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: evaluate ``state["pending_trial"]`` and record it in the study."""
    ctx = runtime.context
    run = run_for(state, ctx)
    pending = state.get("pending_trial")
    if not pending:
        return {}
    start = time.perf_counter()
    stored, number = run.stored, pending["number"]
    trial_id = stored.trial_id(number)
    # asked by this process a moment ago (the Optimizer's node), so not told yet; a peer may still
    # have reclaimed it, which _record finds out
    live = stored.asked.pop(number, None)
    heartbeats.hold(run.study, trial_id)  # already beating, unless resumed from a checkpoint after a crash
    try:
        if live is None:  # resumed from a checkpoint: it may have been told before a crash
            trial = stored.trial(number)
            if trial.state.is_finished():  # nothing to redo
                return {"pending_trial": None, "last_result": _result_of(trial)}
        result = cross_validate_config(run.task, run.family.name, pending["params"], run.metric.name,
                                       folds=ctx.splits or ctx.folds, seed=ctx.seed, time_limit=ctx.trial_timeout or None,
                                       isolate=bool(ctx.trial_timeout), on_fold=_pruning(run, trial_id, live),
                                       keep_oof=keeps_oof(run, ctx))
        if result.ok and result.oof is not None:  # before the tell: a told trial always has its predictions
            oof_store.save(run.study.study_name, pending["number"], result.oof)
        try:
            _record(run, number, result)
        except (UpdateFinishedTrialError, ValueError):
            if not stored.trial(number).state.is_finished():
                raise
            # a peer took this trial for dead (missed heartbeats) and queued its configuration again
            return {"pending_trial": None, "elapsed_s": time.perf_counter() - start,
                    "last_result": {"number": pending["number"], "source": pending.get("source"),
                                    "status": "reclaimed", "value": None, "error": None}}
    finally:
        heartbeats.release(trial_id)
    return {"pending_trial": None, "elapsed_s": time.perf_counter() - start,
            "last_result": {"number": pending["number"], "source": pending.get("source"), "status": result.status,
                            "value": result.mean, "error": result.error}}


def keeps_oof(run, ctx: Context) -> bool:
    """Whether trials keep their out-of-fold predictions: for a post-hoc ensemble, when they fit the cap."""
    if ctx.ensemble == "off" or not ctx.save_model:
        return False
    classes = run.task.n_classes if run.task.task_type == "classification" else 1
    return oof_fits(len(run.task.y), classes, ctx.trials)


def _record(run, number: int, result) -> None:
    for key, value in {"status": result.status, "cv_std": result.std, "fit_time_s": round(result.fit_time, 4),
                       "cv_wall_s": round(result.wall_time, 4), "fold_scores": result.fold_scores,
                       "error": result.error}.items():
        if value is not None:
            run.stored.set_trial_user_attr(number, key, value)
    if result.ok:
        run.study.tell(number, result.mean)
    elif result.status == "pruned":
        run.study.tell(number, state=TrialState.PRUNED)
    else:
        run.study.tell(number, state=TrialState.FAIL)


def _pruning(run, trial_id: int, live: optuna.Trial | None = None):
    """Each fold's running mean reported as the trial's intermediate value; the study's pruner decides
    (Optuna's MedianPruner or SuccessiveHalvingPruner; none unless the run asked for one)."""
    if isinstance(run.study.pruner, optuna.pruners.NopPruner):
        return None
    trial = live if live is not None else optuna.trial.Trial(run.study, trial_id)

    def on_fold(fold: int, running_mean: float) -> bool:
        trial.report(running_mean, fold)
        return trial.should_prune()

    return on_fold


def _result_of(trial) -> dict[str, Any]:
    status = {TrialState.COMPLETE: "ok", TrialState.PRUNED: "pruned"}.get(trial.state, "failed")
    return {"number": trial.number, "source": trial.user_attrs.get("source"), "status": status,
            "value": trial.value, "error": trial.user_attrs.get("error")}


def evaluate_recommendation(state: RecommendState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: cross-validate the final recommendation, so its real score stands beside the prediction."""
    from tunegraph.agents.retriever import load_user_task

    ctx = runtime.context
    start = time.perf_counter()
    final = state["final"]
    task = load_user_task(state)
    result = cross_validate_config(task, final["family"], final["params"], state.get("metric"), folds=ctx.folds,
                                   seed=ctx.seed, time_limit=ctx.trial_timeout or None)
    return {"evaluation": {"metric": state.get("metric"), **result.to_dict()}, "elapsed_s": time.perf_counter() - start}
