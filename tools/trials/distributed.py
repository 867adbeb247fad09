"""Several workers on one study: the storage, the shared trial budget, heartbeats, masked URLs.

Workers on different machines share nothing but the Optuna storage, so whatever they must
agree on goes through it:

* The budget. A worker claims a slot under a study-wide lock (a PostgreSQL advisory lock; a
  file lock for SQLite, which lives on one machine) before it asks for a trial: it counts the
  finished trials plus the running ones that hold a slot, and asks only while that is below the
  budget. N workers on a budget of B therefore finish exactly B trials, however they interleave.
* Liveness. A trial that holds a slot gets Optuna heartbeats while its worker lives. A peer
  that finds one stale (no heartbeat for 3 intervals: its worker died) marks it abandoned and
  failed, which frees the slot, and enqueues its configuration again, so none is lost.

Example:
    >>> storage = open_storage("postgresql://me@db.internal/tunegraph")       # doctest: +SKIP
    >>> trial = claim(study, budget=40, ask=study.ask)                        # doctest: +SKIP
    >>> mask_url("postgresql://me:secret@db/x")
    'postgresql://me:***@db/x'
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import FrozenTrial, TrialState

from tunegraph.errors import ServiceError

HEARTBEAT_S = max(1, int(os.environ.get("TUNEGRAPH_HEARTBEAT_S", "10")))  # grace: 3 missed beats
LOCK_NAMESPACE = 0x7447  # first key of TuneGraph's advisory locks; the second is the study id
POLL_S = 0.5


class StorageError(ServiceError):
    """The storage could not be opened; the message names it with its password masked."""


class WorkerBusy(ServiceError):
    """Another process on this machine runs the same checkpoint thread."""


# ---- URLs ----------------------------------------------------------------------------------

def storage_url(url: str) -> str:
    """``postgresql://`` with the psycopg (3) driver, which TuneGraph installs, whatever
    SQLAlchemy's default driver is; any other URL unchanged."""
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for anything printed or logged."""
    masked = re.sub(r"^([A-Za-z0-9+.\-]+://[^:/@]*):[^@]*@", r"\1:***@", url)
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", masked)


def scrub(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (if any) masked wherever it appears."""
    match = re.match(r"^[A-Za-z0-9+.\-]+://[^:/@]*:([^@]+)@", url)
    if match and match.group(1) != "***":
        text = text.replace(match.group(1), "***")
    return text


# ---- storage -------------------------------------------------------------------------------

def is_rdb(url: str) -> bool:
    return re.match(r"^(sqlite|postgres|postgresql|mysql)(\+[a-z0-9_]+)?://", url) is not None


def open_storage(url: str, wait_s: float = 120.0) -> RDBStorage:
    """An Optuna RDB storage with heartbeats on (interval ``TUNEGRAPH_HEARTBEAT_S``, 10 s).

    A password left out of a PostgreSQL URL is taken by libpq from ``PGPASSWORD`` or ``~/.pgpass``.
    Workers that start together on a new database collide while creating its tables: on SQLite
    they take turns under a file lock; elsewhere each retries, with backoff, for up to ``wait_s``.
    """
    sqlite = url.startswith("sqlite")
    kwargs = {"connect_args": {"timeout": 60}} if sqlite else {}  # several writers wait their turn
    database = url.split(":///", 1)[1] if sqlite and ":///" in url else ""
    on_disk = bool(database) and database != ":memory:"
    deadline, attempt = time.monotonic() + wait_s, 0
    while True:
        try:
            with warnings.catch_warnings(), \
                    (_file_lock(Path(f"{database}.lock")) if on_disk else contextlib.nullcontext()):
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = RDBStorage(storage_url(url), engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S,
                                     grace_period=3 * HEARTBEAT_S)
                if on_disk:
                    write_ahead_log(storage.engine)  # under the lock: the switch to WAL waits for no peer
            return storage
        except ImportError as exc:
            raise StorageError(f"cannot open storage {mask_url(url)}: {exc} (is its driver installed?)") from exc
        except Exception as exc:  # SQLAlchemy's: refused connection, bad password, tables created by a peer
            if type(exc).__module__.split(".")[0] not in ("sqlalchemy", "optuna"):
                raise
            error = scrub(str(exc).splitlines()[0], url)
            collided = type(exc).__name__ in ("IntegrityError", "ProgrammingError", "StorageInternalError") or \
                any(word in error for word in ("already exists", "duplicate", "locked"))
            if not collided or time.monotonic() > deadline:
                raise StorageError(f"cannot open storage {mask_url(url)}: {error}") from None
            attempt += 1
            time.sleep(min(0.25 * 2 ** attempt, 4.0) * (0.5 + random.random()))


def write_ahead_log(engine) -> None:
    """SQLite in WAL mode with ``synchronous=NORMAL`` on every connection of ``engine``: a commit
    then appends to the log without an fsync, which cut the graph's overhead per trial by about a
    quarter (164 -> 122 ms, benchmarks/overhead.py). A killed process loses nothing committed; only a power
    cut or OS crash may undo the last commits. WAL needs the file on a local disk, as SQLite's
    locking does anyway."""
    from sqlalchemy import event

    def pragmas(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", pragmas)
    engine.dispose()  # the connections opened to create the tables predate the listener
    with engine.connect():
        pass


def _backend(study: optuna.Study):
    storage = study._storage
    return getattr(storage, "_backend", storage)


# ---- the study lock --------------------------------------------------------------------------

_LOCAL = threading.Lock()


@contextlib.contextmanager
def study_lock(study: optuna.Study) -> Iterator[None]:
    """Hold a lock on ``study`` that every worker of it sees, for a few storage calls.

    PostgreSQL: a transaction-level advisory lock on a connection of its own (released with the
    transaction, or by the server when a killed worker's connection drops). SQLite: ``flock`` on
    a file beside the database. Otherwise a lock within this process only.
    """
    backend = _backend(study)
    engine = getattr(backend, "engine", None)
    dialect = engine.dialect.name if engine is not None else ""
    with _LOCAL:
        if dialect == "postgresql":
            from sqlalchemy import text

            with engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOCK_NAMESPACE, "b": study._study_id})
                yield
        elif dialect == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            with _file_lock(Path(f"{engine.url.database}.lock")):
                yield
        else:
            if dialect:
                warnings.warn(f"{dialect} storage: the trial budget is shared within this process only; "
                              "run several workers on PostgreSQL (or SQLite on one machine)", stacklevel=3)
            yield


@contextlib.contextmanager
def _file_lock(path: Path, blocking: bool = True) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
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
    while True:
        with study_lock(study):
            # one read of the study per ask (a storage round trip costs about as much as TPE's model)
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            done, held = usage(study, None if reclaim_stale(study, trials) else trials)
            if done >= budget:
                return None
            if done + held < budget:
                with warnings.catch_warnings():  # heartbeats are ours to send (Heartbeats), not Study.optimize's
                    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
                    trial = ask()
                _hold_slot(study, trial._trial_id)
                return trial
        time.sleep(poll_s)


def adopt(study: optuna.Study, budget: int, trial: FrozenTrial) -> bool:
    """Take over a running trial of ours left by a crash: True if it holds (or got) a slot."""
    if trial.user_attrs.get("claimed"):
        heartbeats.hold(study, trial._trial_id)
        return True
    with study_lock(study):  # cut off between ask and claim: it needs a slot like a new trial
        done, held = usage(study)
        if done + held < budget and not study._storage.get_trial(trial._trial_id).state.is_finished():
            _hold_slot(study, trial._trial_id)
            return True
    return False


def _hold_slot(study: optuna.Study, trial_id: int) -> None:
    heartbeats.hold(study, trial_id)  # first beat before the mark: a claimed trial is always watched
    study._storage.set_trial_user_attr(trial_id, "claimed", True)


def reclaim_stale(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[int]:
    """Under the study lock: abandon the running trials whose worker died, and enqueue their
    configurations again (source kept, ``retry_of`` set); the numbers of the trials abandoned.

    Dead means stale (no heartbeat within the grace period) or unclaimed: ``claim`` marks every
    trial it asks for before it lets go of the lock, so a live worker's trial never looks
    unclaimed to the lock's next holder; one that does was cut off mid-ask. (Trials asked by
    other Optuna code sharing the study would look the same: let TuneGraph workers alone ask.)
    ``trials``: the study's trials when the caller has just read them (one round trip less).
    """
    storage = study._storage
    if trials is None:
        trials = storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,))
    running = [t for t in trials if t.state == TrialState.RUNNING]
    stale = set(storage._get_stale_trial_ids(study._study_id)) if running and is_heartbeat_enabled(storage) else set()
    abandoned = []
    for trial in running:
        if trial._trial_id not in stale and trial.user_attrs.get("claimed"):
            continue
        try:  # marked first: a crash between the two leaves it running, and it is found again
            storage.set_trial_user_attr(trial._trial_id, "abandoned", "its worker died")
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
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
        self._held: dict[int, tuple[optuna.storages.BaseStorage, float]] = {}  # trial id: storage, next beat
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, study: optuna.Study, trial_id: int) -> None:
        storage = study._storage
        if not is_heartbeat_enabled(storage) or trial_id in self._held:
            return
        storage.record_heartbeat(trial_id)
        with self._lock:
            self._held[trial_id] = (storage, time.monotonic() + storage.get_heartbeat_interval())
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
                    self._held[trial_id] = (storage, now + storage.get_heartbeat_interval())
            for trial_id, storage in due:
                with contextlib.suppress(Exception):  # a storage hiccup must not stop the beats
                    storage.record_heartbeat(trial_id)


heartbeats = Heartbeats()

