"""Kill `tunegraph optimize` with SIGKILL mid-run, resume it by its study name: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna

STORAGE = "sqlite:///.tunegraph/studies.db"
COMMAND = [sys.executable, "-m", "graphs.cli", "optimize", "--dataset", "breast_cancer", "--model", "xgboost",
           "--llm", "none", "--trials", "14", "--folds", "3", "--study", "crashy", "--quiet"]


def finished(study_name="crashy") -> dict[int, float | None]:
    try:
        study = optuna.load_study(study_name=study_name, storage=STORAGE)
    except Exception:  # not created yet by the process under test
        return {}
    return {t.number: t.value for t in study.trials if t.state.is_finished() and not t.user_attrs.get("abandoned")}


def kill_after(n_finished: int, timeout: float = 120.0) -> dict[int, float | None]:
    proc = subprocess.Popen(COMMAND, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(finished()) >= n_finished:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return finished()


def test_sigkill_twice_then_resume():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    first = kill_after(3)
    second = kill_after(len(first) + 3)
    assert {n: v for n, v in second.items() if n in first} == first  # nothing finished was lost or changed
    done = subprocess.run(COMMAND, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="crashy", storage=STORAGE)
    states = [t.state for t in study.trials]
    final = finished()
    assert len(final) == 14  # the budget, exactly
    assert {n: v for n, v in final.items() if n in second} == second
    # a trial that was running at a kill is finished on resume, not abandoned or duplicated
    assert states.count(optuna.trial.TrialState.RUNNING) == 0
    params = [tuple(sorted(t.params.items())) for t in study.trials if not t.user_attrs.get("abandoned")]
    assert len(params) == len(set(params))
    assert [t.user_attrs["source"] for t in study.trials].count("init") == 1
