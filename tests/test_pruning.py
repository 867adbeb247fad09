"""Fold-level pruning (--pruner median|sha): each fold's running mean is a trial's intermediate value."""

from __future__ import annotations

import json

import optuna
import pytest

from tunegraph.cli import main
from tunegraph.tools.trials import runs


def run(tmp_path, pruner: str, study: str, trials: int = 16) -> tuple[dict, optuna.Study]:
    out = tmp_path / f"{study}.json"
    code = main(["optimize", "--dataset", "breast_cancer", "--model", "knn", "--llm", "none", "--sampler", "random",
                 "--trials", str(trials), "--folds", "5", "--pruner", pruner, "--no-learn", "--quiet",
                 "--study", study, "--out", str(out)])
    assert code == 0
    return json.loads(out.read_text()), optuna.load_study(study_name=study, storage=runs.default_storage())


@pytest.mark.parametrize("pruner", ["median", "sha"])
def test_pruned_trials_stop_after_a_fold_and_count_toward_the_budget(tmp_path, pruner):
    result, study = run(tmp_path, pruner, f"prune-{pruner}")
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert pruned, "some random knn configurations should fall behind the median"
    assert result["n_trials"] == 16 and result["n_pruned"] == len(pruned) and result["n_failed"] == 0
    for t in pruned:  # stopped early: fewer folds, their running means reported
        assert len(t.user_attrs["fold_scores"]) < 5 and t.intermediate_values
        assert "pruned after" in t.user_attrs["error"]
    for t in complete:
        assert len(t.user_attrs["fold_scores"]) == 5
    assert result["best_value"] == pytest.approx(max(t.value for t in complete))
    assert result["stop_reason"] == "trial budget of 16 reached"  # pruned trials are not failures (fail-fast)


def test_without_a_pruner_every_fold_runs(tmp_path):
    result, study = run(tmp_path, "none", "prune-none", trials=8)
    assert result["n_pruned"] == 0 and all(len(t.user_attrs["fold_scores"]) == 5 for t in study.trials)
    assert all(not t.intermediate_values for t in study.trials)


def test_a_large_data_set_shows_an_estimate_before_the_first_trial(tmp_path, capsys):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(12_000, 4)), columns=list("abcd"))
    frame["y"] = (frame.a + rng.normal(size=len(frame)) > 0).astype(int)
    frame.to_csv(tmp_path / "large.csv", index=False)
    code = main(["optimize", "--data", str(tmp_path / "large.csv"), "--target", "y", "--model", "knn", "--llm", "none",
                 "--trials", "1", "--folds", "2", "--no-learn", "--study", "large"])
    err = capsys.readouterr().err
    assert code == 0
    assert "estimate 12,000 rows: about" in err and "for 1 trials" in err and "--pruner median" in err
