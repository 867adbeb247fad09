"""`tunegraph metadata build|info|add` as a user runs them."""

from __future__ import annotations

import json

from tests.test_metadataset import tiny_datasets  # noqa: F401  (fixture)
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
