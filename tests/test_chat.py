"""The chat graph: reading requests (commands, rules, LLM), confirmation, runs, explanations."""

from __future__ import annotations

import optuna
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from tests.helpers import scripted_llm
from tests.test_metalearner import small_metadataset  # noqa: F401
from tests.test_recommend import kb  # noqa: F401  (fixture: a small meta-dataset)
from tunegraph.agents import chat as chat_agent
from tunegraph.agents.chat_intent import parse_command, parse_rules, understand
from tunegraph.context import Context
from tunegraph.graphs import chat as chat_graph
from tunegraph.tools.llm.answers import format_config
from tunegraph.tools.meta import knowledge
from tunegraph.tools.trials import runs


@pytest.fixture
def chat():
    graph = chat_graph.builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "test"}, "recursion_limit": 1000}

    def turn(payload, **context):
        if isinstance(payload, str):
            payload = {"messages": [("user", payload)]}
        events = []
        for mode, chunk in graph.stream(payload, config, context=Context(llm="none", **context),
                                        stream_mode=["updates", "custom"]):
            events.append((mode, chunk))
        state = graph.get_state(config)
        return state, events

    return turn


def last_reply(state):
    message = state.values["messages"][-1]
    return message.text, message.additional_kwargs["handled_by"]


# --- reading requests --------------------------------------------------------------------------
def test_command_parses_data_target_and_budget():
    request = parse_command("/optimize houses.csv --target price --trials 30 --model random_forest")
    assert (request.intent, request.data_path, request.target, request.trials, request.model) == \
        ("optimize", "houses.csv", "price", 30, "random_forest")
    assert parse_command("/recommend Iris").dataset == "iris"


@pytest.mark.parametrize("text, error", [("/frobnicate", "unknown command"), ("/optimize --trials many", "invalid int"),
                                         ("/optimize iris --trials 0", "greater than or equal"),
                                         ('/optimize "unclosed', "cannot read")])
def test_bad_commands_become_help_with_the_reason(text, error):
    request = parse_command(text)
    assert request.intent == "help" and error in request.error


@pytest.mark.parametrize("text, intent, entities", [
    ("tune a random forest on wine with 15 trials", "optimize", {"dataset": "wine", "model": "random_forest", "trials": 15}),
    ("please find good settings for houses.csv, target price", "optimize", {"data_path": "houses.csv", "target": "price"}),
    ("could you recommend hyperparameters for the breast cancer data", "recommend", {"dataset": "breast_cancer"}),
    ("why was that learning rate picked?", "explain", {}),
    ("show me the best trial so far", "status", {}),
    ("I'd like to get going again", "continue", {}),
    ("stop it", "stop", {}),
    ("what worked on small data sets with knn?", "lookup", {"model": "knn"}),
    ("show me past experiments like iris", "lookup", {"dataset": "iris"}),
    ("hello there", None, {}),
    # what a conversation says next: the data (and the family) come from earlier
    ("tune it with 8 trials", "optimize", {"trials": 8, "dataset": None, "data_path": None}),
    ("try random forest instead", "optimize", {"model": "random_forest"}),
    ("run 10 more trials", "continue", {"trials": 10}),
    ("more trials", "continue", {"trials": None}),
    ("which model should I use for titanic.csv predicting survived?", "recommend",
     {"data_path": "titanic.csv", "target": "survived"}),
])
def test_rules_read_plain_language(text, intent, entities):
    found_intent, found = parse_rules(text)
    assert found_intent == intent
    assert {k: found.get(k) for k in entities} == entities


def test_llm_reads_what_rules_cannot_and_invents_nothing():
    llm = scripted_llm('{"intent": "recommend", "data": "wine", "target": "quality"}')
    request, path, counts = understand("wine, please: what would you pick?", llm)
    assert (request.intent, path, request.dataset) == ("recommend", "llm", "wine")
    assert request.target is None  # 'quality' is not in the message
    assert counts["calls"] == 1


def test_llm_is_not_asked_when_rules_know_and_garbage_falls_back():
    llm = scripted_llm("not json at all", then="still not json")
    request, path, counts = understand("tune knn on iris", llm)
    assert (request.intent, path, counts["calls"]) == ("optimize", "rules", 0)
    request, path, counts = understand("hello there", llm, retries=1)
    assert (request.intent, path) == ("unknown", "rules")
    assert counts["calls"] == 2 and counts["invalid"] == 2


# --- the graph -------------------------------------------------------------------------------
def test_empty_unknown_and_missing_file_get_clear_replies(chat):
    state, _ = chat("   ")
    assert last_reply(state) == ("Your message was empty. Tell me what to do, or type /help.", "rules")
    state, _ = chat("/frobnicate")
    text, path = last_reply(state)
    assert "unknown command '/frobnicate'" in text and path == "command"
    state, _ = chat("/optimize nowhere.csv --target y")
    assert "There is no file" in last_reply(state)[0] and "nowhere.csv" in last_reply(state)[0]
    state, _ = chat("what is the weather like?")
    assert "did not understand" in last_reply(state)[0]
    state, _ = chat("/explain")
    assert "nothing recorded to explain" in last_reply(state)[0]
    state, _ = chat("/optimize iris --target nope")
    assert "cannot start that optimization" in last_reply(state)[0]


def test_long_run_waits_for_confirmation_and_decline_starts_nothing(chat):
    state, events = chat("tune knn on iris with 6 trials", confirm_above_s=0)
    assert state.next == ("confirm",)
    question = state.interrupts[0].value["question"]
    assert "6 trials of knn on iris" in question and "Go ahead" in question
    state, _ = chat(Command(resume="no"), confirm_above_s=0)
    assert "Not started" in last_reply(state)[0] and not state.next
    assert optuna.get_all_study_names(runs.default_storage()) == []


def test_confirmed_run_streams_trials_then_status_explain_and_continue(chat):
    chat("/optimize iris --model knn --trials 6 --study chat-iris", confirm_above_s=0)
    state, events = chat(Command(resume="yes"), confirm_above_s=0)
    trials = [c for mode, c in events if mode == "custom" and c["event"] == "trial" and c["n_done"]]
    assert [t["n_done"] for t in trials] == [1, 2, 3, 4, 5, 6]
    text, path = last_reply(state)
    assert path == "command" and "chat-iris" in text and "6 trials finished" in text
    study = optuna.load_study(study_name="chat-iris", storage=runs.default_storage())
    best = study.best_trial

    state, _ = chat("how is the run going?")
    assert f"{best.value:.5g}" in last_reply(state)[0]
    state, _ = chat("why that n_neighbors?")
    text, path = last_reply(state)
    assert path == "rules" and f'"n_neighbors": {best.params["n_neighbors"]}' in text
    assert best.user_attrs["source"] in ("init", "tpe", "random")  # and the answer names who proposed it
    state, _ = chat("/explain max_depth")
    assert "No recorded parameter is named max_depth" in last_reply(state)[0]

    state, _ = chat("/continue --trials 3")  # short: under the default confirmation threshold
    assert "9 trials finished" in last_reply(state)[0]
    assert len([t for t in study.trials if t.state.is_finished()]) == 9


def test_one_trial_numbering_in_streamed_lines_summary_status_and_explanation(chat):
    """Streamed lines count trials from 1; the summary, /status and "why?" name the same trial
    by the same number (Optuna's trial.number, from 0, stays internal)."""
    from tunegraph.cli.chat import _show_event

    state, events = chat("/optimize iris --model knn --trials 6 --study numbered")
    trials = [c for mode, c in events if mode == "custom" and c["event"] == "trial" and c["number"]]
    assert [t["number"] for t in trials] == [1, 2, 3, 4, 5, 6]
    best = optuna.load_study(study_name="numbered", storage=runs.default_storage()).best_trial
    shown = best.number + 1
    assert trials[-1]["best_number"] == shown
    assert next(t for t in trials if t["number"] == shown)["last"]["value"] == best.value
    assert f"at trial {shown} " in last_reply(state)[0]
    lines = []
    _show_event(trials[-1], lines.append)
    assert lines[0].startswith("  trial 6/6 (") and lines[0].endswith(f"best {best.value:.5g} (trial {shown})")
    state, _ = chat("/status")
    assert f"at trial {shown} " in last_reply(state)[0]
    state, _ = chat("why that n_neighbors?")
    assert f"the best trial ({shown}, accuracy" in last_reply(state)[0]


def test_stop_request_ends_a_run_after_the_current_trial(chat, monkeypatch):
    original = chat_agent.get_stream_writer

    def writer_that_stops():
        write = original()

        def write_and_stop(event):
            write(event)
            if event.get("event") == "trial" and event.get("n_done") == 2:
                chat_agent.request_stop()  # what Ctrl-C does in the terminal
        return write_and_stop

    monkeypatch.setattr(chat_agent, "get_stream_writer", writer_that_stops)
    state, _ = chat("/optimize iris --model knn --trials 50 --study stop-me")
    text = last_reply(state)[0]
    assert "stopped at your request" in text and "/continue" in text
    study = optuna.load_study(study_name="stop-me", storage=runs.default_storage())
    assert len([t for t in study.trials if t.state.is_finished()]) == 2
    assert not chat_agent.STOP.is_set()


def test_recommend_then_explain_quotes_its_evidence(chat, kb):  # noqa: F811
    state, _ = chat("/recommend wine --families knn logistic_regression")
    text, path = last_reply(state)
    final = state.values["recommendation"]["final"]
    assert path == "command" and f"I recommend {final['family']}" in text
    state, _ = chat("why?")
    text = last_reply(state)[0]
    assert final["justification"] in text and "SHAP evidence" in text


def test_lookup_finds_recorded_experiments_by_meaning(chat, kb):  # noqa: F811
    """The text index over the meta-dataset (real MiniLM embeddings, FAISS), built on first use, cached."""
    state, events = chat("/lookup logistic regression")
    text, path = last_reply(state)
    hits = [line for line in text.splitlines() if line.startswith("- ")]
    assert path == "command" and f"searched {len(kb.frame)} records" in text
    assert len(hits) == 4  # one per data set of the fixture: no data set fills the list
    assert len({h.split("'")[1] for h in hits}) == 4
    assert all(line.startswith("- logistic_regression on a classification task") for line in hits), text
    steps = [chunk.get("detail", "") for mode, chunk in events if mode == "custom" and chunk.get("event") == "step"]
    assert any("embedding" in s for s in steps)  # the slow first search says so while it works
    state, _ = chat("what worked on data like cancer_small with k nearest neighbours?")
    text, path = last_reply(state)
    hits = [line for line in text.splitlines() if line.startswith("- ")]
    assert path == "rules" and hits and sum("knn on" in h for h in hits) >= 3, text
    assert (knowledge.cache_dir() / "retrieval" / "text_index.json").is_file()  # embedded once, then loaded
    knowledge.forget()
    state, events = chat("/lookup knn")
    assert not any("embedding" in str(chunk) for mode, chunk in events if mode == "custom")
    state, _ = chat("/lookup")
    assert "What should I look up?" in last_reply(state)[0]


def test_lookup_without_a_meta_dataset_says_so(chat):
    state, _ = chat("/lookup xgboost on large data")
    assert "no recorded experiments to search" in last_reply(state)[0].lower()


def test_storage_url_stays_out_of_the_conversation_state(chat, tmp_path):
    url = f"sqlite:///{tmp_path / 'secret-studies.db'}"
    state, _ = chat("/optimize iris --model knn --trials 2 --study kept-apart", storage=url)
    assert "2 trials finished" in last_reply(state)[0]
    assert "secret-studies" not in repr(state.values)  # the checkpoint holds no storage URL
    state, _ = chat("/status", storage=url)
    assert "Study kept-apart" in last_reply(state)[0] and "2 trials finished" in last_reply(state)[0]


# --- the conversation's context ----------------------------------------------------------------
@pytest.fixture
def passengers(tmp_path):
    """A small binary CSV whose target is 'survived' (the user's report), in the working directory."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.iloc[:150, [0, 1, 2, 3, 4, 5, -1]]
    frame.rename(columns={"target": "survived"}).to_csv(tmp_path / "passengers.csv", index=False)
    return tmp_path / "passengers.csv"


def finished(study):
    return [t for t in study.trials if t.state.is_finished()]


def test_recommend_then_tune_it_then_another_family_then_more_trials_and_why(chat, kb, passengers):  # noqa: F811
    state, _ = chat("which model should I use for passengers.csv predicting survived?")
    final = state.values["recommendation"]["final"]
    assert last_reply(state)[1] == "rules" and f"I recommend {final['family']}" in last_reply(state)[0]

    state, events = chat("tune it with 8 trials", folds=3)  # was: "Which data?"
    text, path = last_reply(state)
    run = state.values["runs"][-1]
    assert path == "rules" and run["inputs"]["data_path"] == str(passengers) and run["model"] == final["family"]
    assert text.startswith("From earlier in this conversation: data passengers.csv (target survived), model "
                           f"{final['family']}.\n")
    assert f"Warm-started from the recommendation above: {final['family']} with {format_config(final['params'])}" \
        in text
    study = optuna.load_study(study_name=run["study"], storage=runs.default_storage())
    assert study.user_attrs["target"] == "survived" and len(finished(study)) == 8
    meta = [t for t in study.trials if t.user_attrs["source"] == "meta"]
    assert meta and meta[0].params == final["params"] and meta[0].number == 1  # right after the library defaults
    assert meta[0].user_attrs["reasoning"].startswith("the recommendation: ")
    assert f"The recommended configuration ran as trial 2: {study.user_attrs['metric']} {meta[0].value:.5g}." in text
    streamed = [c for mode, c in events if mode == "custom" and c["event"] == "trial" and c["number"]]
    assert streamed[1]["last"]["source"] == "meta" and streamed[1]["number"] == 2

    state, _ = chat("try random forest instead", folds=3)
    text, path = last_reply(state)
    rf = state.values["runs"][-1]
    assert path == "rules" and rf["model"] == "random_forest" and rf["inputs"]["data_path"] == str(passengers)
    assert "Warm-started" not in text  # the recommendation was for another family
    rf_study = optuna.load_study(study_name=rf["study"], storage=runs.default_storage())
    assert len(finished(rf_study)) == 8  # the budget of the run it replaces
    assert not [t for t in rf_study.trials if t.user_attrs["source"] == "meta"]

    state, _ = chat("run 3 more trials", folds=3)
    assert "11 trials finished" in last_reply(state)[0] and state.values["runs"][-1]["study"] == rf["study"]
    assert len(finished(rf_study)) == 11 and len(finished(study)) == 8
    state, _ = chat("more trials", folds=3)  # 10 more by default
    assert len(finished(rf_study)) == 21

    state, _ = chat("why that max_depth?")
    best = rf_study.best_trial
    text = last_reply(state)[0]
    assert text.startswith(f"In study {rf['study']}, the best trial ({best.number + 1}, roc_auc") and \
        f'"max_depth": {best.params["max_depth"]}' in text

    # an explicit mention wins over the remembered data and family
    state, _ = chat("tune knn on iris with 3 trials", folds=3)
    latest = state.values["runs"][-1]
    assert (latest["data"], latest["model"]) == ("iris", "knn") and "earlier in this conversation" not in \
        last_reply(state)[0]
    state, _ = chat(f"run 2 more trials of {final['family']}", folds=3)  # the last run of that family
    assert state.values["runs"][-1]["study"] == run["study"] and len(finished(study)) == 10
    state, _ = chat("run 2 more trials of svm")
    assert "There is no optimization of svm to continue" in last_reply(state)[0]


def test_data_named_again_keeps_its_target_and_warm_starts(chat, kb, passengers):  # noqa: F811
    chat("/recommend passengers.csv --target survived --families knn logistic_regression")
    final = chat("/status")[0].values["recommendation"]["final"]
    state, _ = chat("tune passengers.csv with 4 trials", folds=3)
    text = last_reply(state)[0]
    assert "Warm-started from the recommendation above" in text and "4 trials finished" in text
    # named in the message: its target (and the recommended family) came from memory
    assert text.startswith(f"From earlier in this conversation: target survived, model {final['family']}.\n")
    run = state.values["runs"][-1]
    assert run["inputs"]["target"] == "survived" and run["model"] == final["family"]


def test_why_that_parameter_answers_for_what_was_shown_last(chat, kb):  # noqa: F811
    chat("/recommend wine --families knn")
    state, _ = chat("tune it with 3 trials", folds=3)
    assert "Warm-started from the recommendation above: knn" in last_reply(state)[0]
    state, _ = chat("why that n_neighbors?")  # the run and the recommendation both have one: the run's
    text = last_reply(state)[0]
    assert text.startswith("In study wine-knn-") and "The recommendation was" not in text
    chat("/recommend wine --families knn")
    state, _ = chat("why that n_neighbors?")
    assert last_reply(state)[0].startswith("The recommendation was knn")


def test_no_data_anywhere_still_asks_which_data(chat):
    state, _ = chat("tune it with 8 trials")
    assert last_reply(state)[0].startswith("Which data?")
    state, _ = chat("which model should I use?")
    assert last_reply(state)[0].startswith("Which data?") and "/recommend data.csv" in last_reply(state)[0]


def test_the_llm_reading_path_uses_the_conversation_too(chat, kb, monkeypatch):  # noqa: F811
    """Messages only the LLM can read ("put it through 5 trials") refer to the remembered data."""
    llm = scripted_llm('{"intent": "recommend", "data": "wine"}', '{"intent": "optimize", "trials": 5}',
                       '{"intent": "optimize", "model": "random forest"}')
    monkeypatch.setattr(chat_agent, "get_llm", lambda spec: llm)
    state, _ = chat("wine, please: what would you pick?")
    final = state.values["recommendation"]["final"]
    assert last_reply(state)[1] == "llm"
    state, _ = chat("now put it through 5 trials", folds=3)
    text, path = last_reply(state)
    run = state.values["runs"][-1]
    assert path == "llm" and (run["data"], run["model"]) == ("wine", final["family"])
    assert "Warm-started from the recommendation above" in text and "5 trials finished" in text
    state, _ = chat("and a random forest, please", folds=3)
    text, path = last_reply(state)
    run = state.values["runs"][-1]
    assert path == "llm" and (run["data"], run["model"]) == ("wine", "random_forest") and "5 trials finished" in text


def test_save_the_model_and_predict_a_file_with_the_last_run(chat, tmp_path):
    from sklearn.datasets import load_iris

    state, _ = chat("save the best model so I can predict new data")
    assert "no saved model in this conversation" in last_reply(state)[0]
    state, _ = chat("/optimize iris --model knn --trials 2")
    text, _ = last_reply(state)
    assert "Model (knn of trial" in text and ".tgm" in text
    state, _ = chat("save the model to exported/iris-knn.tgm")
    text, path = last_reply(state)
    saved = tmp_path / "exported" / "iris-knn.tgm"
    assert path == "rules" and saved.is_file() and str(saved) in text
    rows = load_iris(as_frame=True).frame.drop(columns=["target"]).head(7)
    rows.assign(extra=1).to_csv(tmp_path / "new_rows.csv", index=False)
    state, _ = chat("predict new_rows.csv")
    text, path = last_reply(state)
    out = tmp_path / "new_rows-predictions.csv"
    assert path == "rules" and out.is_file() and str(out) in text and "proba_<class>" in text and "extra" in text
    import pandas as pd

    from tunegraph import load_model

    written = pd.read_csv(out)
    assert list(written["prediction"]) == list(load_model(saved).predict(rows))
    state, _ = chat("/predict nowhere.csv")
    assert "could not predict nowhere.csv" in last_reply(state)[0]


def test_best_so_far_is_the_conversations_best_naming_its_study(chat):
    chat("/optimize wine --model logistic_regression --trials 3 --study wine-lr")
    chat("/optimize wine --model knn --trials 3 --study wine-knn")  # last, and (on wine) the weaker family
    studies = {name: optuna.load_study(study_name=name, storage=runs.default_storage()) for name in ("wine-knn", "wine-lr")}
    winner = max(studies, key=lambda name: studies[name].best_value)
    state, _ = chat("what was the best so far?")
    text, _ = last_reply(state)
    assert text.startswith("Study wine-knn")  # the last run's status first
    if winner == "wine-knn":
        assert "Best over this conversation" not in text
    else:
        assert f"Best over this conversation on this data: accuracy {studies[winner].best_value:.5g} in study {winner}" in text
