"""Users' own data through a real `tunegraph optimize`: rare classes, failing trials and why they failed."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest

from graphs.cli import main
from tools import runtime


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
    study = optuna.load_study(study_name=f"rare-{family}", storage=runtime.default_storage())
    assert all(len(t.user_attrs["fold_scores"]) == 5 for t in study.trials)
