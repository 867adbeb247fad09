"""Several `tunegraph optimize` workers on one study: the budget is shared exactly, a dead worker loses nothing.

Real processes on real storages: SQLite always; PostgreSQL when TUNEGRAPH_TEST_POSTGRES names a
server (.ci/run starts one on loopback), else those tests are skipped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tunegraph.tools.trials import distributed
from tunegraph.tools.trials.distributed import claim, counts, mask_url, open_storage, reclaim_stale, storage_url
from tunegraph.tools.trials.sampler import SOURCES

POSTGRES = os.environ.get("TUNEGRAPH_TEST_POSTGRES", "")
HEARTBEAT_S = 1  # a killed worker's trial is found stale after 3 s


@pytest.fixture
def postgres():
    if not POSTGRES:
        pytest.skip("set TUNEGRAPH_TEST_POSTGRES=postgresql://user:password@127.0.0.1:5432/db to run "
                    "the PostgreSQL tests (.ci/run starts such a server)")
    made = []
    yield POSTGRES, made
    for name in made:  # the server outlives the test: leave it clean
        try:
            optuna.delete_study(study_name=name, storage=storage_url(POSTGRES))
        except KeyError:
            pass


def start(storage: str, study: str, worker: str, trials: int, *, dataset: str = "iris", model: str = "knn",
          logs: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tunegraph", "optimize", "--dataset", dataset, "--model", model,
               "--llm", "none", "--trials", str(trials), "--folds", "2", "--storage", storage, "--study", study,
               "--worker", worker, "--no-learn"]
    env = {**os.environ, "TUNEGRAPH_HEARTBEAT_S": str(HEARTBEAT_S)}
    out = open(logs / f"{worker}.log", "w")
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def finish(procs: list[subprocess.Popen], timeout: float = 120) -> None:
    for proc in procs:
        proc.wait(timeout=timeout)


def load(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=storage_url(storage)).trials


def check_shared_budget(storage: str, study: str, budget: int, n_workers: int, tmp_path: Path) -> list:
    procs = [start(storage, study, f"w{i}", budget, logs=tmp_path) for i in range(n_workers)]
    finish(procs)
    logs = {p.args[p.args.index("--worker") + 1]: (tmp_path / f"{p.args[p.args.index('--worker') + 1]}.log").read_text()
            for p in procs}
    failed = {name: log for (name, log), p in zip(logs.items(), procs) if p.returncode != 0}
    assert not failed, "\n".join(f"--- {name} ---\n{log[-3000:]}" for name, log in failed.items())
    trials = load(storage, study)
    counted = [t for t in trials if counts(t)]
    assert len(counted) == budget  # exactly the budget, however the workers raced for the last slots
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert all(t.user_attrs.get("source") in SOURCES for t in counted), Counter(t.user_attrs.get("source") for t in trials)
    assert [t.user_attrs["source"] for t in trials].count("init") == 1  # the first worker enqueued it, only once
    assert all(t.user_attrs.get("worker") for t in counted)
    # each worker draws its own random start-up trials (seeded by trial number), not the same ones
    startup = [tuple(sorted(t.params.items())) for t in counted if t.user_attrs["source"] == "tpe"][:8]
    assert len(set(startup)) >= 6
    return list(logs.values())


def test_four_workers_share_the_budget_on_sqlite(tmp_path):
    check_shared_budget(f"sqlite:///{tmp_path / 'shared.db'}", "dist-sqlite", 16, 4, tmp_path)


def test_four_workers_share_the_budget_on_postgres(postgres, tmp_path):
    url, made = postgres
    study = f"dist-{uuid.uuid4().hex[:8]}"
    made.append(study)
    logs = check_shared_budget(url, study, 16, 4, tmp_path)
    password = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    for log in logs:  # the URL is shown, its password never
        assert password not in log
        assert mask_url(url) in log


def test_killed_worker_loses_no_trial_and_the_budget_completes(postgres, tmp_path):
    url, made = postgres
    study, budget = f"dist-kill-{uuid.uuid4().hex[:8]}", 16
    made.append(study)
    # a random forest: trials long enough that the kill likely lands mid-evaluation
    procs = [start(url, study, f"w{i}", budget, model="random_forest", logs=tmp_path)
             for i in range(3)]
    victim, survivors = procs[0], procs[1:]
    victim_id = worker_id_of(study, "w0")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and victim.poll() is None:
        mine = [t for t in load(url, study) if t.user_attrs.get("worker") == victim_id and t.state.is_finished()]
        if mine:
            break
        time.sleep(0.1)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the worker ended before it could be killed"
    at_kill = {t.number: t.value for t in load(url, study) if t.state.is_finished()}
    cut_off = [t.number for t in load(url, study) if t.state == TrialState.RUNNING
               and t.user_attrs.get("worker") in (victim_id, None)]  # untagged: killed inside ask
    finish(survivors)
    assert [p.returncode for p in survivors] == [0, 0]
    trials = load(url, study)
    final = {t.number: t for t in trials}
    assert {n: final[n].value for n in at_kill} == at_kill  # none of the dead worker's results lost or changed
    assert any(t.user_attrs.get("worker") == victim_id and t.state == TrialState.COMPLETE for t in trials)
    assert len([t for t in trials if counts(t)]) == budget  # the survivors finished the budget
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    # an untagged running trial may also have been a survivor's, read between its ask and its tags
    cut_off = [n for n in cut_off if final[n].user_attrs.get("worker") in (victim_id, None)]
    for number in cut_off:  # the trial it was on: abandoned, its configuration (if drawn) evaluated again
        assert final[number].user_attrs.get("abandoned") and not counts(final[number]), final[number].user_attrs
        retry = [t for t in trials if t.user_attrs.get("retry_of") == number]
        assert len(retry) == (1 if final[number].params else 0)
        assert all(counts(t) and t.params == final[number].params for t in retry)
    # the dead worker, restarted, resumes its checkpoint, finds the budget spent and adds nothing
    again = start(url, study, "w0", budget, model="random_forest", logs=tmp_path)
    finish([again])
    assert again.returncode == 0, (tmp_path / "w0.log").read_text()
    assert len([t for t in load(url, study) if counts(t)]) == budget


def worker_id_of(study: str, worker: str, timeout: float = 60) -> str:
    """The id a worker tags its trials with, read from its checkpoint thread."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from tunegraph.graphs.optimize import builder

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(".tunegraph/checkpoints.db").exists():
            with SqliteSaver.from_conn_string(".tunegraph/checkpoints.db") as saver:
                state = builder.compile(checkpointer=saver).get_state(
                    {"configurable": {"thread_id": f"{study}@{worker}"}})
                if state.values.get("worker_id"):
                    return state.values["worker_id"]
        time.sleep(0.2)
    raise AssertionError(f"worker {worker} never started")


def test_a_stale_trial_is_given_back_and_its_configuration_retried(tmp_path, monkeypatch):
    """In one process, two 'workers' on SQLite: A claims a trial and stops beating (as if killed)."""
    monkeypatch.setattr(distributed, "HEARTBEAT_S", 1)
    storage = open_storage(f"sqlite:///{tmp_path / 'stale.db'}")
    study = optuna.create_study(study_name="stale", storage=storage)
    a = claim(study, 2, lambda: study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}))
    study._storage.set_trial_user_attr(a._trial_id, "source", "llm")
    distributed.heartbeats.release(a._trial_id)  # A dies
    b = claim(study, 2, lambda: study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}))
    study.tell(b, 0.5)
    assert reclaim_stale(study) == []  # A's last beat is fresh: it holds its slot
    time.sleep(4.2)  # past the 3 s grace even at SQLite's one-second clock resolution
    c = claim(study, 2, lambda: study.ask({"x": optuna.distributions.FloatDistribution(0, 1)}))
    assert c is not None and c.params == a.params  # A's configuration, popped from the queue
    retry = study._storage.get_trial(c._trial_id)
    assert retry.user_attrs["retry_of"] == a.number and retry.user_attrs["source"] == "llm"
    dead = study._storage.get_trial(a._trial_id)
    assert dead.state == TrialState.FAIL and dead.user_attrs["abandoned"] and not counts(dead)
    study.tell(c, 0.25)
    assert claim(study, 2, lambda: pytest.fail("no slot is left")) is None
    distributed.heartbeats.release(c._trial_id)


def test_the_password_is_masked():
    assert mask_url("postgresql://u:s3cr%40t@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert mask_url("postgresql://u@db/x?password=s3cret&sslmode=require") == \
        "postgresql://u@db/x?password=***&sslmode=require"
    assert mask_url("sqlite:///.tunegraph/studies.db") == "sqlite:///.tunegraph/studies.db"
    assert storage_url("postgresql://u@db/x") == "postgresql+psycopg://u@db/x"


def test_a_refused_connection_is_reported_without_the_password(capsys):
    from tunegraph.cli import main

    code = main(["optimize", "--dataset", "iris", "--model", "knn", "--llm", "none", "--trials", "1",
                 "--storage", "postgresql://u:hunter2-secret@127.0.0.1:9/x", "--study", "refused", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot open storage postgresql://u:***@127.0.0.1:9/x" in err  # the environment: exit 1
    assert "hunter2-secret" not in err


def test_sqlite_storage_is_write_ahead_logged_and_a_killed_writer_loses_no_commit(tmp_path):
    """WAL with synchronous=NORMAL (fast commits) must still keep every commit of a killed process."""
    db = tmp_path / "studies.db"
    url = f"sqlite:///{db}"
    storage = open_storage(url)
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    script = (f"import os, optuna\nfrom tunegraph.tools.trials.distributed import open_storage\n"
              f"study = optuna.create_study(study_name='w', storage=open_storage({url!r}))\n"
              "for i in range(5):\n    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=i))\n"
              "os.kill(os.getpid(), 9)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == -signal.SIGKILL
    study = optuna.load_study(study_name="w", storage=open_storage(url))
    assert [t.value for t in study.trials] == [0, 1, 2, 3, 4]
