"""From tuning to a model you use: optimize saves the refit winner, predict uses it (CLI, fresh
process, Python), and TuneGraphSearchCV takes scikit-learn splitters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine
from sklearn.model_selection import GroupKFold, StratifiedKFold

from tunegraph import TuneGraphSearchCV, load_model, optimize
from tunegraph.cli import main

ROOT = Path(__file__).resolve().parents[1]


def houses(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """A user's file: an id, a category, a date and a missing value among the features."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(1, 7, n)
    town = rng.choice(["north", "south", "east"], n)
    price = 50 * rooms + np.where(town == "north", 80, 0) + rng.normal(0, 10, n)
    frame = pd.DataFrame({"house_id": np.arange(1000, 1000 + n), "rooms": rooms.astype(float), "town": town,
                          "sold": pd.date_range("2020-01-01", periods=n, freq="7D").strftime("%Y-%m-%d"),
                          "price": price.round(1)})
    frame.loc[3, "rooms"] = np.nan
    return frame


def test_optimize_saves_the_model_and_predict_writes_what_the_saved_object_predicts(capsys, tmp_path):
    houses().to_csv(tmp_path / "houses.csv", index=False)
    code = main(["optimize", "--data", str(tmp_path / "houses.csv"), "--target", "price", "--model", "ridge",
                 "--trials", "3", "--folds", "3", "--llm", "none", "--no-learn", "--quiet", "--out", "r.json"])
    out, err = capsys.readouterr()
    assert code == 0
    result = json.loads(Path("r.json").read_text())
    path = Path(result["model_path"])
    assert path.is_file() and f"model saved to {path}" in out and "tunegraph predict --model" in err
    new = houses(12, seed=1).drop(columns=["price"]).assign(town=["west"] + ["north"] * 11, note="extra")
    new.to_csv(tmp_path / "new.csv", index=False)
    # the user's way in: a fresh process, as after the run
    done = subprocess.run([sys.executable, "-m", "tunegraph", "predict", "--model", str(path), "--data",
                           str(tmp_path / "new.csv"), "--out", str(tmp_path / "pred.csv")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'ignored 2 column(s) the model does not use: "house_id", "note"' in done.stderr  # the id was dropped at load
    assert "west" in done.stderr  # an unseen category, encoded as in cross-validation
    written = pd.read_csv(tmp_path / "pred.csv")
    assert list(written.columns) == [*new.columns, "prediction"] and len(written) == 12
    expected = load_model(path).predict(pd.read_csv(tmp_path / "new.csv"))
    np.testing.assert_allclose(written["prediction"], expected, rtol=1e-9)
    assert load_model(path).info.config == result["best_params"] and result["best_family"] == "ridge"


def test_predict_names_missing_columns_and_exits_2(capsys, tmp_path):
    houses().to_csv("houses.csv", index=False)
    assert main(["optimize", "--data", "houses.csv", "--target", "price", "--model", "knn", "--trials", "2",
                 "--folds", "3", "--llm", "none", "--no-learn", "--quiet", "--save-model", "m/knn.tgm"]) == 0
    assert Path("m/knn.tgm").is_file()
    houses(5).drop(columns=["rooms", "town"]).to_csv("short.csv", index=False)
    capsys.readouterr()
    assert main(["predict", "--model", "m/knn.tgm", "--data", "short.csv"]) == 2
    err = capsys.readouterr().err
    assert "lack 2 column(s) the model needs" in err and '"rooms"' in err and '"town"' in err
    assert "Traceback" not in err
    assert main(["predict", "--model", "short.csv", "--data", "short.csv"]) == 2
    assert "is not a TuneGraph model file" in capsys.readouterr().err


def test_no_model_skips_the_refit(capsys):
    code = main(["optimize", "--dataset", "iris", "--model", "knn", "--trials", "2", "--llm", "none", "--no-learn",
                 "--quiet", "--no-model", "--out", "r.json"])
    assert code == 0
    result = json.loads(Path("r.json").read_text())
    assert result["model_path"] is None and "--no-model" in result["model_note"]
    assert not Path(".tunegraph/models").exists()


def test_the_api_returns_the_model_with_classes_and_probabilities():
    result = optimize(dataset="iris", model="knn", trials=2, folds=3)
    model = result["model"]
    X = load_wine(as_frame=True).frame.iloc[:0]  # a frame of another data set's columns: refused by name
    with pytest.raises(ValueError, match="lack"):
        model.predict(X)
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.drop(columns=["target"])
    proba = model.predict_proba(iris)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(iris)) <= set(model.classes) and Path(result["model_path"]).is_file()


def test_a_failed_refit_keeps_the_study_and_says_why(capsys, monkeypatch):
    from tunegraph.agents import modeler

    def out_of_memory(*args, **kwargs):  # failure injection: the refit on all rows runs out of memory
        raise MemoryError("the refit ran out of memory")

    monkeypatch.setattr(modeler, "fit_model", out_of_memory)
    code = main(["optimize", "--dataset", "iris", "--model", "knn", "--trials", "2", "--llm", "none", "--no-learn",
                 "--quiet", "--out", "r.json"])
    result = json.loads(Path("r.json").read_text())
    assert code == 0 and result["n_trials"] == 2 and result["best_value"] is not None
    assert result["model_path"] is None and "the refit of trial" in result["model_note"]
    assert "no model: the refit" in capsys.readouterr().out


def test_search_takes_a_scikit_learn_splitter_or_its_splits():
    X, y = load_wine(return_X_y=True)
    groups = np.arange(len(y)) % 7

    def first_folds(cv, **fit):
        search = TuneGraphSearchCV(family="knn", n_trials=1, cv=cv, random_state=0).fit(X, y, **fit)
        assert search.predict(X[:5]).shape == (5,)
        return search.study_.trials[0].user_attrs["fold_scores"]

    by_groups = first_folds(GroupKFold(n_splits=3), groups=groups)
    assert len(by_groups) == 3
    assert first_folds(list(GroupKFold(n_splits=3).split(X, y, groups))) == by_groups  # an iterable of splits
    assert first_folds(3) != by_groups  # TuneGraph's own shuffled folds are other folds
    assert len(first_folds(StratifiedKFold(4))) == 4
    with pytest.raises(ValueError, match="cv must be"):
        TuneGraphSearchCV(cv=2.5).fit(X, y)
