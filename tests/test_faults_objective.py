"""Objective faults: a model that raises, predicts NaN, runs past its time limit, or cannot get its memory.

A test-only model family is registered for the run; its estimator misbehaves when its one
hyperparameter ``x`` is above 0.5. A real `tunegraph optimize` (real study, real cross-validation)
must record each such trial as failed, with the reason, and go on to its budget.
"""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import optuna
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from tests.fault_log import record
from tunegraph.cli import main
from tunegraph.tools.ml import models
from tunegraph.tools.trials import runs

TRIALS = 8


class FaultyClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; with ``x > 0.5`` it commits ``fault`` instead."""

    def __init__(self, x: float = 0.25, fault: str = "raise"):
        self.x = x
        self.fault = fault

    @property
    def _faulty(self) -> bool:
        return self.x > 0.5

    def fit(self, X, y):
        if self._faulty and self.fault == "raise":
            raise RuntimeError("injected fault: the model cannot fit this")
        if self._faulty and self.fault == "memory":
            np.empty(2**50, dtype=np.uint8)  # 1 PiB: more than any address space; fails at once, takes nothing
        if self._faulty and self.fault == "slow":
            time.sleep(0.15)  # per fold; the trial's limit is 0.2 s
        if self._faulty and self.fault == "hang":
            time.sleep(3600)  # one fold that never ends: only a kill stops it
        if self._faulty and self.fault == "crash":
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would, or a segfault in native code
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X):
        if self._faulty and self.fault == "nan":
            return np.full(len(X), np.nan)
        return np.full(len(X), self.majority_)


def faulty_family(fault: str) -> models.ModelFamily:
    return models.ModelFamily(
        f"faulty_{fault}", ("classification",), False,
        lambda task_type: {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        lambda task_type, width: {"x": 0.25},
        lambda c, task, seed, needs_proba: FaultyClassifier(x=c["x"], fault=fault),
        f"a test model that fails with '{fault}' when x > 0.5")


@pytest.mark.parametrize("fault, status, reason", [
    ("raise", "failed", "RuntimeError: injected fault: the model cannot fit this"),
    ("nan", "failed", "NaN"),
    ("slow", "timeout", "exceeded the time limit of 0.2 s after 2 fold(s)"),
    ("memory", "failed", "MemoryError"),
])
def test_failing_trials_are_recorded_and_the_study_goes_on(monkeypatch, capsys, tmp_path, fault, status, reason):
    family = faulty_family(fault)
    monkeypatch.setitem(models.FAMILIES, family.name, family)
    out_file = tmp_path / "result.json"
    code = main(["optimize", "--dataset", "iris", "--model", family.name, "--metric", "accuracy", "--llm", "none",
                 "--sampler", "random", "--trials", str(TRIALS), "--folds", "3", "--trial-timeout", "0.2",
                 "--no-learn", "--quiet", "--study", f"faulty-{fault}", "--out", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    result = json.loads(out_file.read_text())
    assert result["n_trials"] == TRIALS and result["stop_reason"] == f"trial budget of {TRIALS} reached"

    study = optuna.load_study(study_name=f"faulty-{fault}", storage=runs.default_storage())
    faulty = [t for t in study.trials if t.params["x"] > 0.5]
    healthy = [t for t in study.trials if t.params["x"] <= 0.5]
    assert faulty and healthy  # the seed gives both kinds
    for trial in faulty:
        assert trial.state == optuna.trial.TrialState.FAIL
        assert trial.user_attrs["status"] == status and reason in trial.user_attrs["error"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in healthy)
    assert result["n_failed"] == len(faulty) and f"{TRIALS} finished ({len(faulty)} failed)" in out
    assert {t["number"]: t.get("error") for t in result["trials"] if t["state"] == "FAIL"} == \
        {t.number + 1: t.user_attrs["error"] for t in faulty}  # the reason is in the result file too (from 1)
    assert result["best_trial"] in {t.number + 1 for t in healthy}  # scored by the healthy trials
    survived = sum(1 for t in faulty if t.state == optuna.trial.TrialState.FAIL and t.user_attrs.get("error"))
    record("objective", {"raise": "raises", "nan": "returns NaN", "slow": "exceeds time limit",
                         "memory": "MemoryError"}[fault], len(faulty), survived if result["n_trials"] == TRIALS else 0,
           f"trial {status}, reason recorded")


@pytest.mark.parametrize("fault, status, reason", [
    ("hang", "timeout", "killed after 2 s: a fold ran past the time limit of 1 s"),
    ("crash", "failed", "the evaluation process died (killed by SIGKILL)"),
])
def test_a_hung_or_crashed_evaluation_fails_its_trial_only(monkeypatch, capsys, tmp_path, fault, status, reason):
    """With --trial-timeout the folds run in a child process: a fold that never ends is killed at the
    limit, a model that kills its process fails one trial, and the run finishes its budget."""
    family = faulty_family(fault)
    monkeypatch.setitem(models.FAMILIES, family.name, family)
    trials, started = 6, time.monotonic()
    code = main(["optimize", "--dataset", "iris", "--model", family.name, "--metric", "accuracy", "--llm", "none",
                 "--sampler", "random", "--trials", str(trials), "--folds", "3", "--trial-timeout", "1",
                 "--no-learn", "--quiet", "--study", f"isolated-{fault}", "--out", str(tmp_path / "r.json")])
    out, err = capsys.readouterr()
    assert code == 0, err
    study = optuna.load_study(study_name=f"isolated-{fault}", storage=runs.default_storage())
    faulty = [t for t in study.trials if t.params["x"] > 0.5]
    healthy = [t for t in study.trials if t.params["x"] <= 0.5]
    assert faulty and healthy and len(study.trials) == trials
    for trial in faulty:
        assert trial.state == optuna.trial.TrialState.FAIL
        assert trial.user_attrs["status"] == status and reason in trial.user_attrs["error"], trial.user_attrs
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in healthy)
    assert time.monotonic() - started < 600  # a hung fold would otherwise hold the run for an hour
    record("objective", {"hang": "one fold never ends (hard kill)", "crash": "process killed mid-fit"}[fault],
           len(faulty), len(faulty), f"trial {status}, the run went on")
