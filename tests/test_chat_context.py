"""The conversation's context (agents/chat_context.py): what a message leaves out comes from the
subject, what it names wins, and when a run starts from the recommendation just shown."""

from __future__ import annotations

import pytest

from tunegraph.agents.chat_context import (
    NoData,
    optimize_inputs,
    pick_run,
    recalled_note,
    remember,
    resolve_data,
    warm_configs,
)

WINE = {"data": {"dataset": "wine", "task_type": "classification"}, "model": "knn", "trials": 8}


def test_a_message_without_names_takes_the_subject():
    inputs, recalled = optimize_inputs({"intent": "optimize"}, WINE, 20)
    assert inputs == {"dataset": "wine", "task_type": "classification", "model": "knn", "trials": 8}
    assert recalled_note(recalled) == ["from earlier in this conversation: data wine, model knn, 8 trials"]


def test_what_a_message_names_wins():
    request = {"intent": "optimize", "dataset": "iris", "model": "svm", "trials": 3}
    inputs, recalled = optimize_inputs(request, WINE, 20)
    assert inputs == {"dataset": "iris", "model": "svm", "trials": 3}  # nothing of wine's is kept
    assert recalled == {}
    inputs, _ = optimize_inputs({"intent": "optimize", "dataset": "iris"}, WINE, 20)
    assert inputs["trials"] == 20 and inputs["model"] == "knn"  # the budget went with wine; the family carries over


def test_a_file_named_again_keeps_its_target_and_a_new_target_drops_the_task_type(tmp_path):
    path = tmp_path / "titanic.csv"
    path.write_text("age,survived\n1,0\n")
    subject = {"data": {"data_path": str(path), "target": "survived", "task_type": "classification"}}
    data, remembered = resolve_data({"data_path": str(path)}, subject)
    assert data == subject["data"] and not remembered
    data, remembered = resolve_data({"target": "age"}, subject)
    assert data == {"data_path": str(path), "target": "age"} and remembered
    with pytest.raises(NoData, match="There is no file"):
        resolve_data({"data_path": str(tmp_path / "missing.csv")}, subject)
    with pytest.raises(NoData, match="Which data"):
        resolve_data({}, None)


def test_a_recommendation_warm_starts_only_its_family_on_its_data():
    recommendation = {"final": {"family": "knn", "params": {"n_neighbors": 7}, "justification": "close ones vote"},
                      "inputs": {"dataset": "wine"},
                      "evidence": {"candidates": [{"family": "knn", "params": {"n_neighbors": 7}, "shap": []},
                                                  {"family": "svm", "params": {"C": 1.0}, "shap": []},
                                                  {"family": "knn", "params": {"n_neighbors": 3}, "shap": ["k small"]}]}}
    configs = warm_configs(recommendation, {"dataset": "wine", "model": "knn"})
    assert [c["params"] for c in configs] == [{"n_neighbors": 7}, {"n_neighbors": 3}]
    assert configs[0]["reasoning"] == "the recommendation: close ones vote" and configs[1]["reasoning"] == "k small"
    assert warm_configs(recommendation, {"dataset": "wine", "model": "svm"}) == []
    assert warm_configs(recommendation, {"dataset": "iris", "model": "knn"}) == []
    assert warm_configs(recommendation, {"dataset": "wine", "model": "knn", "target": "alcohol"}) == []


def test_the_run_a_message_refers_to():
    runs = [{"study": "a", "model": "knn", "inputs": {"dataset": "wine"}},
            {"study": "b", "model": "svm", "inputs": {"dataset": "iris"}}]
    assert pick_run(runs, {})["study"] == "b"
    assert pick_run(runs, {"model": "knn"})["study"] == "a"
    assert pick_run(runs, {"dataset": "wine"})["study"] == "a"
    assert pick_run(runs, {"dataset": "wine", "model": "svm"}) is None
    assert pick_run(runs, {"study_name": "a"})["study"] == "a"


def test_the_subject_after_a_turn_is_plain_and_keeps_the_budget_of_the_same_data():
    subject = remember(WINE, {"dataset": "wine", "model": "svm", "study_name": "x"}, "classification", "svm")
    assert subject == {"data": {"dataset": "wine", "task_type": "classification"}, "model": "svm", "trials": 8}
    assert remember(WINE, {"dataset": "iris"}, "classification", "svm")["trials"] is None
