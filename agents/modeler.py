"""Modeler agent: the run's last step refits the winner on every row, inside one object that holds
the exact column preparation and preprocessing its cross-validation used, and saves it. The winner
is the best trial, or the post-hoc ensemble of the trials (Caruana et al. 2004) when the rule of
``--ensemble auto`` says it is better on rows its selection did not see.

A run's trials are its record; the model is what a user takes away. A refit that fails (out of
memory, a model that fits folds but not all rows) is said in the result and never loses the study.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime
from optuna.trial import TrialState

from tunegraph.context import Context
from tunegraph.errors import TuneGraphError
from tunegraph.state import OptimizeState
from tunegraph.tools.ml.ensemble import (
    OOF_MEMORY_CAP,
    EnsembleModel,
    held_out_check,
    oof_bytes,
    oof_fits,
    oof_score,
    select_ensemble,
)
from tunegraph.tools.ml.fitted import Predictor, fit_model
from tunegraph.tools.trials import oof_store
from tunegraph.tools.trials.results import own_params
from tunegraph.tools.trials.runs import DATA_DIR, run_for

MODEL_SUFFIX = ".tgm"  # a zip: tunegraph.json (what and how, readable) and model.joblib
MAX_CANDIDATES = 50  # the best trials by CV score that the ensemble selection considers


def default_model_path(study_name: str) -> Path:
    """``.tunegraph/models/<study>.tgm``, beside the studies of the run's folder."""
    return DATA_DIR / "models" / f"{study_name}{MODEL_SUFFIX}"


def save_model(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: refit the best trial's configuration (or the post-hoc ensemble, ``Context.ensemble``)
    on all rows and save it (``Context.save_model``)."""
    ctx = runtime.context
    if not ctx.save_model:
        return {"model_path": None, "model_note": "not saved (--no-model)", "ensemble": None}
    run = run_for(state, ctx)
    complete = run.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return {"model_path": None, "model_note": "no model: no trial succeeded", "ensemble": None}
    best = run.study.best_trial
    try:
        ensemble = plan_ensemble(run, ctx, complete, best)
    except (TuneGraphError, ValueError) as exc:  # e.g. a metric undefined on a half: the single best is the model
        ensemble = {"status": "skipped", "note": f"skipped: {exc}"}
    path = Path(ctx.model_path).expanduser() if ctx.model_path else default_model_path(run.study.study_name)
    metric, name = run.metric.name, run.study.study_name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model: Predictor
            if ensemble.get("status") == "saved":
                _say(f"refitting the ensemble's {len(ensemble['members'])} trials on all {len(run.task.y):,} rows")
                members = [fit_model(run.task, m["family"], m["params"], seed=ctx.seed, metric=metric,
                                     cv_score=m["value"], study_name=name) for m in ensemble["members"]]
                model = EnsembleModel(members, [m["weight"] for m in ensemble["members"]], metric=metric,
                                      score=ensemble["score"], study_name=name)
                note = (f"an ensemble of {len(members)} trials (" + ", ".join(
                    f"{m['family']} of trial {m['trial']} x{m['weight']:.2f}" for m in ensemble["members"])
                    + "), each refit on all rows")
            else:
                family, params = own_params(best.params, run.family.name)
                _say(f"refitting {family} on all {len(run.task.y):,} rows")
                model = fit_model(run.task, family, params, seed=ctx.seed, metric=metric, cv_score=best.value,
                                  study_name=name)
                note = f"{family} of trial {best.number + 1}, refit on all rows"
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    # a model's own errors on all rows (ValueError and kin) end here too: the study stays, the result says why
    except (TuneGraphError, OSError, MemoryError, ValueError) as exc:
        return {"model_path": None, "model_note": f"no model: the refit of trial {best.number + 1} failed: {exc}",
                "ensemble": ensemble}
    return {"model_path": str(path.resolve()), "model_note": note, "ensemble": ensemble}


def plan_ensemble(run, ctx: Context, complete: list, best) -> dict[str, Any]:
    """Caruana's selection over the kept out-of-fold predictions, and whether the model is the ensemble:
    ``on`` always; ``auto`` when it beats the best single trial on rows it was not selected on
    (tools.ml.ensemble.held_out_check), with more than one member."""
    if ctx.ensemble == "off":
        return {"status": "off", "note": "off (--ensemble off)"}
    ranked = sorted(complete, key=lambda t: t.value, reverse=run.metric.direction == "maximize")[:MAX_CANDIDATES]
    kept = oof_store.load(run.study.study_name, [t.number for t in ranked])
    classes = run.task.n_classes if run.task.task_type == "classification" else 1
    if not oof_fits(len(run.task.y), classes, ctx.trials):
        return {"status": "skipped", "note": f"skipped: the trials' out-of-fold predictions would take "
                f"{oof_bytes(len(run.task.y), classes, ctx.trials) / 2**20:.0f} MB, over the "
                f"{OOF_MEMORY_CAP // 2**20} MB cap"}
    trials = [t for t in ranked if t.number in kept]
    if len(trials) < 2:
        return {"status": "skipped", "note": f"skipped: {len(trials)} trial(s) kept out-of-fold predictions, "
                "an ensemble needs two"}
    preds = [kept[t.number] for t in trials]
    y, metric = run.task.y, run.metric.name
    chosen = select_ensemble(preds, y, metric)
    check = held_out_check(preds, y, metric, seed=ctx.seed)
    single = oof_score(metric, y, kept[best.number]) if best.number in kept else chosen.best_single
    auto = check.wins and len(chosen.members) > 1  # the rule, fixed before any measurement
    use = ctx.ensemble == "on" or auto
    members = []
    for index, weight in zip(chosen.members, chosen.weights):
        family, params = own_params(trials[index].params, run.family.name)
        members.append({"trial": trials[index].number + 1, "family": family, "params": params,
                        "weight": float(weight), "value": float(trials[index].value)})
    why = ("--ensemble on" if ctx.ensemble == "on" else
           "it beat the best single trial on both halves of the rows it was not selected on" if use else
           "one member: the best single trial" if len(chosen.members) == 1 else
           "not better than the best single trial on rows it was not selected on")
    return {"status": "saved" if use else "not used", "note": why, "auto": bool(auto), "score": float(chosen.score),
            "best_single": float(single), "n_candidates": len(trials), "members": members,
            "held_out": {"ensemble": [float(v) for v in check.ensemble], "single": [float(v) for v in check.single]}}


def _say(detail: str) -> None:
    try:
        get_stream_writer()({"event": "step", "node": "save_model", "detail": detail})
    except RuntimeError:  # called outside a graph run
        pass
