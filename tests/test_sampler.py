"""The LLM-TPE sampler in plain Optuna studies: seeded mixing, sources, reasoning, fallbacks."""

from __future__ import annotations

import optuna
import pytest

from tunegraph.tools.trials.sampler import LLMTPESampler, Proposal

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    k = trial.suggest_int("k", 1, 10)
    return (x - 1.0) ** 2 + (k - 3) ** 2


def good_proposer(study, trial, space):
    best = study.best_params if study.best_trials else {"x": 0.0, "k": 5}
    return Proposal({"x": min(5.0, best["x"] + 0.1), "k": best["k"]}, reasoning="step right of the best")


def run(sampler: LLMTPESampler, n: int = 30) -> optuna.Study:
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n)
    return study


def sources(study: optuna.Study) -> list[str]:
    return [t.user_attrs["source"] for t in study.trials]


def test_same_seed_gives_same_mix_and_values():
    a = run(LLMTPESampler(mode="llm_tpe", proposer=good_proposer, seed=7))
    b = run(LLMTPESampler(mode="llm_tpe", proposer=good_proposer, seed=7))
    assert sources(a) == sources(b)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_llm_share_follows_p_with_the_fixed_coin():
    """adaptive=False: the coin of older runs (the adaptive share: tests/test_adaptive_share.py)."""
    study = run(LLMTPESampler(mode="llm_tpe", p_llm=0.5, proposer=good_proposer, seed=1, adaptive=False), n=60)
    share = sources(study).count("llm") / 60
    assert 0.3 < share < 0.7  # binomial(60, 0.5): outside this range has p < 0.2%
    study = run(LLMTPESampler(mode="llm_tpe", p_llm=0.2, proposer=good_proposer, seed=1, adaptive=False), n=60)
    assert sources(study).count("llm") < sources(study).count("tpe")


def test_modes_pick_one_source():
    assert set(sources(run(LLMTPESampler(mode="tpe", proposer=good_proposer, seed=0), n=12))) == {"tpe"}
    assert set(sources(run(LLMTPESampler(mode="random", seed=0), n=12))) == {"random"}
    llm_only = run(LLMTPESampler(mode="llm", proposer=good_proposer, seed=0), n=12)
    # the first trial has no history to define a space from: it falls back to TPE
    assert sources(llm_only)[0] == "tpe" and llm_only.trials[0].user_attrs["llm_fallback"] is True
    assert set(sources(llm_only)[1:]) == {"llm"}


def test_llm_trials_carry_the_proposal_and_reasoning():
    study = run(LLMTPESampler(mode="llm", proposer=good_proposer, seed=0), n=6)
    for trial in study.trials[1:]:
        assert trial.user_attrs["reasoning"] == "step right of the best"
    assert study.best_value < objective_value({"x": 5.0, "k": 10})


def objective_value(params):
    return (params["x"] - 1.0) ** 2 + (params["k"] - 3) ** 2


@pytest.mark.parametrize("bad", [
    lambda s, t, sp: Proposal({"x": 99.0, "k": 3}),           # out of range
    lambda s, t, sp: Proposal({"x": 1.0}),                     # a parameter missing
    lambda s, t, sp: Proposal({"x": "one", "k": 3}),           # wrong type
    lambda s, t, sp: None,                                     # nothing to offer
])
def test_unusable_proposals_fall_back_to_tpe(bad):
    study = run(LLMTPESampler(mode="llm", proposer=bad, seed=0), n=5)
    assert sources(study) == ["tpe"] * 5
    assert all(t.user_attrs.get("llm_fallback") for t in study.trials)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_a_raising_proposer_never_stops_the_study():
    def broken(study, trial, space):
        raise ConnectionError("LLM server went away")

    study = run(LLMTPESampler(mode="llm", proposer=broken, seed=0), n=4)
    assert len(study.trials) == 4
    assert "went away" in study.trials[-1].user_attrs["llm_error"]


def test_enqueued_trials_keep_their_source():
    sampler = LLMTPESampler(mode="tpe", seed=0)
    study = optuna.create_study(sampler=sampler)
    study.enqueue_trial({"x": 1.0, "k": 3}, user_attrs={"source": "init"})
    study.optimize(objective, n_trials=3)
    assert sources(study) == ["init", "tpe", "tpe"]
    assert study.trials[0].value == 0.0


def test_invalid_arguments():
    with pytest.raises(ValueError, match="unknown sampler mode"):
        LLMTPESampler(mode="gpt")
    with pytest.raises(ValueError, match="p_llm"):
        LLMTPESampler(p_llm=1.5)


def test_two_threads_share_one_sampler_safely():
    import threading
    import time

    threads = set()

    def slow(trial: optuna.Trial) -> float:
        threads.add(threading.get_ident())
        value = objective(trial)
        time.sleep(0.02)  # both workers are inside a trial at once
        return value

    study = optuna.create_study(sampler=LLMTPESampler(mode="llm_tpe", proposer=good_proposer, seed=3,
                                                      n_startup_trials=4))
    study.optimize(slow, n_trials=24, n_jobs=2)
    assert len(threads) == 2  # really two threads
    assert len(study.trials) == 24 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert set(sources(study)) <= {"llm", "tpe"} and "llm" in sources(study)
    assert all(-5 <= t.params["x"] <= 5 and 1 <= t.params["k"] <= 10 for t in study.trials)
    llm = [t for t in study.trials if t.user_attrs["source"] == "llm"]
    assert all(t.user_attrs.get("reasoning") == "step right of the best" for t in llm)  # no thread took another's


def test_llm_proposer_works_in_any_study_from_a_task_description_and_a_chat_model():
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from tunegraph.agents.optimizer import llm_proposer

    replies = iter([AIMessage('{"config": {"x": 1.0, "k": 3}, "reasoning": "the minimum, from the history"}'),
                    AIMessage("not JSON at all")] + [AIMessage('{"config": {"x": 2.5, "k": 4}, "reasoning": "nearby"}')] * 30)
    chat = GenericFakeChatModel(messages=replies)
    proposer = llm_proposer("a quadratic bowl in x and k; lower is better", chat, metric="loss")
    study = run(LLMTPESampler(mode="llm", proposer=proposer, seed=0), n=5)
    llm_trials = [t for t in study.trials if t.user_attrs["source"] == "llm"]
    assert llm_trials and llm_trials[0].params == {"x": 1.0, "k": 3}
    assert llm_trials[0].user_attrs["reasoning"] == "the minimum, from the history"
    assert study.best_value == pytest.approx(0.0)
