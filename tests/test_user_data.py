"""Users' own data through a real `tunegraph optimize`: rare classes, failing trials and why they failed."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from tests.fault_log import record
from tunegraph.cli import main
from tunegraph.tools.ml import models
from tunegraph.tools.trials import runs


def rare_class_csv(path, n_rows: int = 240, n_classes: int = 6):
    """A learnable target whose class 2 has a single row: 5 folds, 4 of whose training parts lack it."""
    rng = np.random.default_rng(0)
    others = [c for c in range(n_classes) if c != 2]  # the rare class in the middle: XGBoost wants 0..k-1
    y = np.append(rng.choice(others, size=n_rows - 1), 2)
    frame = pd.DataFrame(rng.normal(size=(n_rows, 3)), columns=["a", "b", "c"])
    frame["a"] += y
    frame["y"] = y
    frame.to_csv(path, index=False)
    return path


def optimize(*args: str) -> int:
    return main(["optimize", "--llm", "none", "--no-learn", "--quiet", *args])


@pytest.mark.parametrize("family", ["xgboost", "lightgbm"])
def test_boosting_trials_succeed_on_a_one_row_class_with_the_requested_folds(tmp_path, capsys, family):
    """Before: 2 folds instead of 5, and every xgboost trial failed ('Invalid classes inferred ...')."""
    data = rare_class_csv(tmp_path / "rare.csv")
    out = tmp_path / "result.json"
    code = optimize("--data", str(data), "--target", "y", "--model", family, "--sampler", "random", "--trials", "2",
                    "--folds", "5", "--study", f"rare-{family}", "--out", str(out))
    assert code == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["n_trials"] == 2 and result["n_failed"] == 0 and result["best_value"] > 0.3
    study = optuna.load_study(study_name=f"rare-{family}", storage=runs.default_storage())
    assert all(len(t.user_attrs["fold_scores"]) == 5 for t in study.trials)
    record("data", f"a class of 1 row, 5 folds ({family})", 2, sum(t.state.name == "COMPLETE" for t in study.trials),
           "folds kept; fitted on the classes present, probability 0 for the missing one")


class PickyClassifier(ClassifierMixin, BaseEstimator):
    """Fits when ``x`` <= ``limit`` (never when ``limit`` < 0), else raises as a model refusing its data would."""

    def __init__(self, x: float = 0.25, limit: float = 0.5):
        self.x = x
        self.limit = limit

    def fit(self, X, y):
        if self.limit < 0:
            raise ValueError("Invalid classes inferred from unique values of y")
        if self.x > self.limit:
            raise ValueError(f"x={self.x:.3f} is too large for this data")  # a reason that differs per trial
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def picky_family(limit: float) -> models.ModelFamily:
    return models.ModelFamily(
        "picky", ("classification",), False, lambda task_type: {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        lambda task_type, width: {"x": 0.25}, lambda c, task, seed, needs_proba: PickyClassifier(c["x"], limit),
        "a test model that refuses some configurations")


def test_the_result_names_the_most_common_failure_reasons(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COLUMNS", "300")  # the table's rows on one line each
    monkeypatch.setitem(models.FAMILIES, "picky", picky_family(limit=0.5))
    out = tmp_path / "result.json"
    code = optimize("--dataset", "iris", "--model", "picky", "--metric", "accuracy", "--sampler", "random",
                    "--trials", "8", "--folds", "3", "--study", "picky-some", "--out", str(out))
    table, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out.read_text())
    failed = [t for t in result["trials"] if t["state"] == "FAIL"]
    assert failed and result["n_failed"] == len(failed) < 8 and result["stop_reason"] == "trial budget of 8 reached"
    counted = Counter(t["error"] for t in failed)
    assert result["failure_reasons"] == [{"reason": r, "count": n} for r, n in counted.most_common(3)]
    assert "failure reasons" in table and f"{counted.most_common(1)[0][1]} x ValueError: x=" in table


def test_a_family_whose_first_trials_all_fail_stops_early_and_says_why(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setitem(models.FAMILIES, "picky", picky_family(limit=-1.0))  # no configuration fits
    out = tmp_path / "result.json"
    code = optimize("--dataset", "iris", "--model", "picky", "--metric", "accuracy", "--sampler", "random",
                    "--trials", "20", "--folds", "3", "--study", "picky-none", "--out", str(out))
    table, err = capsys.readouterr()
    assert code == 1
    reason = "ValueError: Invalid classes inferred from unique values of y"
    assert f"tunegraph: error: no trial succeeded (3 failed); most common reason (3 of 3): {reason}" in err
    assert "Traceback" not in err
    result = json.loads(out.read_text())
    assert result["n_trials"] == 3 and result["best_value"] is None  # not the whole budget of 20
    assert result["stop_reason"] == ("stopped early: all of the first 3 trials failed (fail-fast 3); most common "
                                     f"reason (3 of 3): {reason}")
    assert result["failure_reasons"] == [{"reason": reason, "count": 3}]
    assert "stopped early" in table and f"3 x {reason}" in table
    record("objective", "every trial fails", 1, 1, "stopped after 3 failed trials, the reason in table, --out, stderr")
    code = optimize("--dataset", "iris", "--model", "picky", "--metric", "accuracy", "--sampler", "random",
                    "--trials", "5", "--folds", "3", "--study", "picky-all", "--fail-fast", "0", "--out", str(out))
    assert code == 1 and json.loads(out.read_text())["n_trials"] == 5  # fail-fast off: the whole budget


def test_the_rare_class_warning_is_shown_once_per_run(tmp_path, capsys, recwarn):
    """Before: once per trial (each fold's own warning filters reset Python's record of what was shown)."""
    data = rare_class_csv(tmp_path / "rare.csv")
    code = optimize("--data", str(data), "--target", "y", "--model", "knn", "--sampler", "random", "--trials", "4",
                    "--folds", "5", "--study", "rare-once")
    err = capsys.readouterr().err
    assert code == 0, err
    shown = [line for line in err.splitlines() if "1 class with fewer rows than the 5 folds: 2 (1 row); keeping 5 folds" in line]
    assert len(shown) == 1 and shown[0].startswith("tunegraph: warning: ")  # one plain line: no source path, no code
    assert "UserWarning" not in err and ".py:" not in err


def test_recommend_evaluate_cross_validates_a_rare_class_with_the_same_folds(tmp_path):
    """`recommend --evaluate` (and warm starts, through the Evaluator) use the same cross-validation."""
    from types import SimpleNamespace

    from tunegraph.agents.evaluator import evaluate_recommendation
    from tunegraph.context import Context

    data = rare_class_csv(tmp_path / "rare.csv")
    state = {"data_path": str(data), "target": "y", "metric": "log_loss",
             "final": {"family": "xgboost", "params": {"n_estimators": 20, "max_depth": 3}}}
    with pytest.warns(UserWarning, match="keeping 5 folds"):
        out = evaluate_recommendation(state, SimpleNamespace(context=Context(llm="none", folds=5)))
    evaluation = out["evaluation"]
    assert evaluation["status"] == "ok", evaluation["error"]
    assert len(evaluation["fold_scores"]) == 5 and evaluation["mean"] > 0
