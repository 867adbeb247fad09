"""`tunegraph metadata build|info|add|remove` as a user runs them, and what a run adds to your layer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_metadataset import tiny_datasets  # noqa: F401  (fixture)
from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tests.test_recommend_portfolio import shipped, use_shipped  # noqa: F401  (fixtures: a real small matrix)
from tunegraph.cli import main
from tunegraph.tools.meta import metadataset


def test_build_info_plot_and_add(capsys, tmp_path, tiny_datasets):  # noqa: F811
    out = tmp_path / "meta.parquet"
    code = main(["metadata", "build", "--datasets", str(tiny_datasets), "--families", "knn", "linear",
                 "--configs-per-family", "3", "--folds", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    built = json.loads(printed)
    assert built["rows"] == 12 and built["tasks"] == 2

    plot = tmp_path / "shap.png"
    assert main(["metadata", "info", "--path", str(out), "--importance", "--plot", str(plot)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"] == 12 and info["shap_importance"] and plot.read_bytes()[:4] == b"\x89PNG"

    assert main(["optimize", "--dataset", "iris", "--model", "knn", "--trials", "3", "--llm", "none",
                 "--folds", "3", "--study", "mine", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["metadata", "add", "mine"]) == 0
    assert "added 3 experiments" in capsys.readouterr().out
    layer = metadataset.load(metadataset.user_path())
    assert len(layer) == 3 and set(layer.task) == {"iris"} and set(layer.source) == {"init", "tpe"}
    combined = metadataset.load_layers(shipped=out)
    # the study's default trial is the same experiment (task 'iris', knn defaults) as a built one:
    # counted once, the user's row winning
    assert len(combined) == 14 and combined.task.nunique() == 2
    same = combined[(combined.task == "iris") & (combined.family == "knn") & (combined.source == "init")]
    assert len(same) == 1


def test_metadata_errors(capsys, tmp_path):
    assert main(["metadata", "build", "--datasets", str(tmp_path)]) == 2
    assert "has no index.json" in capsys.readouterr().err
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    assert main(["metadata", "info", "--path", str(tmp_path / "bad.parquet")]) == 2
    assert "unreadable" in capsys.readouterr().err
    assert main(["metadata", "add", "no-such-study"]) == 2
    assert "no study named 'no-such-study'" in capsys.readouterr().err


def test_a_short_run_is_not_learned_unless_asked_and_a_run_can_be_taken_back_out(capsys):
    from tunegraph.tools.meta import user_layer

    args = ["optimize", "--dataset", "iris", "--model", "knn", "--trials", "3", "--llm", "none", "--folds", "3",
            "--quiet", "--no-model"]
    assert main([*args, "--study", "short", "--out", "short.json"]) == 0
    short = json.loads(Path("short.json").read_text())
    assert short["learned"] == 0 and "fewer than 10" in short["learn_note"]
    assert not metadataset.user_path().exists()
    assert main([*args, "--study", "asked", "--learn"]) == 0
    assert main(["optimize", "--dataset", "wine", "--model", "knn", "--trials", "3", "--llm", "none", "--folds", "3",
                 "--quiet", "--no-model", "--study", "other", "--learn"]) == 0
    assert set(user_layer.studies()) == {"asked", "other"}
    capsys.readouterr()
    assert main(["metadata", "info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["your_studies"]["asked"]["task"] == "iris" and info["your_studies"]["other"]["records"] >= 1
    assert main(["metadata", "remove", "asked"]) == 0
    assert "removed" in capsys.readouterr().out
    layer = metadataset.load(metadataset.user_path())
    assert set(layer.task) == {"wine"} and set(user_layer.studies()) == {"other"}
    assert main(["metadata", "remove", "asked"]) == 2
    assert "no study named 'asked' in your meta-dataset layer" in capsys.readouterr().err


def test_portfolio_trials_are_learned_as_portfolio(use_shipped):  # noqa: F811
    assert main(["optimize", "--dataset", "iris", "--trials", "4", "--llm", "none", "--folds", "3", "--quiet",
                 "--no-model", "--study", "pf", "--learn"]) == 0
    layer = metadataset.load(metadataset.user_path())
    assert "portfolio" in set(layer.source)  # one list of sources: they were learned as "user"
