"""End to end with the real embedded LLM (SmolLM2-135M via llama.cpp), offline."""

from __future__ import annotations

import json

import pytest

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tunegraph.cli import main

pytestmark = pytest.mark.llm


def test_optimize_with_the_embedded_llm(capsys, tmp_path):
    out_file = tmp_path / "result.json"
    code = main(["optimize", "--dataset", "breast_cancer", "--model", "logistic_regression", "--trials", "5",
                 "--llm", "embedded", "--sampler", "llm", "--folds", "3", "--study", "e2e", "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out_file.read_text())
    assert result["llm_model"] == "llamacpp:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert result["n_trials"] == 5 and result["n_failed"] == 0
    assert result["llm"]["calls"] >= 5  # the initializer and every optimizer turn asked the model
    sources = [t["source"] for t in result["trials"]]
    assert sources[0] == "init" and set(sources) <= {"init", "llm", "tpe"}
    # every LLM-proposed trial carries the model's reasoning; unusable answers show as fallbacks
    for trial in result["trials"]:
        if trial["source"] == "llm":
            assert trial["reasoning"]
    assert result["llm"]["fallbacks"] + sources.count("llm") + sources.count("init") - 1 >= 4
    assert result["best_value"] > 0.95  # ROC AUC of a tuned logistic regression on breast_cancer


def test_recommend_with_the_embedded_llm(capsys, small_metadataset, tmp_path, monkeypatch):  # noqa: F811
    from tunegraph.tools.meta import knowledge, metadataset

    monkeypatch.setenv("TUNEGRAPH_METADATASET", str(metadataset.save(small_metadataset, tmp_path / "meta.parquet")))
    knowledge.forget()
    out_file = tmp_path / "rec.json"
    code = main(["recommend", "--dataset", "wine", "--llm", "embedded", "--evaluate", "--folds", "3",
                 "--families", "knn", "logistic_regression", "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out_file.read_text())
    final = result["final"]
    assert final["family"] in ("knn", "logistic_regression")
    assert result["llm"]["calls"] >= 2  # the recommender and the judge asked the model
    assert 1 <= final["rounds"] <= 2 and len(result["attempts"]) == final["rounds"]
    # whatever the small model said, the answer is inside the family's space and was judged
    assert final["judgement"]["checks"] and final["source"] in ("llm", "meta-learner")
    assert result["evaluation"]["status"] == "ok" and result["evaluation"]["mean"] > 0.8


def test_chat_turns_with_the_embedded_llm():
    """Plain language the keyword rules cannot place goes to the real model; a command never does."""
    from langgraph.checkpoint.memory import InMemorySaver

    from tunegraph.context import Context
    from tunegraph.graphs.chat import builder

    chat = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "e2e-chat"}}
    context = Context(llm="embedded", trials=3, folds=3)
    state = chat.invoke({"messages": [("user", "hello, what is there to know about the iris data?")]}, config,
                        context=context)
    assert state["llm"]["calls"] >= 1  # the model was asked to read the message
    reply = state["messages"][-1]
    assert reply.type == "ai" and reply.text and reply.additional_kwargs["handled_by"] in ("llm", "rules")
    calls = state["llm"]["calls"]
    state = chat.invoke({"messages": [("user", "/optimize iris --model knn --trials 3 --study e2e-chat")]}, config,
                        context=context)
    assert "3 trials finished" in state["messages"][-1].text
    assert state["messages"][-1].additional_kwargs["handled_by"] == "command"
    assert state["llm"]["calls"] > calls  # the run's Initializer and Optimizer used the model
