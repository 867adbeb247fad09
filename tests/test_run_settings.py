"""Run settings reach every node: resume in a new process, environment against explicit values, folds recorded."""

from __future__ import annotations

import optuna
import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from tunegraph.cli import main
from tunegraph.context import Context, ContextError, cli_default
from tunegraph.graphs.optimize import builder
from tunegraph.tools.meta import metadataset
from tunegraph.tools.trials import runs

IRIS_KNN = {"dataset": "iris", "model": "knn", "study_name": "iris-random"}


def test_a_run_resumed_in_a_new_process_keeps_its_context(tmp_path):
    context = Context(llm="none", sampler="random", trials=6, folds=3, seed=7, learn=False)
    config = {"configurable": {"thread_id": "resume"}}
    with SqliteSaver.from_conn_string(str(tmp_path / "ck.db")) as saver:
        graph = builder.compile(checkpointer=saver)
        for update in graph.stream(IRIS_KNN, config, context=context, stream_mode="updates"):
            if "summarize" in update and update["summarize"].get("n_done", 0) >= 3:
                break  # the process "dies" here
    runs.forget_runs()  # a new process: no run is cached, and initialize does not run again
    with SqliteSaver.from_conn_string(str(tmp_path / "ck.db")) as saver:
        graph = builder.compile(checkpointer=saver)
        assert graph.get_state(config).next  # there is something to resume
        final = graph.invoke(None, config, context=context)
    study = optuna.load_study(study_name="iris-random", storage=runs.default_storage())
    sources = [t.user_attrs["source"] for t in study.trials]
    assert final["n_done"] == 6 and len(sources) == 6
    assert sources[0] == "init" and set(sources[1:]) == {"random"}  # the defaults would have given 'tpe'


def test_an_explicit_value_wins_over_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("TUNEGRAPH_TRIALS", "50")
    assert Context().trials == 50 and Context(trials=20).trials == 20
    assert Context(trials=50, seed=3).seed == 3 and cli_default("trials") == 50
    code = main(["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--trials", "3", "--folds", "3",
                 "--no-learn", "--quiet", "--study", "env-vs-flag"])
    assert code == 0
    study = optuna.load_study(study_name="env-vs-flag", storage=runs.default_storage())
    assert len(study.trials) == 3  # not the environment's 50


def test_a_bad_environment_value_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("TUNEGRAPH_TRIALS", "abc")
    with pytest.raises(ContextError, match="TUNEGRAPH_TRIALS='abc' is not an integer"):
        Context()
    assert main(["optimize", "--dataset", "iris"]) == 2
    err = capsys.readouterr().err
    assert "TUNEGRAPH_TRIALS='abc' is not an integer" in err and "Traceback" not in err


def test_the_folds_of_a_run_are_recorded_in_the_meta_dataset_layer():
    code = main(["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--trials", "3", "--folds", "3",
                 "--quiet", "--study", "three-folds", "--learn"])
    assert code == 0
    layer = metadataset.load(metadataset.user_path())
    rows = layer[layer.task == "iris"]
    assert len(rows) >= 1 and set(rows.n_folds) == {3}
