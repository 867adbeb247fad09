"""Optimizer agent (few-shot): who proposes the next trial, and the LLM's proposal itself.

Each step the LLM-TPE sampler's coin picks the LLM (probability p) or TPE. The LLM sees the
summarized history and may narrow or widen the numeric ranges, with a reason. Its answer is
untrusted: parsed, clipped into the space, rejected when it repeats a tried configuration or
cuts the best one out of the space, retried a bounded number of times, then replaced by TPE.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import optuna
from langgraph.runtime import Runtime
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from tunegraph.agents.llm_ask import ask_json, count, new_counts
from tunegraph.context import Context
from tunegraph.prompts import render
from tunegraph.state import OptimizeState
from tunegraph.tools.llm.answers import AnswerError, OptimizerAnswer, describe_space, optimizer_schema
from tunegraph.tools.llm.client import LLMClient
from tunegraph.tools.ml.cash import family_subspace
from tunegraph.tools.ml.search_space import FAMILY_PARAM, CategoricalParam, SearchSpace, SearchSpaceError
from tunegraph.tools.trials.distributed import adopt, claim
from tunegraph.tools.trials.runs import OptimizeRun, run_for
from tunegraph.tools.trials.sampler import Proposal

PROCESS_START = datetime.now()  # Optuna stores naive local times


def choose_proposer(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: pick who proposes the next trial (``pending``, ``queued``, ``llm``, ``tpe``, ``random``)."""
    ctx = runtime.context
    run = run_for(state, ctx)
    if state.get("pending_trial"):
        return {"next_source": "pending"}
    if state.get("worker_id"):  # tag trials at creation, so one cut off by a crash is found again
        run.sampler.trial_user_attrs = {"worker": state["worker_id"]}
    # one read for both questions, the Summarizer's of a moment ago where there is one: a storage
    # round trip per trial is the graph's main overhead
    read = run.stored.take_read()
    if read is None:
        read = run.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    open_trials = [t for t in read if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    orphan = _orphan_trial(run, state.get("worker_id"), SearchSpace.from_dict(state["search_space"]).names(),
                           ctx.trials, [t for t in open_trials if t.state == TrialState.RUNNING])
    if orphan is not None:  # asked by this run just before a crash, never evaluated: adopt it
        return {"next_source": "pending", "pending_trial": orphan}
    if any(t.state == TrialState.WAITING for t in open_trials):
        return {"next_source": "queued"}
    source = run.sampler.choose_source(run.study)
    if source == "llm" and run.llm is None:
        source = "tpe"
    return {"next_source": source}


def sample_propose(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: take a queued trial, or sample one with TPE / random search."""
    ctx = runtime.context
    run = run_for(state, ctx)
    space = SearchSpace.from_dict(state["search_space"])
    source = state.get("next_source")
    source = source if source in ("tpe", "random") else "tpe"
    # a slot of the study's budget first: workers sharing the study never overshoot it
    trial = claim(run.study, ctx.trials, lambda: run.sampler.ask(run.study, space, source))
    if trial is None:  # the budget is spent (with the peers' trials): summarize stops the run
        return {"pending_trial": None}
    return {"pending_trial": _pending(run, trial, state.get("worker_id"))}


def llm_propose(state: OptimizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Graph node: ask the LLM for the next configuration; fall back to TPE when it cannot give one."""
    ctx = runtime.context
    run = run_for(state, ctx)
    start = time.perf_counter()
    space = SearchSpace.from_dict(state["search_space"])
    counts = new_counts()
    tried = [t.params for t in run.study.get_trials(deepcopy=False)]
    best = state.get("best_params")
    # across families the LLM works within the best trial's family: a short prompt, and the
    # family choice stays with TPE (its ranges may change, the family list may not)
    asked = family_subspace(space, best[FAMILY_PARAM]) if space.conditional and best else space
    if run.llm is None:  # choose_proposer routes here only with an LLM; without one, TPE as for a bad answer
        proposal, new_space, why = None, None, "no LLM configured"
    else:
        proposal, new_space, why = propose_with_llm(
            run.llm, run, asked, state.get("history") or "No trials yet.", best, tried, ctx.llm_retries, counts)
    if new_space is not None and asked is not space:
        new_space = SearchSpace({**new_space.params, FAMILY_PARAM: space.params[FAMILY_PARAM]})
    update: dict[str, Any] = {"llm": counts}
    if proposal is not None and new_space is not None and new_space != space:  # a new space comes with a proposal
        update["search_space"] = new_space.to_dict()
        update["space_notes"] = [*(state.get("space_notes") or []), f"space adapted: {proposal.reasoning[:200]}"]
        space = new_space
    if proposal is None:
        counts["fallbacks"] += 1

    def ask() -> optuna.Trial:  # run once a budget slot is ours, so no proposal is left queued past the budget
        if proposal is None:
            trial = run.sampler.ask(run.study, space, "tpe")
            trial.set_user_attr("llm_fallback", why[:300] or True)
            return trial
        run.study.enqueue_trial(proposal.params, user_attrs={"source": "llm", "reasoning": proposal.reasoning[:1000]})
        trial = run.study.ask()
        space.suggest(trial)  # the enqueued values: only the proposed family's parameters in a joint space
        return trial

    trial = claim(run.study, ctx.trials, ask)
    update["pending_trial"] = _pending(run, trial, state.get("worker_id")) if trial is not None else None
    update["elapsed_s"] = time.perf_counter() - start
    return update


@dataclass(frozen=True)
class Problem:
    """What the LLM is told about the search: the model, the task, the metric, the hard limits."""

    family: str  # e.g. "gradient-boosted trees (XGBoost)"
    task: str  # one line about the data, e.g. Task.describe()
    metric: str
    direction: str  # maximize | minimize
    bounds: SearchSpace  # an adapted space stays inside these

    @classmethod
    def of(cls, run: OptimizeRun) -> Problem:
        return cls(run.family.description, run.task.describe(), run.metric.name, run.metric.direction, run.bounds)


def propose_with_llm(llm: LLMClient, problem: Problem | OptimizeRun, space: SearchSpace, history: str,
                     best_params: dict[str, Any] | None, tried: list[dict[str, Any]], retries: int,
                     counts: dict[str, float]) -> tuple[Proposal | None, SearchSpace | None, str]:
    """``(proposal, adapted space or None, why it failed)``; never raises for a bad answer."""
    problem = problem if isinstance(problem, Problem) else Problem.of(problem)
    prompt = render("optimizer", family=problem.family, task=problem.task, metric=problem.metric,
                    direction=problem.direction, space=describe_space(space), history=history,
                    keys=", ".join(f'"{k}": ...' for k in space.names()))

    def accept(data: dict) -> tuple[Proposal, SearchSpace | None]:
        answer = OptimizerAnswer.model_validate(data)
        new_space = adapt_space(space, answer.ranges, problem.bounds, best_params) if answer.ranges else None
        # an unusable range change does not spoil the configuration: it is simply not applied
        config, notes = (new_space or space).clip(answer.config)
        if any(_same(config, t) for t in tried):
            raise AnswerError(f"configuration {json.dumps(config)} was already tried; propose a different one")
        if notes:  # out-of-range or mistyped values were clipped or coerced: used, but counted
            count(counts, "clipped")
        return Proposal(config, answer.reasoning.strip() or "(no reasoning given)"), new_space

    result, why = ask_json(llm, prompt, optimizer_schema(space), accept, retries, counts)
    if result is None:
        return None, None, why
    return result[0], result[1], ""


def adapt_space(space: SearchSpace, ranges: dict[str, list[float]], bounds: SearchSpace,
                best_params: dict[str, Any] | None) -> SearchSpace | None:
    """The space with the LLM's new ranges, kept inside ``bounds``; None when the change is unusable.

    A change that would cut the best configuration so far out of the space is refused (None):
    the LLM may focus the search, not lose what was found.
    """
    data = space.to_dict()
    for name, pair in ranges.items():
        param = space.params.get(name)
        if param is None or isinstance(param, CategoricalParam) or len(pair) != 2:
            continue
        low, high = sorted(float(v) for v in pair)
        if not (math.isfinite(low) and math.isfinite(high)):  # JSON allows 1e999: an unusable range
            continue
        if param.type == "int":
            low, high = int(round(low)), int(round(high))
        if param.log and low <= 0:
            continue
        data[name] = {**data[name], "low": low, "high": high}
    try:
        candidate, _ = SearchSpace.from_dict(data).merge_within(bounds)
    except SearchSpaceError:
        return None
    if best_params and not candidate.contains(best_params):
        return None
    return candidate


def make_proposer(llm: LLMClient, run: OptimizeRun, retries: int = 1):
    """A proposer for :class:`LLMTPESampler` in a plain Optuna study of ``run``'s task."""
    return _proposer(llm, lambda study, space: Problem.of(run), run.metric.name, retries)


def llm_proposer(task: str, llm: Any, *, metric: str = "the objective", model: str = "the model",
                 retries: int = 1):
    """A proposer for :class:`~tunegraph.tools.trials.sampler.LLMTPESampler` in any Optuna study.

    Args:
        task: what is optimized, in words (the data, the model, anything the LLM should know).
        llm: a LangChain chat model, or a spec string (``ollama:qwen2.5:1.5b``, ``embedded``).
        metric, model: how the prompt names the objective and the thing being tuned.

    Example:
        >>> proposer = llm_proposer("a gradient-boosted model on 5,000 rows of tabular data", "embedded")  # doctest: +SKIP
        >>> study = optuna.create_study(sampler=LLMTPESampler(proposer=proposer, seed=0))           # doctest: +SKIP
    """
    from tunegraph.tools.llm.client import as_client

    client = as_client(llm)
    one_line = " ".join(str(task).split())[:500]  # a prompt field: one line, length-capped
    return _proposer(client, lambda study, space: Problem(model, one_line, metric, study.direction.name.lower(), space),
                     metric, retries)


def _proposer(llm: LLMClient, problem_of, metric: str, retries: int):
    from tunegraph.agents.summarizer import finished_trials, history_text

    def proposer(study: optuna.Study, trial, distributions) -> Proposal | None:
        space = SearchSpace.from_optuna(distributions)
        finished = finished_trials(study)
        best = study.best_trial.params if any(t.state == TrialState.COMPLETE for t in finished) else None
        proposal, _, _ = propose_with_llm(llm, problem_of(study, space), space,
                                          history_text(finished, study.direction, metric), best,
                                          [t.params for t in study.get_trials(deepcopy=False)], retries, new_counts())
        return proposal

    return proposer


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) or isinstance(other, float):
            try:
                if abs(float(value) - float(other)) > 1e-9 * max(1.0, abs(float(value))):
                    return False
            except (TypeError, ValueError):
                return False
        elif value != other:
            return False
    return True


def _pending(run: OptimizeRun, trial: optuna.Trial, worker_id: str | None) -> dict[str, Any]:
    """The trial just asked, for the Evaluator: read from the trial and the sampler, not the storage."""
    if worker_id and run.sampler.trial_user_attrs.get("worker") != worker_id:  # else tagged at creation
        trial.set_user_attr("worker", worker_id)
    run.stored.asked[trial.number] = trial
    return {"number": int(trial.number), "params": _plain(trial.params), "source": run.sampler.source_of(trial)}


def _orphan_trial(run: OptimizeRun, worker_id: str | None, names: list[str], budget: int,
                  running: list[FrozenTrial]) -> dict[str, Any] | None:
    """A trial this run asked for but never evaluated (the process died in between).

    Ours are tagged with our worker id; an untagged one was cut off even before the tag and
    counts as ours when it started before this process (no live peer can be that old and
    untagged). One with all its parameters is adopted if it holds a budget slot or one is free;
    any other is marked failed and 'abandoned', which keeps it out of the budget and the history.
    """
    for trial in running:  # the study's running trials
        worker = trial.user_attrs.get("worker")
        untagged_and_old = worker is None and trial.datetime_start is not None and trial.datetime_start < PROCESS_START
        if not worker_id or not (worker == worker_id or untagged_and_old):
            continue
        if all(name in trial.params for name in names) and adopt(run.study, budget, trial):
            return {"number": int(trial.number), "params": _plain(trial.params),
                    "source": trial.user_attrs.get("source", "tpe")}
        with contextlib.suppress(UpdateFinishedTrialError):  # a peer may have found it stale first
            run.stored.set_trial_user_attr(trial.number, "abandoned", True)
            run.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    return None


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """NumPy scalars break checkpoints: store plain Python numbers."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
