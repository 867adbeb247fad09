"""Kill `tunegraph optimize` with SIGKILL mid-run, resume it by its study name: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna

from tests.fault_log import record

STORAGE = "sqlite:///.tunegraph/studies.db"
COMMAND = [sys.executable, "-m", "tunegraph", "optimize", "--dataset", "breast_cancer", "--model", "xgboost",
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
    # a kill between Optuna's ask and the sampler's tags leaves an untagged trial: abandoned, never counted
    kept = [t for t in study.trials if not t.user_attrs.get("abandoned")]
    assert all(t.user_attrs.get("source") for t in kept)
    assert [t.user_attrs["source"] for t in kept].count("init") == 1
    record("process", "SIGKILL mid-run", 2, 2, "resumed by study name: budget exact, nothing lost or repeated")


def test_sigint_stops_cleanly_with_a_summary_then_resume():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    command = [*COMMAND[:COMMAND.index("--study")], "--study", "ctrl-c", "--quiet"]
    # a shell's background jobs inherit SIGINT ignored (CI may run us so): give the run Ctrl-C's default back
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and len(finished("ctrl-c")) < 3:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (len(finished("ctrl-c")), out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted" in err and "--study ctrl-c" in err  # how to resume
    done = finished("ctrl-c")
    assert 3 <= len(done) < 14
    # the summary: the trials finished so far, and why the run stopped
    assert "TuneGraph result: ctrl-c" in out and f"{len(done)} finished" in out and "interrupted" in out

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = finished("ctrl-c")
    assert len(final) == 14 and {n: v for n, v in final.items() if n in done} == done
    study = optuna.load_study(study_name="ctrl-c", storage=STORAGE)
    assert all(t.state != optuna.trial.TrialState.RUNNING for t in study.trials)
    params = [tuple(sorted(t.params.items())) for t in study.trials if not t.user_attrs.get("abandoned")]
    assert len(params) == len(set(params))  # nothing evaluated twice
    record("process", "SIGINT mid-run", 1, 1, "exit 130 with a summary, no traceback; resumed without duplicates")
