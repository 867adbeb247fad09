"""The transferred search space (``Context.space_box``): the box of past tasks' best configurations
and the run's first ones, on a real meta-dataset, and a real study that searches inside it."""

from __future__ import annotations

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tests.test_portfolio_search import optimize
from tests.test_recommend_portfolio import shipped, use_shipped  # noqa: F401  (fixtures: a real small matrix)
from tunegraph.tools.meta import metadataset
from tunegraph.tools.meta.space_transfer import MIN_TASKS, bounding_box, past_best_configs, transfer_box
from tunegraph.tools.ml.cash import cash_space, join
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.ml.search_space import SearchSpace


def test_the_box_is_the_range_of_the_configurations_within_the_space():
    space = SearchSpace.from_dict({
        "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
        "depth": {"type": "int", "low": 1, "high": 20},
        "same": {"type": "float", "low": 0.0, "high": 1.0},
        "kind": {"type": "categorical", "choices": ["a", "b", "c"]}})
    box = bounding_box(space, [{"lr": 0.01, "depth": 3.4, "same": 0.5, "kind": "a"},
                               {"lr": 0.2, "depth": 7, "same": 0.5, "kind": "a"},
                               {"lr": 5.0}])  # out of the space's own bounds: clipped to them
    d = box.to_dict()
    assert (d["lr"]["low"], d["lr"]["high"], d["lr"]["log"]) == (0.01, 1.0, True)
    assert (d["depth"]["low"], d["depth"]["high"]) == (3, 7)  # integers rounded outward
    assert (d["same"]["low"], d["same"]["high"]) == (0.0, 1.0)  # one value: no box of width zero
    assert d["kind"]["choices"] == ["a", "b", "c"]  # categorical parameters keep every value


def test_the_box_holds_every_past_best_and_the_first_configurations(use_shipped):  # noqa: F811
    frame = metadataset.load_layers()
    families = ["knn", "logistic_regression"]
    space = cash_space("classification", families)
    alone, _ = transfer_box(space, frame, "classification", families, [])
    widest = alone.to_dict()["knn.n_neighbors"]["high"]
    assert widest < 50  # the past best configurations alone narrow n_neighbors (1 to 50)
    first = [join("knn", {"n_neighbors": widest + 3})]
    boxed, notes = transfer_box(space, frame, "classification", families, first)
    assert boxed != space and notes
    for family in families:
        past = past_best_configs(frame, "classification", family)
        assert len(past) >= MIN_TASKS
        for config in past:
            assert boxed.contains(join(family, config)), (family, config)
    assert boxed.to_dict()["knn.n_neighbors"]["high"] == widest + 3  # the first configurations stay inside
    # too few past tasks (2 of 3 held out here): the family's space stays whole
    whole, notes = transfer_box(space, frame, "classification", families, [], exclude_tasks=("wine", "iris"))
    assert whole == space and notes == []


def test_a_run_with_space_box_searches_inside_the_box(use_shipped):  # noqa: F811
    final, study = optimize({"dataset": "wine", "model": "knn"}, trials=6, portfolio=2, folds=3, space_box=True)
    full = get_family("knn").search_space("classification")
    boxed = SearchSpace.from_dict(final["search_space"])
    assert boxed != full and any("narrowed" in n for n in final["space_notes"])
    assert len(study.trials) == 6
    assert all(boxed.contains(t.params) for t in study.trials)
    assert [t.user_attrs["source"] for t in sorted(study.trials, key=lambda t: t.number)][:2] == ["portfolio"] * 2


def test_the_cli_searches_the_box_of_past_tasks_unless_asked_for_the_full_space(use_shipped, capsys, tmp_path):  # noqa: F811
    import json

    from tunegraph.cli import main

    spaces = {}
    for flag in ([], ["--full-space"]):
        out_file = tmp_path / f"result{len(flag)}.json"
        code = main(["optimize", "--dataset", "iris", "--trials", "4", "--llm", "none", "--folds", "3",
                     "--no-learn", "--out", str(out_file), *flag])
        err = capsys.readouterr().err
        said = " ".join(err.split())  # the console wraps long lines
        assert code == 0 and ("in the box of past tasks' best configurations" in said) == (not flag)
        result = json.loads(out_file.read_text())
        spaces[bool(flag)] = result["search_space"]
        assert all(SearchSpace.from_dict(result["search_space"]).contains(t["params"]) for t in result["trials"])
    assert spaces[True] == cash_space("classification").to_dict()  # --full-space: the whole joint space
    assert spaces[False] != spaces[True]  # the default: narrowed to the meta-dataset's best configurations


def test_a_second_worker_on_a_study_searches_the_box_of_its_first_start(use_shipped, capsys, tmp_path):  # noqa: F811
    import json

    from tunegraph.cli import main

    base = ["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--folds", "3", "--no-learn",
            "--study", "boxed"]
    assert main([*base, "--trials", "3", "--out", str(tmp_path / "first.json")]) == 0
    # another worker: a thread of its own, so the box is not in its checkpoint but rebuilt from the study
    assert main([*base, "--trials", "6", "--worker", "w2", "--out", str(tmp_path / "resumed.json")]) == 0
    first, resumed = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("first", "resumed"))
    assert resumed["n_trials"] == 6 and "resuming after 3" in " ".join(capsys.readouterr().err.split())
    assert resumed["search_space"] == first["search_space"] != get_family("knn").search_space("classification").to_dict()
    assert all(SearchSpace.from_dict(resumed["search_space"]).contains(t["params"]) for t in resumed["trials"])
