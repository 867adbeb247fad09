"""The command line as a user meets it: results, and clear errors (exit 2, no traceback) for bad input."""

from __future__ import annotations

import json
import socket

import pytest

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tests.test_recommend_portfolio import shipped, use_shipped  # noqa: F401  (fixtures: a real small matrix)
from tunegraph.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_optimize_without_llm_prints_the_result_and_writes_json(capsys, tmp_path):
    out_file = tmp_path / "result.json"
    code, out, err = run_cli(capsys, "optimize", "--dataset", "wine", "--model", "random_forest", "--trials", "4",
                             "--llm", "none", "--folds", "3", "--study", "wine-rf", "--out", str(out_file))
    assert code == 0
    assert "best accuracy" in out and "trials by source" in out and "init: 1" in out
    result = json.loads(out_file.read_text())
    assert result["n_trials"] == 4 and result["study"] == "wine-rf" and result["metric"] == "accuracy"
    assert result["best_value"] == max(t["value"] for t in result["trials"])
    assert result["trials_by_source"] == {"init": 1, "tpe": 3}
    best = next(t for t in result["trials"] if t["value"] == result["best_value"])
    assert result["best_trial"] == best["number"]  # one numbering, from 1: in the file as on screen
    assert f"(trial {best['number']}, {best['source']})" in out
    assert [t["number"] for t in result["trials"]] == [1, 2, 3, 4]


def test_csv_file_with_categoricals_and_missing_values(capsys, tmp_path):
    rows = ["size,color,price"] + [f"{i % 17},{['red', 'blue', ''][i % 3]},{i * 2.5 + (i % 5)}" for i in range(80)]
    (tmp_path / "houses.csv").write_text("\n".join(rows))
    code, out, _ = run_cli(capsys, "optimize", "--data", str(tmp_path / "houses.csv"), "--target", "price",
                           "--model", "ridge", "--trials", "3", "--llm", "none", "--folds", "3")
    assert code == 0 and "best rmse" in out


def test_resume_by_study_name_extends_the_budget(capsys):
    base = ["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--folds", "3", "--study", "s1"]
    assert run_cli(capsys, *base, "--trials", "2")[0] == 0
    code, out, err = run_cli(capsys, *base, "--trials", "4")
    assert code == 0 and "4 finished" in out and "resuming after 2" in err


def test_two_runs_in_the_same_second_without_a_study_name_do_not_resume_each_other(capsys, tmp_path, monkeypatch):
    import time

    import optuna

    from tunegraph.tools.trials.runs import default_storage

    frozen, real = time.gmtime(), time.strftime
    monkeypatch.setattr(time, "strftime", lambda fmt, t=None: real(fmt, frozen))  # both start "in the same second"

    base = ["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--folds", "3", "--trials", "2"]
    first, second = (json.loads(_run_to(capsys, tmp_path / f"{n}.json", base)) for n in ("a", "b"))
    assert first["study"] != second["study"] and first["n_trials"] == second["n_trials"] == 2
    assert len(optuna.get_all_study_names(default_storage())) == 2


def _run_to(capsys, out_file, args):
    code, _, err = run_cli(capsys, *args, "--out", str(out_file))
    assert code == 0 and "resuming" not in err
    return out_file.read_text()


@pytest.mark.parametrize("args, message", [
    (["--dataset", "mnist"], "unknown data set 'mnist'; built-in data sets are: breast_cancer"),
    (["--dataset", "iris", "--model", "gpt"], "unknown model family 'gpt'; choose one of: xgboost"),
    (["--dataset", "iris", "--model", "ridge"], "does not do classification"),
    (["--data", "nowhere.csv", "--target", "y"], "data file not found"),
    (["--data", "x.csv"], "--data needs --target"),
    (["--dataset", "iris", "--trials", "0"], "--trials must be an integer >= 1"),
    (["--dataset", "iris", "--metric", "rmse"], "metric 'rmse' is for regression"),
    (["--dataset", "diabetes", "--metric", "roc_auc"], "choose one of: rmse, mae, r2"),
    (["--dataset", "iris", "--target", "colour"], "target column 'colour' not found; columns are:"),
    (["--dataset", "iris", "--llm", "gpt4:turbo"], "unknown LLM provider 'gpt4'"),
    (["--dataset", "iris", "--llm", "llamacpp:/no/such.gguf"], "GGUF file not found"),
    (["--dataset", "iris", "--study", "bad name!"], "invalid study name"),
])
def test_bad_input_gets_a_clear_error(capsys, args, message):
    code, out, err = run_cli(capsys, "optimize", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_files(capsys, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "one.csv").write_text("a,b\n1,x\n2,x\n3,x\n")
    (tmp_path / "words.csv").write_text("a,b\n1,x\n2,y\n3,z\n4,w\n5,v\n6,u\n7,t\n8,s\n9,r\n10,q\n11,p\n")
    (tmp_path / "garbage.parquet").write_bytes(b"\x00\x01 not parquet")
    cases = [("empty.csv", "b", [], "data file is empty"),
             ("one.csv", "b", [], "has a single class"),
             ("words.csv", "b", ["--task-type", "regression"], "regression target 'b' is not numeric"),
             ("garbage.parquet", "b", [], "cannot read")]
    for name, target, extra, message in cases:
        code, _, err = run_cli(capsys, "optimize", "--data", str(tmp_path / name), "--target", target, *extra)
        assert code == 2 and message in err, (name, err)


def test_unreachable_ollama_asked_for_explicitly(capsys, monkeypatch):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{port}")
    code, _, err = run_cli(capsys, "optimize", "--dataset", "iris", "--llm", "ollama:qwen2.5:1.5b")
    assert code == 2 and "does not answer" in err and "--llm embedded" in err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "optimize" in capsys.readouterr().out


def test_chat_with_an_unreachable_llm_server_is_a_clear_error(capsys):
    code = main(["chat", "--llm", "ollama:qwen2.5", "--thread", "t"])  # OLLAMA_HOST points at a dead port
    err = capsys.readouterr().err
    assert code == 2 and "tunegraph: error:" in err and "Ollama" in err


def test_ctrl_c_while_the_run_starts_exits_130_without_a_traceback(capsys, monkeypatch):
    from tunegraph.tools.trials import runs

    def interrupted(*args, **kwargs):  # Ctrl-C while the data set and the LLM load
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "open_run", interrupted)
    code, out, err = run_cli(capsys, "optimize", "--dataset", "wine", "--llm", "none", "--study", "starting")
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def test_optimize_across_families_says_its_plan_the_winning_family_and_each_familys_best(capsys, tmp_path):
    out_file = tmp_path / "result.json"
    code, out, err = run_cli(capsys, "optimize", "--dataset", "iris", "--trials", "5", "--llm", "none", "--folds", "3",
                             "--study", "iris-auto", "--out", str(out_file))
    assert code == 0 and "plan" in err and "the family and its hyperparameters together" in err
    result = json.loads(out_file.read_text())
    assert result["model"] == "auto" and result["best_family"] == result["study_params"]["family"]
    assert "family" not in result["best_params"] and not any("." in name for name in result["best_params"])
    per_family = result["best_per_family"]
    assert per_family[result["best_family"]]["value"] == result["best_value"]
    assert "best family" in out and "best per family" in out
    tried = {t["params"]["family"] for t in result["trials"] if t["value"] is not None}
    assert set(per_family) == tried


def test_the_default_search_says_it_did_not_call_the_llm_it_resolved(use_shipped, capsys, tmp_path):  # noqa: F811
    out_file = tmp_path / "result.json"
    code, out, _ = run_cli(capsys, "optimize", "--dataset", "iris", "--trials", "3", "--folds", "3",
                           "--llm", "embedded", "--out", str(out_file))
    result = json.loads(out_file.read_text())
    assert code == 0 and result["trials_by_source"] == {"portfolio": 1, "tpe": 2}  # the README's path
    assert result["llm"]["calls"] == 0 and result["llm_model"].startswith("llamacpp:")
    assert "not called" in " ".join(out.split())
