"""State schemas of the optimize graph. Values are plain Python types so checkpoints serialize."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict  # pydantic (Studio's schema endpoints) refuses typing.TypedDict on 3.11


def add_counts(old: dict[str, float] | None, new: dict[str, float] | None) -> dict[str, float]:
    """Reducer: sum counters key by key (LLM calls, fallbacks, seconds)."""
    out = dict(old or {})
    for key, value in (new or {}).items():
        out[key] = out.get(key, 0) + value
    return out


class OptimizeInput(TypedDict, total=False):
    """What the user asks for: the data, the model family and the metric."""

    dataset: str  # a built-in data set (breast_cancer, wine, iris, digits, diabetes)
    data_path: str  # or a CSV / Parquet file ...
    target: str  # ... with its target column
    encoding: str  # the CSV file's text encoding, e.g. cp1252 (default: UTF-8, else detected)
    task_type: str  # classification | regression (inferred when absent)
    model: str  # model family, e.g. xgboost
    metric: str  # e.g. roc_auc, rmse (a default per task when absent)
    study_name: str  # the Optuna study; also the name a run resumes by
    # configurations to try first, source 'meta': [{"params", "reasoning"}], e.g. the recommendation
    # the chat just showed, so the run starts from what the user was told (see Context.warm_start)
    warm_configs: list[dict[str, Any]]
    # data sets the portfolio must not learn from (leave-one-dataset-out benchmarks): their matrix
    # columns and their own best configurations are left out
    exclude_tasks: list[str]


class OptimizeState(OptimizeInput, total=False):
    worker_id: str  # tags this run's trials, so one asked just before a crash is adopted on resume
    task_summary: str
    direction: str
    search_space: dict[str, Any]  # current space (SearchSpace.to_dict()); the LLM may adapt it
    space_notes: list[str]  # why the space changed
    next_source: str  # who proposes the next trial: llm, tpe, random, queued
    pending_trial: dict[str, Any] | None  # {"number", "params", "source"} asked but not yet told
    n_done: int
    n_failed: int
    best_value: float | None
    best_params: dict[str, Any] | None
    best_number: int | None
    since_improvement: int
    history: str  # the summarizer's compact history, quoted in the optimizer's prompt
    last_result: dict[str, Any] | None  # the latest evaluation, for progress displays
    warm_start_notes: list[str]  # what the recommend graph contributed, or why it could not
    learned: int  # experiments added to the user's meta-dataset layer at the end
    learn_note: str  # whether (and why not) the run joined the layer
    model_path: str | None  # the saved, fitted model (agents/modeler.py), None when none was saved
    model_note: str  # what was saved, or why nothing was
    ensemble: dict[str, Any] | None  # the post-hoc ensemble: status, scores, members, held-out check
    stop_reason: str | None
    elapsed_s: Annotated[float, operator.add]
    llm: Annotated[dict[str, float], add_counts]  # calls, failures, fallbacks, latency_s, tokens


class RecommendInput(TypedDict, total=False):
    """What the user asks for: the data, and optional constraints."""

    dataset: str
    data_path: str
    target: str
    encoding: str  # the CSV file's text encoding (default: UTF-8, else detected)
    task_type: str
    metric: str
    families: list[str]  # allowed model families (all that fit the task when absent)
    time_budget_s: float  # per-fit time budget (0: none)
    evaluate: bool  # cross-validate the recommendation afterwards
    exclude_tasks: list[str]  # leave these past tasks out of the evidence (leave-one-dataset-out)


class RecommendState(RecommendInput, total=False):
    task_summary: str
    evidence: dict[str, Any]  # similar tasks, ranked candidates with SHAP sentences
    known_tasks: list[str]  # every task of the meta-dataset, to catch invented citations
    recommendation: dict[str, Any]  # the latest answer
    judgement: dict[str, Any]  # the judge's scores, checks and critique of it
    attempts: list[dict[str, Any]]  # every (recommendation, judgement) so far
    round: int
    final: dict[str, Any]  # the best-scored recommendation with its judgement
    evaluation: dict[str, Any] | None  # real cross-validation of the final recommendation
    elapsed_s: Annotated[float, operator.add]
    llm: Annotated[dict[str, float], add_counts]


class ChatInput(TypedDict):
    """A chat turn: the new message(s)."""

    messages: Annotated[list[AnyMessage], add_messages]


class ChatState(ChatInput, total=False):
    request: dict[str, Any]  # this turn's request (agents.chat_intent.ChatRequest)
    handled_by: str  # command | rules | llm: who read this turn
    job: dict[str, Any] | None  # the optimization about to run: inputs, budget, estimate
    # this conversation's optimizations (study, data, model); the storage URL stays in the run
    # context, so a password in it never reaches the checkpoint file
    runs: list[dict[str, Any]]
    recommendation: dict[str, Any] | None  # the latest recommendation with its evidence
    latest: str  # run | recommendation: what "why?" refers to when no parameter is named
    # what the conversation is about (agents.chat_context): the data (name or file, target, task
    # type), the model family and the last budget, so "tune it" and "try knn instead" need no names
    subject: dict[str, Any] | None
    llm: Annotated[dict[str, float], add_counts]
