"""The portfolio as the initial design, and the search across model families (CASH), on real studies."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tests.test_recommend_portfolio import shipped, use_shipped  # noqa: F401  (fixtures: a real small matrix)
from tunegraph.context import Context
from tunegraph.graphs.optimize import builder
from tunegraph.tools.meta.metadataset import records_from_study
from tunegraph.tools.meta.portfolio import initial_design
from tunegraph.tools.ml.cash import CASH_FAMILIES, best_per_family, cash_family, cash_space, join, split
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.ml.search_space import SearchSpaceError
from tunegraph.tools.trials.runs import open_run


def optimize(inputs: dict, **context) -> tuple[dict, optuna.Study]:
    from langgraph.checkpoint.memory import InMemorySaver

    name = inputs.setdefault("study_name", "s")
    ctx = Context(**{"llm": "none", "sampler": "tpe", "learn": False, "storage": "sqlite:///studies.db", **context})
    graph = builder.compile(checkpointer=InMemorySaver())
    final = graph.invoke(inputs, {"configurable": {"thread_id": name}}, context=ctx)
    return final, open_run(inputs, storage=ctx.storage).study


def test_portfolio_trials_come_first_and_tpe_models_right_after(use_shipped, monkeypatch):  # noqa: F811
    random_draws = []
    original = optuna.samplers.RandomSampler.sample_independent

    def spy(self, study, trial, name, distribution):  # counts, then samples as Optuna does
        random_draws.append((trial.number, name))
        return original(self, study, trial, name, distribution)

    monkeypatch.setattr(optuna.samplers.RandomSampler, "sample_independent", spy)
    final, study = optimize({"dataset": "wine"}, trials=7, portfolio=3, folds=3)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [t.user_attrs["source"] for t in trials] == ["portfolio"] * 3 + ["tpe"] * 4
    assert study.user_attrs["tpe_startup"] == 3
    assert random_draws == []  # no random start-up trial follows the portfolio
    from tunegraph.tools.ml.tasks import load_task

    members = initial_design(load_task(dataset="wine"), 3, CASH_FAMILIES["classification"], use_shipped)
    assert [split(t.params) for t in trials[:3]] == [(f, p) for f, p, _ in members]
    assert final["n_done"] == 7


def test_without_portfolio_the_initializer_starts_from_the_defaults(use_shipped):  # noqa: F811
    _, study = optimize({"dataset": "wine", "model": "knn"}, trials=3, portfolio=0, folds=3)
    first = min(study.trials, key=lambda t: t.number)
    assert first.user_attrs["source"] == "init" and "tpe_startup" not in study.user_attrs


def test_model_restricts_the_portfolio_to_its_family(use_shipped):  # noqa: F811
    _, study = optimize({"dataset": "wine", "model": "knn"}, trials=4, portfolio=2, folds=3)
    portfolio = [t for t in study.trials if t.user_attrs["source"] == "portfolio"]
    assert len(portfolio) == 2
    space = get_family("knn").search_space("classification")
    assert all(set(t.params) == set(space.names()) and space.contains(t.params) for t in portfolio)


def test_the_held_out_task_leaves_the_initial_design(use_shipped):  # noqa: F811
    from tunegraph.tools.ml.tasks import load_task

    task = load_task(dataset="wine")
    families = CASH_FAMILIES["classification"]
    kept = initial_design(task, 20, families, use_shipped)
    held_out = initial_design(task, 20, families, use_shipped, exclude_tasks=("wine",))
    assert any(m.origin == "best:wine" for _, _, m in kept)
    assert all(m.origin != "best:wine" for _, _, m in held_out)
    assert initial_design(task, 3, families, None) == []


def test_portfolio_neighbors_set_how_the_portfolio_weighs_past_tasks(use_shipped):  # noqa: F811
    from tunegraph.tools.meta.portfolio import DEFAULT_SETTING, PortfolioSetting, portfolio_setting
    from tunegraph.tools.ml.tasks import load_task

    assert portfolio_setting(-1) == DEFAULT_SETTING
    assert portfolio_setting(0) == PortfolioSetting(0, DEFAULT_SETTING.floor)
    assert portfolio_setting(10).n_neighbors == 10
    task = load_task(dataset="wine")
    families = CASH_FAMILIES["classification"]
    designs = {n: [(f, p) for f, p, _ in initial_design(task, 3, families, use_shipped, setting=portfolio_setting(n))]
               for n in (0, 1)}
    assert designs[0] != designs[1]  # on this matrix, weighing the nearest task alone changes the portfolio
    for neighbors, design in designs.items():  # the graph builds the portfolio of the setting it is given
        _, study = optimize({"dataset": "wine", "study_name": f"n{neighbors}"}, trials=3, portfolio=3,
                            portfolio_neighbors=neighbors, folds=3)
        assert [split(t.params) for t in sorted(study.trials, key=lambda t: t.number)] == design


def test_search_across_families_reports_each_familys_best_and_learns_per_family(use_shipped):  # noqa: F811
    _, study = optimize({"dataset": "iris"}, trials=6, portfolio=3, folds=3)
    assert study.user_attrs["model"] == "auto"
    complete = [t for t in study.trials if t.value is not None]
    best = best_per_family(complete, "maximize")
    assert set(best) == {t.params["family"] for t in complete}
    assert max(v for _, v in best.values()) == study.best_value
    records = records_from_study(study)
    assert {r["family"] for r in records} == set(best)
    for r in records:  # learned as the family's own configuration, not the joint space's
        space = get_family(r["family"]).search_space("classification")
        assert space.contains(json.loads(r["params"]) if isinstance(r["params"], str) else r["params"])


@pytest.mark.parametrize("task_type", ["classification", "regression"])
def test_the_conditional_space_samples_valid_configurations_of_every_family(task_type, iris, diabetes):
    space = cash_space(task_type)
    task = iris if task_type == "classification" else diabetes
    family = cash_family(task_type)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, multivariate=True, group=True,
                                                                    n_startup_trials=10))
    seen: dict[str, dict] = {}
    rng = np.random.default_rng(0)
    for _ in range(60):
        trial = study.ask()
        config = space.suggest(trial)
        name, params = split(config)
        assert set(trial.params) == set(config) == set(space.active_names(config))  # only its family's parameters
        assert get_family(name).search_space(task_type).contains(params) and space.contains(config)
        seen.setdefault(name, config)
        study.tell(trial, float(rng.random()))
    assert set(seen) == set(CASH_FAMILIES[task_type])
    for config in seen.values():  # each family's sampled configuration builds and fits
        model = family.build(config, task, seed=0).fit(task.X.head(120), task.y[:120])
        assert len(model.predict(task.X.head(5))) == 5


def test_joint_configurations_are_checked(iris):
    space = cash_space("classification", ["knn", "xgboost"])
    config = join("knn", {"n_neighbors": 500, "weights": "distance", "p": 2})
    clean, notes = space.clip({**config, "xgboost.max_depth": 3})
    assert clean["knn.n_neighbors"] < 500 and "xgboost.max_depth" not in clean and notes
    with pytest.raises(SearchSpaceError, match="lacks"):
        space.clip({"family": "xgboost", "xgboost.max_depth": 3})
    with pytest.raises(SearchSpaceError):
        space.clip({**config, "family": "svm"})
    assert not space.contains({**config, "family": "xgboost"})


def test_across_families_the_llm_proposes_within_the_best_family_and_keeps_the_family_choice(use_shipped):  # noqa: F811
    from tests.helpers import scripted_llm
    from tunegraph.tools.trials import runs

    # whatever the best family is, the answer names knn's parameters: valid only if the best is knn
    answer = json.dumps({"config": {"family": "knn", "knn.n_neighbors": 9, "knn.weights": "distance", "knn.p": 1},
                         "reasoning": "more neighbours", "ranges": {"knn.n_neighbors": [3, 20]}})
    runs.register_llm("scripted-cash", scripted_llm(then=answer))
    final, study = optimize({"dataset": "iris"}, trials=4, portfolio=2, folds=3, llm="scripted-cash", sampler="llm")
    trials = sorted(study.trials, key=lambda t: t.number)
    best_family = max(trials[:2], key=lambda t: t.value).params["family"]
    llm_trials = [t for t in trials if t.user_attrs["source"] == "llm"]
    if best_family == "knn":
        assert llm_trials and all(t.params["family"] == "knn" for t in llm_trials)
        assert final["search_space"]["knn.n_neighbors"]["high"] == 20
    else:  # knn's parameters are not the best family's: refused, and TPE proposes instead
        assert not llm_trials
    assert set(final["search_space"]["family"]["choices"]) == set(CASH_FAMILIES["classification"])


def test_the_api_searches_across_families_by_default_and_says_which_won():
    from tunegraph import optimize as api_optimize

    result = api_optimize(dataset="iris", trials=4, folds=3, seed=1)
    assert result["searched"] == "auto" and result["best_family"] == result["study_params"]["family"]
    best = result["best_per_family"]
    assert best[result["best_family"]]["value"] == result["best_value"]
    assert all(v["value"] <= result["best_value"] for v in best.values())
    assert {t["params"]["family"] for t in result["trials"] if t["value"] is not None} == set(best)
