"""Several workers on one study: the shared trial budget, the study lock, heartbeats.

Workers on different machines share nothing but the Optuna storage, so whatever they must
agree on goes through it (opened and reached through ``tools.trials.storage``, whose names
``open_storage``'s callers also import from here):

* The budget. A worker claims a slot under a study-wide lock (a PostgreSQL advisory lock; a
  file lock for SQLite or a journal file, which live on one machine) before it asks for a trial: it counts the
  finished trials plus the running ones that hold a slot, and asks only while that is below the
  budget. N workers on a budget of B therefore finish exactly B trials, however they interleave.
* Liveness. A trial that holds a slot gets Optuna heartbeats while its worker lives. A peer
  that finds one stale (no heartbeat for 3 intervals: its worker died) marks it abandoned and
  failed, which frees the slot, and enqueues its configuration again, so none is lost.
  (A journal file has no heartbeats: there a dead worker's trial waits for that worker to be
  started again, which adopts it; several workers that may die belong on SQLite or PostgreSQL.)

Example:
    >>> storage = open_storage("postgresql://me@db.internal/tunegraph")       # doctest: +SKIP
    >>> trial = claim(study, budget=40, ask=study.ask)                        # doctest: +SKIP
    >>> mask_url("postgresql://me:secret@db/x")
    'postgresql://me:***@db/x'
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from tunegraph.errors import ServiceError
from tunegraph.tools.trials.storage import (  # noqa: F401 - StorageError and the URL helpers: imported from here too
    StorageError,
    fail_trial,
    handle_of,
    is_rdb,
    mask_url,
    open_rdb,
    scrub,
    storage_url,
    write_ahead_log,
)
from tunegraph.tools.trials.storage import file_lock as _file_lock

HEARTBEAT_S = max(1, int(os.environ.get("TUNEGRAPH_HEARTBEAT_S", "10")))  # grace: 3 missed beats
LOCK_NAMESPACE = 0x7447  # first key of TuneGraph's advisory locks; the second is the study id
POLL_S = 0.5


class WorkerBusy(ServiceError):
    """Another process on this machine runs the same checkpoint thread."""


# ---- storage -------------------------------------------------------------------------------

def open_storage(url: str, wait_s: float = 120.0) -> RDBStorage:
    """An Optuna RDB storage with heartbeats on (interval ``TUNEGRAPH_HEARTBEAT_S``, 10 s; grace: 3
    missed beats), for workers that share a study (``tools.trials.storage.open_rdb``)."""
    return open_rdb(url, wait_s, heartbeat_s=HEARTBEAT_S)


# ---- the study lock --------------------------------------------------------------------------

_LOCAL = threading.Lock()


@contextlib.contextmanager
def study_lock(study: optuna.Study) -> Iterator[None]:
    """Hold a lock on ``study`` that every worker of it sees, for a few storage calls.

    PostgreSQL: a transaction-level advisory lock on a connection of its own (released with the
    transaction, or by the server when a killed worker's connection drops). SQLite: ``flock`` on
    a file beside the database; a journal file likewise (not the ``.lock`` Optuna's own journal
    writes take). Otherwise a lock within this process only.
    """
    stored = handle_of(study)
    engine, journal = stored.engine, stored.journal_path
    dialect = engine.dialect.name if engine is not None else ""
    with _LOCAL:
        if dialect == "postgresql":
            from sqlalchemy import text

            with engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK_NAMESPACE, "b": stored.study_id})
                yield
        elif dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            with _file_lock(Path(f"{engine.url.database}.lock")):
                yield
        elif journal:
            with _file_lock(Path(f"{journal}.study-lock")):
                yield
        else:
            if dialect:
                warnings.warn(f"{dialect} storage: the trial budget is shared within this process only; "
                              "run several workers on PostgreSQL (or SQLite on one machine)", stacklevel=3)
            yield


@contextlib.contextmanager
def checkpoint_thread_lock(directory: Path, thread_id: str) -> Iterator[None]:
    """Refuse a second process on the same checkpoint thread in this directory (it would corrupt it)."""
    name = re.sub(r"[^A-Za-z0-9_.@\-]", "_", thread_id)
    try:
        with _file_lock(directory / "locks" / f"{name}.lock", blocking=False):
            yield
    except BlockingIOError:
        raise WorkerBusy(f"another process in this directory is running '{thread_id}'; "
                         "give each worker of a study its own --worker NAME") from None


# ---- the budget ------------------------------------------------------------------------------

def counts(trial: FrozenTrial) -> bool:
    """Whether a finished trial counts toward the budget: every result does; a trial abandoned
    by a crash before it was evaluated (marked ``abandoned`` and failed) does not."""
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and not trial.user_attrs.get("abandoned"))


def usage(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> tuple[int, int]:
    """``(finished trials that count, running trials that hold a slot)`` of ``trials`` (default: the study's)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False)
    done = sum(counts(t) for t in trials)
    held = sum(t.state == TrialState.RUNNING and bool(t.user_attrs.get("claimed")) for t in trials)
    return done, held


def claim(study: optuna.Study, budget: int, ask: Callable[[], optuna.Trial],
          poll_s: float = POLL_S) -> optuna.Trial | None:
    """Run ``ask`` (which creates or pops one trial) when a slot of ``budget`` is free, and keep
    the trial alive with heartbeats; None once the budget is spent.

    When every free slot is held by a running trial, it waits: the trial either finishes (the
    budget is spent) or is found stale and given back.
    """
    stored = handle_of(study)
    while True:
        with study_lock(study):
            # one read of the study per ask (a storage round trip costs about as much as TPE's model)
            trials = study.get_trials(deepcopy=False)
            done, held = usage(study, None if reclaim_stale(study, trials) else trials)
            if done >= budget:
                return None
            if done + held < budget:
                with warnings.catch_warnings():  # heartbeats are ours to send (Heartbeats), not Study.optimize's
                    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
                    trial = ask()
                heartbeats.hold(study, stored.trial_id(trial.number))  # first beat before the mark (_hold_slot)
                trial.set_user_attr("claimed", True)
                return trial
        time.sleep(poll_s)


def adopt(study: optuna.Study, budget: int, trial: FrozenTrial) -> bool:
    """Take over a running trial of ours left by a crash: True if it holds (or got) a slot."""
    stored = handle_of(study)
    if trial.user_attrs.get("claimed"):
        heartbeats.hold(study, stored.trial_id(trial.number))
        return True
    with study_lock(study):  # cut off between ask and claim: it needs a slot like a new trial
        done, held = usage(study)
        if done + held < budget and not stored.trial(trial.number).state.is_finished():
            _hold_slot(study, trial.number)
            return True
    return False


def _hold_slot(study: optuna.Study, number: int) -> None:
    stored = handle_of(study)
    heartbeats.hold(study, stored.trial_id(number))  # first beat before the mark: a claimed trial is always watched
    stored.set_trial_user_attr(number, "claimed", True)


def reclaim_stale(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[int]:
    """Under the study lock: abandon the running trials whose worker died, and enqueue their
    configurations again (source kept, ``retry_of`` set); the numbers of the trials abandoned.

    Dead means stale (no heartbeat within the grace period) or unclaimed: ``claim`` marks every
    trial it asks for before it lets go of the lock, so a live worker's trial never looks
    unclaimed to the lock's next holder; one that does was cut off mid-ask. (Trials asked by
    other Optuna code sharing the study would look the same: let TuneGraph workers alone ask.)
    ``trials``: the study's trials when the caller has just read them (one round trip less).
    """
    stored = handle_of(study)
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    running = [t for t in trials if t.state == TrialState.RUNNING]
    stale = stored.stale_trial_numbers() if running else set()
    abandoned = []
    for trial in running:
        if trial.number not in stale and trial.user_attrs.get("claimed"):
            continue
        try:  # marked first: a crash between the two leaves it running, and it is found again
            stored.set_trial_user_attr(trial.number, "abandoned", "its worker died")
            if not fail_trial(study, trial.number):
                continue
        except UpdateFinishedTrialError:  # its worker finished it after all
            continue
        abandoned.append(trial.number)
        if trial.params:
            attrs = {k: v for k, v in trial.user_attrs.items() if k in ("source", "reasoning")}
            study.enqueue_trial(trial.params, user_attrs={"source": "tpe", **attrs, "retry_of": trial.number})
    return abandoned


# ---- heartbeats ------------------------------------------------------------------------------

class Heartbeats:
    """One daemon thread per process beats for every trial this process holds."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[RDBStorage, float]] = {}  # trial id: storage, next beat
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, study: optuna.Study, trial_id: int) -> None:
        stored = handle_of(study)
        interval = stored.heartbeat_interval
        if interval is None or trial_id in self._held:
            return
        storage = stored.storage
        assert isinstance(storage, RDBStorage)  # only an RDB storage has heartbeats (heartbeat_interval)
        storage.record_heartbeat(trial_id)
        with self._lock:
            self._held[trial_id] = (storage, time.monotonic() + interval)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tunegraph-heartbeat", daemon=True)
                self._thread.start()

    def release(self, trial_id: int) -> None:
        with self._lock:
            self._held.pop(trial_id, None)

    def _run(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                due = [(tid, st) for tid, (st, when) in self._held.items() if when <= now]
                for trial_id, storage in due:
                    self._held[trial_id] = (storage, now + (storage.heartbeat_interval or HEARTBEAT_S))
            for trial_id, storage in due:
                with contextlib.suppress(Exception):  # a storage hiccup must not stop the beats
                    storage.record_heartbeat(trial_id)


heartbeats = Heartbeats()

