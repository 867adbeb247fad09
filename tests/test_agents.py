"""Agents alone: the summarizer's budget, the optimizer as a proposer for plain Optuna studies."""

from __future__ import annotations

import json

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from tests.helpers import scripted_llm
from tunegraph.agents.llm_ask import new_counts
from tunegraph.agents.optimizer import adapt_space, make_proposer, propose_with_llm
from tunegraph.agents.summarizer import HISTORY_CHARS, history_text, stop_reason
from tunegraph.context import Context
from tunegraph.tools.ml.search_space import SearchSpace
from tunegraph.tools.trials import runs
from tunegraph.tools.trials.evaluation import cross_validate_config
from tunegraph.tools.trials.sampler import LLMTPESampler


def many_trials(n: int) -> list:
    dists = {"n_estimators": IntDistribution(50, 1000, log=True), "learning_rate": FloatDistribution(0.005, 0.5, log=True)}
    return [create_trial(params={"n_estimators": 50 + i, "learning_rate": 0.01 + i / 10_000}, distributions=dists,
                         value=0.9 + (i % 97) / 1000, user_attrs={"source": "tpe"}) for i in range(n)]


def test_history_stays_within_budget_however_many_trials():
    for n in (1, 10, 500):
        text = history_text(many_trials(n), optuna.study.StudyDirection.MAXIMIZE, "roc_auc")
        assert len(text) <= HISTORY_CHARS
        assert f"{n} trials done" in text
    best = history_text(many_trials(500), optuna.study.StudyDirection.MAXIMIZE, "roc_auc")
    assert "0.996" in best  # 0.9 + 96/1000, the best value, is always quoted


def test_history_numbers_trials_as_the_user_reads_them():
    """From 1, like the chat's lines: an LLM's reasoning that cites a trial names the one the user sees."""
    study = optuna.create_study(direction="maximize")
    for trial in many_trials(3):
        study.add_trial(trial)
    text = history_text(study.trials, study.direction, "roc_auc")
    assert "(trial 3)" in text and "- trial 1 (tpe)" in text and "- trial 0 " not in text


def test_stop_rules():
    ctx = Context(trials=10, patience=3, time_budget=60)
    assert stop_reason(10, 0, 0.0, ctx).startswith("trial budget")
    assert stop_reason(5, 3, 0.0, ctx).startswith("early stopping")
    assert stop_reason(5, 0, 61.0, ctx).startswith("time budget")
    assert stop_reason(5, 2, 10.0, ctx) is None
    assert stop_reason(5, 99, 10.0, Context(trials=10)) is None  # patience 0 = off


def test_fail_fast_stops_when_the_first_trials_all_failed():
    ctx = Context(trials=10, fail_fast=3)
    why = stop_reason(3, 3, 0.0, ctx, n_failed=3, top_failure=("ValueError: bad labels", 3))
    assert why == ("stopped early: all of the first 3 trials failed (fail-fast 3); most common reason (3 of 3): "
                   "ValueError: bad labels")
    assert stop_reason(2, 2, 0.0, ctx, n_failed=2) is None  # not yet 3
    assert stop_reason(4, 0, 0.0, ctx, n_failed=3) is None  # one succeeded
    assert stop_reason(3, 3, 0.0, Context(trials=10, fail_fast=0), n_failed=3) is None  # off
    assert stop_reason(3, 3, 0.0, Context(trials=3), n_failed=3).startswith("stopped early")  # before the budget


def test_adapt_space_stays_inside_the_family_bounds():
    bounds = SearchSpace.from_dict({"k": {"type": "int", "low": 1, "high": 50},
                                    "w": {"type": "categorical", "choices": ["a", "b"]}})
    wider = adapt_space(bounds, {"k": [0, 500], "w": [1, 2]}, bounds, {"k": 5, "w": "a"})
    assert wider.params["k"].low == 1 and wider.params["k"].high == 50
    narrower = adapt_space(bounds, {"k": [10, 3]}, bounds, {"k": 5, "w": "a"})
    assert (narrower.params["k"].low, narrower.params["k"].high) == (3, 10)
    assert adapt_space(bounds, {"k": [20, 30]}, bounds, {"k": 5, "w": "a"}) is None  # would drop the best
    # JSON's 1e999 is infinity: seen from the embedded model in the compare benchmark, it crashed the run
    same = adapt_space(bounds, {"k": [1, float("inf")]}, bounds, {"k": 5, "w": "a"})
    assert (same.params["k"].low, same.params["k"].high) == (1, 50)


def test_optimizer_answer_with_an_infinite_range_is_used_without_the_range():
    run = runs.open_run({"dataset": "iris", "model": "knn", "study_name": "inf"}, storage="sqlite:///:memory:")
    llm = scripted_llm('{"config": {"n_neighbors": 7, "weights": "uniform", "p": 2}, "reasoning": "r", '
                       '"ranges": {"n_neighbors": [1, 1e999]}}')
    counts = new_counts()
    proposal, space, why = propose_with_llm(llm, run, run.bounds, "", None, [], 0, counts)
    assert proposal.params == {"n_neighbors": 7, "weights": "uniform", "p": 2} and why == ""
    assert space is None or space.params["n_neighbors"].high == run.bounds.params["n_neighbors"].high


def test_optimizer_agent_as_proposer_in_a_plain_optuna_study():
    run = runs.open_run({"dataset": "iris", "model": "knn", "study_name": "plain"}, storage="sqlite:///:memory:")
    replies = [json.dumps({"config": {"n_neighbors": k, "weights": "distance", "p": 1}, "reasoning": f"k={k}"})
               for k in (3, 9, 15, 21)]
    llm = scripted_llm(*replies, then="not json")
    sampler = LLMTPESampler(mode="llm", proposer=make_proposer(llm, run), seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        params = {"n_neighbors": trial.suggest_int("n_neighbors", 1, 50, log=True),
                  "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
                  "p": trial.suggest_categorical("p", [1, 2])}
        return cross_validate_config(run.task, "knn", params, "accuracy", folds=3).mean

    study.optimize(objective, n_trials=7)
    sources = [t.user_attrs["source"] for t in study.trials]
    assert sources[0] == "tpe"  # no history yet
    assert sources[1:5] == ["llm"] * 4 and [t.params["n_neighbors"] for t in study.trials[1:5]] == [3, 9, 15, 21]
    assert study.trials[2].user_attrs["reasoning"] == "k=9"
    assert sources[5:] == ["tpe", "tpe"]  # the model then talks nonsense: TPE takes over
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
