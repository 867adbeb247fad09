"""No configuration runs twice in one study because of the warm start: a recommendation equal to a
queued portfolio member is skipped, said, and the next candidate is taken."""

from __future__ import annotations

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tests.test_recommend_portfolio import shipped, use_shipped  # noqa: F401  (fixtures: a real small matrix)
from tunegraph import optimize
from tunegraph.agents.warm_start import config_key, tried_configs
from tunegraph.tools.trials import runs


def test_warm_start_skips_what_the_portfolio_already_queued(use_shipped):  # noqa: F811
    from tunegraph.context import Context

    result = optimize(dataset="wine", trials=8, folds=3, warm_start=3, portfolio=3, save_model=False)
    inputs = {"dataset": "wine", "model": "auto", "study_name": result["study_name"]}
    run = runs.run_for(inputs, Context(llm="none", storage=result["storage"]))
    first = [t for t in run.study.trials if t.user_attrs.get("source") in ("portfolio", "meta")]
    keys = [config_key(run.bounds, t.params) for t in first]
    assert len(keys) == len(set(keys)), "a warm-start configuration repeats a portfolio member"
    assert sum(1 for t in first if t.user_attrs.get("source") == "meta") >= 1


def test_a_queued_trial_counts_as_tried(tmp_path):
    import optuna

    study = optuna.create_study()
    study.enqueue_trial({"x": 1.0})
    assert tried_configs(study) == [{"x": 1.0}]  # WAITING: its params are the queued ones
