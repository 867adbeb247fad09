"""The post-hoc ensemble in a run: predictions kept per trial, Caruana's selection, the auto rule's
held-out guard, and an ensemble saved and used like one model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from tunegraph import load_model
from tunegraph.cli import main
from tunegraph.tools.ml.ensemble import EnsembleModel, held_out_check
from tunegraph.tools.trials import oof_store


def test_on_saves_an_ensemble_that_predicts_in_a_fresh_process_like_the_saved_object(capsys, tmp_path):
    code = main(["optimize", "--dataset", "diabetes", "--trials", "8", "--folds", "3", "--llm", "none", "--no-learn",
                 "--quiet", "--ensemble", "on", "--out", "r.json"])
    assert code == 0
    result = json.loads(Path("r.json").read_text())
    ensemble = result["ensemble"]
    assert ensemble["status"] == "saved" and ensemble["n_candidates"] == 8  # every finished trial kept its predictions
    assert ensemble["score"] <= ensemble["best_single"] + 1e-9  # rmse: the selection is never worse where it chose
    assert abs(sum(m["weight"] for m in ensemble["members"]) - 1) < 1e-9
    assert "ensemble" in capsys.readouterr().out
    model = load_model(result["model_path"])
    assert isinstance(model, EnsembleModel) and len(model.members) == len(ensemble["members"])
    rows = load_diabetes(as_frame=True).frame.head(15)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "tunegraph", "predict", "--model", result["model_path"], "--data",
                           str(tmp_path / "rows.csv"), "--out", str(tmp_path / "p.csv")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(pd.read_csv(tmp_path / "p.csv")["prediction"],
                               model.predict(pd.read_csv(tmp_path / "rows.csv")), rtol=1e-9)
    weighted = sum(w * m.predict(rows) for m, w in zip(model.members, model.weights))
    np.testing.assert_allclose(model.predict(rows), weighted, rtol=1e-9)  # the members' weighted mean


def test_off_keeps_no_predictions_and_saves_the_best_trial():
    assert main(["optimize", "--dataset", "iris", "--model", "knn", "--trials", "3", "--llm", "none", "--no-learn",
                 "--quiet", "--ensemble", "off", "--study", "plain", "--out", "r.json"]) == 0
    result = json.loads(Path("r.json").read_text())
    assert result["ensemble"]["status"] == "off" and not oof_store.store_dir("plain").exists()
    assert load_model(result["model_path"]).info.family == "knn"


def test_auto_keeps_a_single_model_when_the_cap_is_exceeded(monkeypatch):
    from tunegraph.agents import evaluator, modeler

    monkeypatch.setattr(evaluator, "oof_fits", lambda *args: False)  # failure injection: over the memory cap
    monkeypatch.setattr(modeler, "oof_fits", lambda *args: False)
    assert main(["optimize", "--dataset", "wine", "--model", "knn", "--trials", "3", "--llm", "none", "--no-learn",
                 "--quiet", "--study", "capped", "--ensemble", "auto", "--out", "r.json"]) == 0
    result = json.loads(Path("r.json").read_text())
    assert result["ensemble"]["status"] == "skipped" and "cap" in result["ensemble"]["note"]
    assert not oof_store.store_dir("capped").exists() and result["model_path"]


def test_the_held_out_rule_takes_a_real_gain_and_refuses_a_copy_of_the_best():
    rng = np.random.default_rng(0)
    y = rng.normal(size=400)
    a, b = y + rng.normal(0, 1, 400), y + rng.normal(0, 1, 400)  # independent errors: their mean is better
    assert held_out_check([a, b], y, "rmse").wins
    assert not held_out_check([a, a.copy()], y, "rmse").wins  # nothing to gain: the single best is kept
    labels = (y > 0).astype(int)
    proba = lambda s: np.column_stack([1 - s, s])  # noqa: E731
    noisy = [proba(1 / (1 + np.exp(-(y + rng.normal(0, 1.5, 400))))) for _ in range(3)]
    check = held_out_check(noisy, labels, "roc_auc", seed=1)
    assert check.wins and all(e > s for e, s in zip(check.ensemble, check.single))


@pytest.mark.parametrize("metric", ["accuracy", "log_loss"])
def test_auto_on_a_classification_run_reports_both_scores(metric):
    assert main(["optimize", "--dataset", "wine", "--trials", "6", "--folds", "3", "--metric", metric, "--llm", "none",
                 "--no-learn", "--quiet", "--ensemble", "auto", "--out", "r.json"]) == 0
    result = json.loads(Path("r.json").read_text())
    ensemble = result["ensemble"]
    assert ensemble["status"] in ("saved", "not used") and len(ensemble["held_out"]["single"]) == 2
    model = load_model(result["model_path"])
    assert isinstance(model, EnsembleModel) == (ensemble["status"] == "saved")


def test_the_shipped_default_is_auto(monkeypatch):
    from tunegraph.context import Context

    monkeypatch.delenv("TUNEGRAPH_ENSEMBLE")  # the test session turns it off for speed (conftest)
    assert Context().ensemble == "auto"
