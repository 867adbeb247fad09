"""A journal file as the study's storage (``--storage PATH``): crash-safe like SQLite, shared by workers
on one machine, opened by every command; and the storage helpers over Optuna's public API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from tunegraph.tools.trials import storage as st
from tunegraph.tools.trials.distributed import claim, counts

JOURNAL = ".tunegraph/studies.journal"
COMMAND = [sys.executable, "-m", "tunegraph", "optimize", "--dataset", "breast_cancer", "--model", "xgboost",
           "--llm", "none", "--trials", "12", "--folds", "3", "--study", "crashy-journal", "--quiet",
           "--no-learn", "--storage", JOURNAL]


def finished(name: str = "crashy-journal") -> dict[int, float | None]:
    try:
        study = st.load_study(name, JOURNAL)
    except (KeyError, st.StorageError):  # not created yet by the process under test
        return {}
    return {t.number: t.value for t in study.trials if t.state.is_finished() and not t.user_attrs.get("abandoned")}


def kill_after(n_finished: int, timeout: float = 180.0) -> dict[int, float | None]:
    proc = subprocess.Popen(COMMAND, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(JOURNAL) and len(finished()) >= n_finished:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return finished()


def test_sigkill_twice_then_resume_on_a_journal_file():
    first = kill_after(3)
    second = kill_after(len(first) + 3)
    assert {n: v for n, v in second.items() if n in first} == first  # nothing finished was lost or changed
    done = subprocess.run(COMMAND, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    study = st.load_study("crashy-journal", JOURNAL)
    final = finished()
    assert len(final) == 12  # the budget, exactly
    assert {n: v for n, v in final.items() if n in second} == second
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    params = [tuple(sorted(t.params.items())) for t in study.trials if not t.user_attrs.get("abandoned")]
    assert len(params) == len(set(params))
    assert all(t.user_attrs.get("source") for t in study.trials if not t.user_attrs.get("abandoned"))


def test_two_workers_share_the_budget_on_a_journal_file(tmp_path):
    journal = str(tmp_path / "shared.journal")
    command = [sys.executable, "-m", "tunegraph", "optimize", "--dataset", "iris", "--model", "knn", "--llm", "none",
               "--trials", "10", "--folds", "2", "--storage", journal, "--study", "shared", "--no-learn", "--quiet"]
    procs = [subprocess.Popen([*command, "--worker", f"w{i}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for i in range(2)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    trials = st.load_study("shared", journal).trials
    assert len([t for t in trials if counts(t)]) == 10  # exactly the budget
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert len({t.user_attrs.get("worker") for t in trials if counts(t)}) == 2


def test_every_command_opens_a_journal_file(capsys):
    from tunegraph.cli import main

    assert main(["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--trials", "3", "--folds", "2",
                 "--storage", JOURNAL, "--study", "j", "--no-learn", "--quiet"]) == 0
    assert main(["plot", "j", "--storage", JOURNAL, "--out", "plots"]) == 0
    assert os.path.exists("plots/j-history.png")
    assert main(["metadata", "add", "j", "--storage", JOURNAL]) == 0
    assert "added 3 experiments" in capsys.readouterr().out
    assert main(["metadata", "add", "nope", "--storage", JOURNAL]) == 2


def test_an_sqlite_file_is_not_taken_for_a_journal(tmp_path):
    st.open_rdb(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(st.StorageError, match="give it as sqlite:///"):
        st.open_spec(str(tmp_path / "x.db"))


def test_a_journal_is_flushed_to_the_disk_when_a_trial_finishes(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(st.JournalFile, "sync", lambda self: synced.append(1))
    study = optuna.create_study(study_name="s", storage=st.open_spec(str(tmp_path / "s.journal")))
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    trial.set_user_attr("note", "not yet flushed")
    assert synced == []
    study.tell(trial, 0.5)
    assert synced == [1]
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=1.0))
    assert synced == [1, 1]
    again = optuna.load_study(study_name="s", storage=st.open_spec(str(tmp_path / "s.journal")))
    assert [t.value for t in again.trials] == [0.5, 1.0]  # another storage object reads what was written


def test_a_stored_study_asks_each_trial_id_once_and_finds_studies_it_opened(tmp_path):
    storage = st.open_spec(f"sqlite:///{tmp_path / 'a.db'}")
    study = optuna.create_study(study_name="found", storage=storage)  # not bound: found among the storages opened
    stored = st.handle_of(study)
    assert stored.storage is storage and stored.study_id == storage.get_study_id_from_name("found")
    trial = claim(study, 2, lambda: study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}))
    asked = []
    real = storage.get_trial_id_from_study_id_trial_number
    stored.storage = type("Counting", (), {"get_trial_id_from_study_id_trial_number":
                                           lambda self, s, n: asked.append(n) or real(s, n)})()
    assert stored.trial_id(trial.number) == stored.trial_id(trial.number) and asked == []  # cached by claim
    stored.storage = storage
    assert st.fail_trial(study, trial.number) and not st.fail_trial(study, trial.number)  # once; then finished
    with pytest.raises(st.StorageError, match="bind it"):
        st.handle_of(optuna.create_study(study_name="elsewhere"))  # in memory: not a storage TuneGraph opened
