"""The LLM earns its share in llm_tpe mode: scripted proposers in real (in-memory) Optuna studies."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from tunegraph.tools.trials.sampler import LLMTPESampler, Proposal
from tunegraph.tools.trials.share import AdaptiveShare, Record, p_better

optuna.logging.set_verbosity(optuna.logging.WARNING)

N = 30  # trials per scripted study


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    return x * x  # minimized at 0


def loser(study, trial, space):
    """Always the worst point: never beats the best so far."""
    return Proposal({"x": 5.0}, reasoning="the edge")


def winner(study, trial, space):
    """Halfway from the best to the optimum: always beats the best so far."""
    return Proposal({"x": study.best_params["x"] / 2}, reasoning="halfway to zero")


def run(proposer, n: int = N, seed: int = 0, **kwargs) -> tuple[optuna.Study, LLMTPESampler]:
    sampler = LLMTPESampler(mode="llm_tpe", proposer=proposer, seed=seed, **kwargs)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n)
    return study, sampler


def turns(study: optuna.Study) -> list[str]:
    """Whom the coin picked: an LLM turn that fell back to TPE is still the LLM's."""
    return ["llm" if t.user_attrs["source"] == "llm" or t.user_attrs.get("llm_fallback") else "tpe"
            for t in study.trials]


def test_a_proposer_that_always_loses_loses_its_share():
    study, sampler = run(loser)
    llm = [t for t in study.trials if t.user_attrs["source"] == "llm"]
    assert llm and all(t.value == 25.0 for t in llm)  # the script really loses
    assert sampler.llm_share(study) < 0.3  # from 0.5
    assert study.trials[-1].user_attrs["llm_share"] < 0.35
    # the wasted turns, over five seeds (0.5 of 30 trials each with the fixed coin): 47 against 86
    adaptive = sum(turns(run(loser, seed=seed)[0]).count("llm") for seed in range(5))
    fixed = sum(turns(run(loser, seed=seed, adaptive=False)[0]).count("llm") for seed in range(5))
    assert adaptive < 0.75 * fixed


def test_a_proposer_that_always_wins_gains_its_share():
    study, sampler = run(winner)
    assert sampler.llm_share(study) >= 0.9  # from 0.5
    assert turns(study)[-10:].count("llm") >= 8
    assert study.best_value < 1e-6


def test_the_share_is_recorded_in_the_study_and_on_each_trial():
    study, sampler = run(loser, p_llm=0.3)
    assert study.user_attrs["llm_share_start"] == 0.3
    assert study.user_attrs["llm_share_rule"] == sampler.share_rule.rule
    assert study.user_attrs["llm_share_rule"].startswith("adaptive: Thompson sampling")
    shares = [t.user_attrs["llm_share"] for t in study.trials]
    assert shares[0] == 0.3  # before any result: the starting share exactly
    assert all(0.05 <= s <= 0.95 for s in shares) and len(set(shares)) > 1


def test_the_floor_and_the_ceiling_hold():
    rule = AdaptiveShare(0.5)
    hopeless = Record({"llm": 0, "tpe": 100}, {"llm": 200, "tpe": 100})
    flawless = Record({"llm": 200, "tpe": 0}, {"llm": 0, "tpe": 200})
    assert rule.share_of(hopeless) == 0.05 and rule.share_of(flawless) == 0.95
    assert AdaptiveShare(0.02).share_of(flawless) == 0.95 and AdaptiveShare(0.02).share_of(hopeless) == 0.02
    assert AdaptiveShare(0.0).share_of(flawless) == 0.0  # asked for no LLM: none, whatever it did
    study, sampler = run(loser, n=60)
    assert sampler.llm_share(study) >= 0.05
    assert min(t.user_attrs["llm_share"] for t in study.trials) >= 0.05


def test_without_adaptation_the_coin_is_fixed():
    """adaptive=False: the share stays p_llm, so the turns do not depend on how the LLM does."""
    lost, sampler = run(loser, adaptive=False)
    won, _ = run(winner, adaptive=False)
    assert turns(lost) == turns(won)
    assert {t.user_attrs["llm_share"] for t in lost.trials} == {0.5}
    assert sampler.llm_share(lost) == 0.5 and sampler.share_rule is None
    assert lost.user_attrs["llm_share_rule"].startswith("fixed coin")


def test_a_resumed_run_gets_the_same_share():
    storage = optuna.storages.InMemoryStorage()
    first = LLMTPESampler(mode="llm_tpe", proposer=loser, seed=0)
    study = optuna.create_study(study_name="resume", storage=storage, sampler=first)
    study.optimize(objective, n_trials=20)
    share = first.llm_share(study)
    assert share < 0.5
    # a new process: a new sampler loads the study; only the trials carry the state
    second = LLMTPESampler(mode="llm_tpe", proposer=loser, seed=0)
    again = optuna.load_study(study_name="resume", storage=storage, sampler=second)
    assert second.llm_share(again) == share
    again.optimize(objective, n_trials=1)
    assert again.trials[-1].user_attrs["llm_share"] == share


def test_the_graph_path_records_the_share_it_chose_on_the_trial_it_asks():
    """The optimize graph draws first (choose_source(study)), then asks or enqueues the trial."""
    sampler = LLMTPESampler(mode="llm_tpe", seed=0)
    study = optuna.create_study(sampler=sampler)
    space = {"x": FloatDistribution(-5, 5)}
    study.enqueue_trial({"x": 1.0}, user_attrs={"source": "init"})
    assert sampler.choose_source(study) in ("llm", "tpe")
    init = study.ask(space)  # an enqueued init trial does not take the share
    study.tell(init, 1.0)
    trial = sampler.ask(study, space, "tpe")
    study.tell(trial, 4.0)
    assert "llm_share" not in study.trials[0].user_attrs and study.trials[1].user_attrs["llm_share"] == 0.5
    sampler.choose_source(study)
    share = sampler.llm_share(study)
    study.enqueue_trial({"x": 0.5}, user_attrs={"source": "llm"})  # the graph's LLM proposal
    study.tell(study.ask(space), 0.25)
    assert study.trials[2].user_attrs["llm_share"] == share
    assert sampler.choose_source() in ("llm", "tpe")  # no study: the fixed coin, as before


def test_scoring_counts_beating_the_best_so_far_by_source():
    dist = {"x": FloatDistribution(0, 1)}

    def trial(value, source, state=TrialState.COMPLETE, **attrs):
        return create_trial(params={"x": 0.5}, distributions=dist, state=state, user_attrs={"source": source, **attrs},
                            value=value if state == TrialState.COMPLETE else None)

    trials = [trial(0.7, "llm"),           # the first result: nothing to beat, not scored
              trial(0.5, "init"),          # history only
              trial(0.6, "llm"),           # below the best 0.7: a loss
              trial(0.55, "tpe"),          # a loss
              trial(0.9, "portfolio"),     # history only, sets the best
              trial(None, "tpe", TrialState.FAIL),     # a failure is a loss
              trial(0.99, "tpe", llm_fallback=True),   # the LLM's turn without a proposal: its loss, TPE's best
              trial(1.0, "tpe"),                       # beats the fallback's 0.99: a win
              trial(None, "llm", TrialState.FAIL, abandoned=True)]  # cut off by a crash: ignored
    for number, t in enumerate(trials):
        t.number = number
    rule = AdaptiveShare(0.5)
    record = rule.record(trials, "maximize")
    assert (record.wins, record.losses) == ({"llm": 0, "tpe": 1}, {"llm": 2, "tpe": 2})
    record = rule.record(trials, optuna.study.StudyDirection.MINIMIZE)  # the best is init's 0.5 throughout
    assert (record.wins, record.losses) == ({"llm": 0, "tpe": 0}, {"llm": 2, "tpe": 3})
    assert rule.share(trials, "maximize") < 0.5 < rule.share(trials, "minimize")
    assert rule.share(list(reversed(trials)), "maximize") == rule.share(trials, "maximize")  # by number


def test_p_better_is_exact():
    assert p_better(1, 1, 1, 1) == pytest.approx(0.5)
    assert p_better(0.4, 1.6, 1, 1) == pytest.approx(0.2)  # E[Beta(0.4, 1.6)]: the starting share
    assert p_better(4, 1, 1, 4) == pytest.approx(0.98571, abs=1e-5)  # 69/70
    assert p_better(3, 5, 3, 5) == pytest.approx(0.5)


def test_choose_is_deterministic_given_the_rng():
    import numpy as np

    rule = AdaptiveShare(0.4)
    picks = [rule.choose([], "minimize", np.random.default_rng(s)) for s in range(200)]
    again = [rule.choose([], "minimize", np.random.default_rng(s)) for s in range(200)]
    assert picks == again and 0.3 < picks.count("llm") / 200 < 0.5


def test_the_setting_reaches_the_sampler_and_the_command_line(monkeypatch):
    from tunegraph.cli.parser import build_parser
    from tunegraph.context import Context
    from tunegraph.tools.trials import runs

    assert Context().adaptive_share is True
    monkeypatch.setenv("TUNEGRAPH_ADAPTIVE_SHARE", "0")
    assert Context().adaptive_share is False
    args = build_parser().parse_args(["optimize", "--dataset", "iris", "--fixed-share"])
    assert args.fixed_share is True
    inputs = {"dataset": "iris", "model": "knn", "study_name": "share-setting"}
    fixed = runs.open_run(inputs, storage="sqlite:///:memory:", adaptive_share=False)
    adaptive = runs.open_run(inputs, storage="sqlite:///:memory:", adaptive_share=True)
    assert fixed.sampler.share_rule is None and adaptive.sampler.share_rule is not None


def test_the_optimize_graph_lowers_the_share_of_an_llm_that_cannot_answer():
    from langgraph.checkpoint.memory import InMemorySaver

    from tests.helpers import scripted_llm
    from tunegraph.context import Context
    from tunegraph.graphs.optimize import builder
    from tunegraph.tools.trials import runs

    runs.register_llm("scripted-mute", scripted_llm(then=json.dumps({"config": {"n_neighbors": "many"}})))
    inputs = {"dataset": "iris", "model": "knn", "study_name": "iris-share"}
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke(inputs, {"configurable": {"thread_id": "t"}},
                 context=Context(llm="scripted-mute", sampler="llm_tpe", trials=8, folds=3, llm_retries=0, seed=1))
    study = runs.open_run(inputs, storage=runs.default_storage()).study
    assert study.user_attrs["llm_share_start"] == 0.5
    chosen = [t for t in study.trials if t.user_attrs["source"] in ("llm", "tpe")]
    assert chosen and all("llm_share" in t.user_attrs for t in chosen)
    fallbacks = [t for t in chosen if t.user_attrs.get("llm_fallback")]
    assert fallbacks  # the LLM had its turns, and wasted them
    assert chosen[-1].user_attrs["llm_share"] < 0.5
