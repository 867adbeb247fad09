"""The recommend graph: each agent alone (a scripted model for the LLM agents) and the whole graph."""

from __future__ import annotations

import json

import pytest
from langgraph.runtime import Runtime

from tests.helpers import scripted_llm
from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tunegraph.agents.judge import best_attempt, deterministic_checks, judge
from tunegraph.agents.recommender import meta_learner_recommendation, recommend
from tunegraph.agents.retriever import gather_evidence
from tunegraph.cli import main
from tunegraph.context import Context
from tunegraph.graphs.recommend import graph
from tunegraph.tools.meta import knowledge, metadataset
from tunegraph.tools.ml.tasks import load_task
from tunegraph.tools.trials import runs


@pytest.fixture
def kb(small_metadataset, tmp_path, monkeypatch):  # noqa: F811
    path = metadataset.save(small_metadataset, tmp_path / "meta.parquet")
    monkeypatch.setenv("TUNEGRAPH_METADATASET", str(path))
    knowledge.forget()
    yield knowledge.open_knowledge()
    knowledge.forget()


def evidence_for(kb, dataset="wine", families=("knn", "logistic_regression"), **kw):
    return gather_evidence(kb, load_task(dataset=dataset), list(families), n_candidates=4, **kw)


def state_for(kb, **extra):
    ev = evidence_for(kb)
    return {"dataset": "wine", "task_type": "classification", "task_summary": "wine", "metric": "accuracy",
            "families": ["knn", "logistic_regression"], "evidence": ev, "known_tasks": sorted(kb.frame.task.unique()),
            **extra}


def rt(**kw):
    return Runtime(context=Context(**kw))


def test_retriever_gathers_similar_tasks_candidates_and_shap(kb):
    ev = evidence_for(kb)
    assert [c["id"] for c in ev["candidates"]] == ["C1", "C2", "C3", "C4"]
    assert all(c["family"] in ("knn", "logistic_regression") and c["shap"] for c in ev["candidates"])
    assert [c["predicted_score"] for c in ev["candidates"]] == sorted((c["predicted_score"] for c in ev["candidates"]),
                                                                       reverse=True) or len({c["family"] for c in ev["candidates"]}) > 1
    assert ev["similar_tasks"] and all(s["task"] in kb.frame.task.unique() for s in ev["similar_tasks"])
    assert evidence_for(kb, families=("knn",))["candidates"][0]["family"] == "knn"


def test_recommender_without_llm_justifies_from_evidence(kb):
    rec = meta_learner_recommendation(evidence_for(kb))
    assert rec["source"] == "meta-learner" and rec["candidate"] == "C1"
    assert "SHAP" in rec["justification"] and "predicted normalized score" in rec["justification"]
    checks = deterministic_checks(rec, evidence_for(kb), ["knn", "logistic_regression"], "classification",
                                  sorted(kb.frame.task.unique()))
    assert all(c["passed"] for c in checks), checks


@pytest.mark.parametrize("reply, fallback", [
    ("no idea", True),
    ('{"choice": "C9", "changes": {}, "expected_score": 1, "expected_fit_time_s": 1, "justification": "x"}', True),
    ('{"choice": "C2", "changes": {"n_neighbors": 999, "colour": 1}, "expected_score": 0.9, '
     '"expected_fit_time_s": 0.01, "justification": "C2 fits; SHAP favours it"}', False),
])
def test_recommender_with_scripted_llm(kb, reply, fallback):
    runs.register_llm("scripted-rec", scripted_llm(then=reply))
    out = recommend(state_for(kb), rt(llm="scripted-rec", llm_retries=0))
    rec = out["recommendation"]
    assert (rec["source"] == "meta-learner") == fallback
    assert out["llm"]["fallbacks"] == (1 if fallback else 0)
    if not fallback:
        chosen = next(c for c in state_for(kb)["evidence"]["candidates"] if c["id"] == "C2")
        assert rec["family"] == chosen["family"] and "colour" not in rec["params"]
        if chosen["family"] == "knn":
            assert rec["params"]["n_neighbors"] == 50  # clipped into the space


def test_judge_checks_catch_bad_claims(kb):
    state = state_for(kb)
    good = meta_learner_recommendation(state["evidence"])
    bad = {**good, "expected_score": good["expected_score"] + 0.5, "family": "svm",
           "justification": good["justification"] + " It worked on cancer_small too."}
    similar = {s["task"] for s in state["evidence"]["similar_tasks"]}
    checks = {c["check"]: c for c in deterministic_checks(bad, state["evidence"], state["families"], "classification",
                                                          state["known_tasks"])}
    assert not checks["family allowed"]["passed"] and not checks["expected score matches the evidence"]["passed"]
    assert checks["cites only evidence"]["passed"] == ("cancer_small" in similar)


def test_judge_sends_critique_back_and_the_best_attempt_wins(kb):
    runs.register_llm("scripted-judge", scripted_llm(then='{"format": 2, "consistency": 1, "completeness": 2, '
                                                            '"critique": "cite the similar data sets"}'))
    state = state_for(kb)
    state["recommendation"] = meta_learner_recommendation(state["evidence"])
    out = judge(state, rt(llm="scripted-judge"))
    assert out["judgement"]["by"] == "llm+checks" and not out["judgement"]["passed"]
    assert "cite the similar data sets" in out["judgement"]["critique"]
    attempts = [{"recommendation": {"n": 1}, "judgement": {"passed": False, "score": 1.5}},
                {"recommendation": {"n": 2}, "judgement": {"passed": False, "score": 2.5}},
                {"recommendation": {"n": 3}, "judgement": {"passed": False, "score": 2.0}}]
    assert best_attempt(attempts)["recommendation"] == {"n": 2}


def test_graph_without_llm_evaluates_the_recommendation(kb):
    out = graph.invoke({"dataset": "wine", "evaluate": True, "families": ["knn", "logistic_regression"]},
                       context=Context(llm="none", folds=3))
    final = out["final"]
    assert final["source"] == "meta-learner" and final["rounds"] == 1 and final["judgement"]["passed"]
    assert out["evaluation"]["status"] == "ok" and 0.5 < out["evaluation"]["mean"] <= 1.0


def test_graph_rounds_are_bounded_when_the_judge_keeps_rejecting(kb):
    answer = json.dumps({"choice": "C1", "changes": {}, "expected_score": 0.0, "expected_fit_time_s": 99,
                         "justification": "because"})  # far from the evidence: the checks fail every round
    runs.register_llm("scripted-stubborn", scripted_llm(then=answer))
    out = graph.invoke({"dataset": "wine"}, context=Context(llm="scripted-stubborn", max_rounds=3))
    assert len(out["attempts"]) == 3 and out["final"]["rounds"] == 3
    assert not out["final"]["judgement"]["passed"]


def test_cli_recommend(capsys, kb, tmp_path):
    code = main(["recommend", "--dataset", "wine", "--llm", "none", "--evaluate", "--folds", "3",
                 "--families", "knn", "logistic_regression", "--out", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "justification" in out and "cross-validated accuracy" in out and "response time" in out
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["final"]["family"] in ("knn", "logistic_regression")
    first = saved["evidence"]["similar_tasks"][0]["task"]
    assert "similar data sets" in out and first in out  # named on screen, not only in --out
    assert main(["recommend", "--dataset", "wine", "--families", "ridge", "--llm", "none"]) == 2
    assert "cannot do classification" in capsys.readouterr().err


def test_cli_recommend_without_any_metadataset(capsys):
    assert main(["recommend", "--dataset", "wine", "--llm", "none"]) == 2
    assert "no meta-dataset found" in capsys.readouterr().err


def test_warm_start_and_learning_from_the_run(kb):
    from langgraph.checkpoint.memory import InMemorySaver

    from tunegraph.graphs.optimize import builder

    g = builder.compile(checkpointer=InMemorySaver())
    final = g.invoke({"dataset": "wine", "model": "knn", "study_name": "warm"}, {"configurable": {"thread_id": "w"}},
                     context=Context(llm="none", trials=5, folds=3, warm_start=2, learn_min_trials=1))
    study = runs.open_run({"dataset": "wine", "model": "knn", "study_name": "warm"},
                             storage=runs.default_storage()).study
    sources = [t.user_attrs["source"] for t in study.trials]
    assert sources[:3] == ["init", "meta", "meta"] and len(sources) == 5
    assert final["learned"] == 5
    layer = metadataset.load(metadataset.user_path())
    distinct = {json.dumps(t.params, sort_keys=True) for t in study.trials}  # a configuration counts once
    assert set(layer.task) == {"wine"} and len(layer) == len(distinct) >= 3
    knowledge.forget()
    assert "wine" in knowledge.open_knowledge().frame.task.unique()  # the next recommendation sees this run
