"""The optimize graph end to end with real cross-validation and Optuna: fallbacks, stopping, resume."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver

from tests.helpers import scripted_llm
from tunegraph.context import Context
from tunegraph.graphs.optimize import builder
from tunegraph.tools.trials import runs

IRIS_KNN = {"dataset": "iris", "model": "knn", "study_name": "iris-knn"}


def invoke(inputs, context, checkpointer=None, thread="t"):
    graph = builder.compile(checkpointer=checkpointer or InMemorySaver())
    return graph.invoke(inputs, {"configurable": {"thread_id": thread}}, context=context)


def trials(name="iris-knn"):
    return runs.open_run({"study_name": name, **IRIS_KNN}, storage=runs.default_storage()).study.trials


def test_no_llm_runs_the_budget_with_defaults_first():
    final = invoke(IRIS_KNN, Context(llm="none", trials=6, folds=3))
    done = trials()
    assert final["n_done"] == 6 and len(done) == 6
    assert done[0].user_attrs["source"] == "init" and done[0].params == {"n_neighbors": 5, "weights": "uniform", "p": 2}
    assert {t.user_attrs["source"] for t in done[1:]} == {"tpe"}
    assert final["stop_reason"].startswith("trial budget")
    assert final["best_value"] == max(t.value for t in done)


def test_given_warm_configs_are_the_first_trials_after_the_defaults():
    """A configuration handed in (the chat's recommendation) runs as a 'meta' trial, once: a duplicate
    or a resumed study does not enqueue it again."""
    given = {"n_neighbors": 11, "weights": "distance", "p": 1}
    warm = [{"params": given, "reasoning": "the recommendation: close neighbours vote"}, {"params": given}]
    final = invoke({**IRIS_KNN, "warm_configs": warm}, Context(llm="none", trials=4, folds=3))
    done = trials()
    assert [t.user_attrs["source"] for t in done] == ["init", "meta", "tpe", "tpe"]
    assert done[1].params == given and done[1].user_attrs["reasoning"] == "the recommendation: close neighbours vote"
    assert final["warm_start_notes"] == ["1 configurations given with the run"]
    invoke({**IRIS_KNN, "warm_configs": warm}, Context(llm="none", trials=5, folds=3), thread="again")
    assert [t.user_attrs["source"] for t in trials()].count("meta") == 1


GARBAGE = ["I think k should be small!", '{"config": {"n_neighbors": "many"}}', "{\"config\": [1, 2",
           '{"configs": []}', '{"config": {"n_neighbors": 3, "weights": "sideways", "p": 2}}']


def test_malformed_llm_answers_fall_back_and_are_counted():
    runs.register_llm("scripted-garbage", scripted_llm(then=GARBAGE[0]))
    final = invoke(IRIS_KNN, Context(llm="scripted-garbage", sampler="llm", trials=5, folds=3, llm_retries=1))
    done = trials()
    assert len(done) == 5 and all(t.state.name == "COMPLETE" for t in done)
    llm_trials = [t for t in done if t.user_attrs.get("llm_fallback")]
    assert len(llm_trials) == 4  # every LLM turn after the init trial fell back to TPE
    assert final["llm"]["fallbacks"] == 5  # the initializer's and four optimizer turns
    assert final["llm"]["invalid"] == final["llm"]["calls"] == 10  # 1 + 1 retry each time


@pytest.mark.parametrize("answer", GARBAGE[1:])
def test_each_kind_of_bad_answer_is_rejected(answer):
    runs.register_llm("scripted-bad", scripted_llm(then=answer))
    final = invoke(IRIS_KNN, Context(llm="scripted-bad", sampler="llm", trials=3, folds=3, llm_retries=0))
    assert final["llm"]["invalid"] == final["llm"]["calls"] == 3
    assert [t.user_attrs["source"] for t in trials()] == ["init", "tpe", "tpe"]


def test_valid_llm_answers_are_clipped_used_and_explained():
    init = json.dumps({"configs": [{"n_neighbors": 500, "weights": "distance", "p": 1}], "reasoning": "smooth"})
    step = lambda k: json.dumps({"config": {"n_neighbors": k, "weights": "distance", "p": "2"},
                                 "reasoning": f"try k={k}", "ranges": {"n_neighbors": [2, 30]}})
    runs.register_llm("scripted-good", scripted_llm(init, step(7), step(7), step(9), step(11)))
    final = invoke(IRIS_KNN, Context(llm="scripted-good", sampler="llm", trials=5, folds=3))
    done = trials()
    assert [t.user_attrs["source"] for t in done] == ["init", "init", "llm", "llm", "llm"]
    assert done[1].params["n_neighbors"] == 50  # 500 clipped to the top of the range
    assert [t.params["n_neighbors"] for t in done[2:]] == [7, 9, 11]  # the repeated 7 was refused
    assert done[3].user_attrs["reasoning"] == "try k=9"
    assert final["llm"]["invalid"] == 1
    assert final["search_space"]["n_neighbors"]["low"] == 2 and final["search_space"]["n_neighbors"]["high"] == 30


def test_range_change_that_drops_the_best_configuration_is_refused():
    init = json.dumps({"configs": [{"n_neighbors": 5, "weights": "uniform", "p": 2}], "reasoning": "-"})
    narrow = json.dumps({"config": {"n_neighbors": 40, "weights": "uniform", "p": 1}, "reasoning": "go big",
                         "ranges": {"n_neighbors": [35, 50]}})
    runs.register_llm("scripted-narrow", scripted_llm(init, narrow))
    final = invoke(IRIS_KNN, Context(llm="scripted-narrow", sampler="llm", trials=2, folds=3))
    assert final["search_space"]["n_neighbors"]["low"] == 1  # unchanged: the best (k=5) would be cut out
    assert trials()[1].params["n_neighbors"] == 40


def test_early_stopping_with_patience():
    final = invoke(IRIS_KNN, Context(llm="none", trials=60, patience=3, folds=3, seed=3))
    assert final["stop_reason"].startswith("early stopping")
    assert final["since_improvement"] == 3
    assert final["n_done"] < 60
    assert trials()[-4].number == final["best_number"]  # the best, then three trials without improvement


def test_failing_trials_are_recorded_and_the_run_goes_on():
    final = invoke(IRIS_KNN, Context(llm="none", trials=4, folds=3, trial_timeout=1e-6, fail_fast=0))
    done = trials()
    assert len(done) == 4 and all(t.state.name == "FAIL" for t in done)
    assert all(t.user_attrs["status"] == "timeout" for t in done)
    assert final["n_failed"] == 4 and final["best_value"] is None


def test_a_run_whose_first_trials_all_fail_stops_early_naming_the_reason():
    final = invoke(IRIS_KNN, Context(llm="none", trials=20, folds=3, trial_timeout=1e-6))
    assert len(trials()) == 3 and final["n_done"] == 3 and final["n_failed"] == 3
    assert final["stop_reason"].startswith("stopped early: all of the first 3 trials failed (fail-fast 3); "
                                           "most common reason (")
    assert "exceeded the time limit of 1e-06 s after 1 fold(s)" in final["stop_reason"]


def test_resume_after_interruption_loses_and_repeats_nothing(tmp_path):
    """Stop the graph mid-run (an exception inside a node, as a crash would), then resume it."""
    import tunegraph.agents.evaluator as evaluator

    context = Context(llm="none", trials=8, folds=3)
    config = {"configurable": {"thread_id": "iris-knn"}}
    real = evaluator.cross_validate_config
    calls = {"n": 0}

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated crash during the fifth evaluation")
        return real(*args, **kwargs)

    with SqliteSaver.from_conn_string(str(tmp_path / "cp.db")) as saver:
        graph = builder.compile(checkpointer=saver)
        evaluator.cross_validate_config = crash_on_fifth
        try:
            with pytest.raises(KeyboardInterrupt):
                graph.invoke(IRIS_KNN, config, context=context)
        finally:
            evaluator.cross_validate_config = real
        before = {t.number: t.value for t in trials() if t.state.is_finished()}
        assert len(before) == 4
        assert graph.get_state(config).next == ("evaluate",)
        final = graph.invoke(None, config, context=context)
    done = trials()
    assert final["n_done"] == 8 and len(done) == 8
    assert [t.number for t in done] == list(range(8))
    assert all(t.state.name == "COMPLETE" for t in done)
    assert {t.number: t.value for t in done if t.number in before} == before


def test_a_finished_study_can_be_extended_by_its_name():
    invoke(IRIS_KNN, Context(llm="none", trials=3, folds=3), thread="first")
    runs.forget_runs()
    final = invoke(IRIS_KNN, Context(llm="none", trials=5, folds=3), thread="second")
    assert final["n_done"] == 5
    assert [t.user_attrs["source"] for t in trials()].count("init") == 1


def test_a_study_name_cannot_be_reused_for_another_task():
    invoke(IRIS_KNN, Context(llm="none", trials=1, folds=3))
    runs.forget_runs()
    with pytest.raises(ValueError, match="was made for another task"):
        invoke({**IRIS_KNN, "dataset": "wine"}, Context(llm="none", trials=1, folds=3), thread="x")


def test_trials_cut_off_by_a_crash_are_adopted_or_abandoned():
    from langgraph.runtime import Runtime

    import tunegraph.agents.optimizer as optimizer

    run = runs.open_run(IRIS_KNN, storage=runs.default_storage())
    full = run.study.ask(run.bounds.to_optuna())  # asked and sampled, never evaluated
    run.study._storage.set_trial_user_attr(full._trial_id, "worker", "w1")
    bare = run.study.ask()  # killed before any parameter was sampled
    state = {**IRIS_KNN, "worker_id": "w1", "search_space": run.bounds.to_dict()}
    ctx = Runtime(context=Context(llm="none"))
    original = optimizer.PROCESS_START
    try:
        optimizer.PROCESS_START = run.study.trials[-1].datetime_start.replace(year=2100)  # as if we restarted since
        update = optimizer.choose_proposer(state, ctx)
        assert update["next_source"] == "pending" and update["pending_trial"]["number"] == full.number
        again = optimizer.choose_proposer({**state, "worker_id": "w2"}, ctx)  # another worker's trial is not adopted
        assert again["next_source"] != "pending"
    finally:
        optimizer.PROCESS_START = original
    abandoned = run.study.trials[bare.number]
    assert abandoned.state.name == "FAIL" and abandoned.user_attrs["abandoned"] is True
