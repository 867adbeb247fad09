"""Optuna storage: what a ``--storage`` value names, opening it, and the calls TuneGraph makes on a
study's storage, through Optuna's public API.

A storage is named by a string (``--storage``, ``TUNEGRAPH_STORAGE``, ``Context.storage``):

* an RDB URL: ``sqlite:///.tunegraph/studies.db`` (the default), or ``postgresql://...`` for
  workers on several machines (``tools.trials.distributed``);
* a file path, no ``scheme://`` (e.g. ``.tunegraph/studies.journal``): Optuna's ``JournalStorage``
  on a local file, for one machine. It costs a fraction of SQLite's time per trial
  (benchmarks/results/overhead.md). Each write reaches the file before the call returns, so a
  killed process loses nothing it wrote; a write that finishes a trial is also flushed to the
  disk (fsync), so not even a power cut loses a finished trial.

A study's storage object, its id there and its trial ids are kept with it (``StoredStudy``),
since Optuna's ``Study`` does not expose them; ``bind`` records them when TuneGraph opens a study.

Example:
    >>> storage = open_spec("sqlite:///:memory:")
    >>> study = optuna.create_study(study_name="demo", storage=storage)
    >>> stored = bind(study, storage)
    >>> stored.study_id == storage.get_study_id_from_name("demo")
    True
    >>> mask_url("postgresql://me:secret@db/x")
    'postgresql://me:***@db/x'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import BaseJournalBackend, JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import FrozenTrial, TrialState

from tunegraph.errors import ServiceError

StorageSpec = str  # an RDB URL or a journal file path
READ_MAX_AGE_S = 2.0  # StoredStudy.take_read: how old a kept read of the study may be
SQLITE_MAGIC = b"SQLite format 3\x00"


class StorageError(ServiceError):
    """The storage could not be opened; the message names it with its password masked."""


# ---- names ---------------------------------------------------------------------------------

def is_rdb(url: str) -> bool:
    return re.match(r"^(sqlite|postgres|postgresql|mysql)(\+[a-z0-9_]+)?://", url) is not None


def is_journal(spec: str) -> bool:
    """Whether ``spec`` names a journal file: a path, not a ``scheme://`` URL."""
    return bool(spec) and "://" not in spec


def storage_url(url: str) -> str:
    """``postgresql://`` with the psycopg (3) driver, which TuneGraph installs, whatever
    SQLAlchemy's default driver is; any other URL unchanged."""
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for anything printed or logged (a journal
    path is returned as it is)."""
    masked = re.sub(r"^([A-Za-z0-9+.\-]+://[^:/@]*):[^@]*@", r"\1:***@", url)
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", masked)


def scrub(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (if any) masked wherever it appears."""
    match = re.match(r"^[A-Za-z0-9+.\-]+://[^:/@]*:([^@]+)@", url)
    if match and match.group(1) != "***":
        text = text.replace(match.group(1), "***")
    return text


# ---- opening -------------------------------------------------------------------------------

_OPENED: weakref.WeakSet[BaseStorage] = weakref.WeakSet()  # by this module: see handle_of


def open_spec(spec: StorageSpec) -> BaseStorage:
    """The storage ``spec`` names (an RDB URL, or a journal file path), without heartbeats;
    ``tools.trials.distributed.open_storage`` opens an RDB for workers that share a study."""
    return open_rdb(spec) if not is_journal(spec) else open_journal(spec)


def load_study(name: str, spec: StorageSpec) -> optuna.Study:
    """The study ``name`` in the storage ``spec`` names (KeyError if there is none)."""
    return optuna.load_study(study_name=name, storage=open_spec(spec))


def open_rdb(url: str, wait_s: float = 120.0, heartbeat_s: int | None = None) -> RDBStorage:
    """An Optuna RDB storage; with ``heartbeat_s``, heartbeats at that interval (grace: 3 beats).

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
                    (file_lock(Path(f"{database}.lock")) if on_disk else contextlib.nullcontext()):
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = RDBStorage(storage_url(url), engine_kwargs=kwargs, heartbeat_interval=heartbeat_s or None,
                                     grace_period=3 * heartbeat_s if heartbeat_s else None)
                if on_disk:
                    write_ahead_log(storage.engine)  # under the lock: the switch to WAL waits for no peer
            _OPENED.add(storage)
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


def open_journal(path: str | Path) -> TrialJournal:
    """Optuna's ``JournalStorage`` on the file ``path`` (created with its folder if missing)."""
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
                raise StorageError(f"cannot open storage {path}: it is an SQLite database; "
                                   f"give it as sqlite:///{path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        storage = TrialJournal(JournalFile(str(path)))
    except OSError as exc:
        raise StorageError(f"cannot open storage {path}: {exc}") from exc
    except ValueError as exc:  # Optuna's 'Invalid log format.': not a journal
        raise StorageError(f"cannot open storage {path}: not an Optuna journal ({exc})") from exc
    _OPENED.add(storage)
    return storage


class JournalFile(BaseJournalBackend):
    """Optuna's journal file format and lock (``JournalFileBackend`` reads, and writers on the
    same file exclude each other with its ``JournalFileSymlinkLock``), with the fsync left to
    :meth:`sync`: an append reaches the operating system before it returns, which is all a
    killed process needs; ``TrialJournal`` syncs when a trial finishes. (Optuna's backend
    fsyncs every append: about 18 per trial of the graph, 3-4 ms each on a busy disk.)"""

    def __init__(self, path: str) -> None:
        self.path = path
        self._reader = JournalFileBackend(path)  # creates the file if missing
        self._lock = JournalFileSymlinkLock(path)
        self._seen = (-1, -1)  # (logs read, file size then) after the last read that reached the end

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        # JournalStorage reads before each call; the file unchanged since the last read to its end, there
        # is nothing new (a line still being written makes the file grow), and opening it is spared
        size = os.stat(self.path).st_size
        if (log_number_from, size) == self._seen:
            return iter(())
        return self._read(log_number_from, size)

    def _read(self, log_number_from: int, size: int) -> Iterator[dict[str, Any]]:
        number = log_number_from
        for log in self._reader.read_logs(log_number_from):
            number += 1
            yield log
        self._seen = (number, size)  # the reader stops at the end it found, at least `size`

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode("utf-8")
        self._lock.acquire()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        finally:
            self._lock.release()

    def sync(self) -> None:
        """Flush the file to the disk: what was appended survives an OS crash or a power cut."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class TrialJournal(JournalStorage):
    """``JournalStorage`` on a :class:`JournalFile` that is flushed to the disk whenever a trial
    finishes (told, or added finished), so every finished trial is durable before the call returns."""

    def __init__(self, journal: JournalFile) -> None:
        super().__init__(journal)
        self.journal = journal

    @property
    def path(self) -> str:
        return self.journal.path

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        changed = super().set_trial_state_values(trial_id, state, values)
        if state.is_finished():
            self.journal.sync()
        return changed

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        trial_id = super().create_new_trial(study_id, template_trial)
        if template_trial is not None and template_trial.state.is_finished():
            self.journal.sync()
        return trial_id


@contextlib.contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[None]:
    try:
        handle = open(path, "a+")
    except FileNotFoundError:  # its folder first (taken once per trial: no mkdir while it exists)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---- a study with its storage --------------------------------------------------------------

class StoredStudy:
    """A study's storage object (the one it was opened on), its id there and its trial ids.

    Trial ids never change, so each is asked of the storage once per process
    (``get_trial_id_from_study_id_trial_number``) and kept.
    """

    def __init__(self, storage: BaseStorage, study_id: int, study_name: str) -> None:
        self.storage = storage
        self.study_id = study_id
        self.study_name = study_name
        self._ids: dict[int, int] = {}
        # trials this process asked and has not evaluated yet (optuna.Trial, by number): the
        # Evaluator skips the storage read that a trial resumed from a checkpoint needs
        self.asked: dict[int, optuna.Trial] = {}
        # the study's trials as a node just read them, for the next node (taken once; see take_read)
        self._read: tuple[float, list[FrozenTrial]] | None = None

    def trial_id(self, number: int) -> int:
        trial_id = self._ids.get(number)
        if trial_id is None:
            trial_id = self._ids[number] = self.storage.get_trial_id_from_study_id_trial_number(
                self.study_id, number)
        return trial_id

    def trial(self, number: int) -> FrozenTrial:
        """Trial ``number`` as the storage has it now."""
        return self.storage.get_trial(self.trial_id(number))

    def set_trial_user_attr(self, number: int, key: str, value: Any) -> None:
        """A user attribute of trial ``number`` (``Trial.set_user_attr`` where no live Trial is at hand)."""
        self.storage.set_trial_user_attr(self.trial_id(number), key, value)

    def keep_read(self, trials: list[FrozenTrial]) -> None:
        """Keep the study's trials just read, for the node that runs next in this process."""
        self._read = (time.monotonic(), trials)

    def take_read(self, max_age_s: float = READ_MAX_AGE_S) -> list[FrozenTrial] | None:
        """The trials ``keep_read`` kept, once and only within ``max_age_s`` (else None): a second
        read a moment later is spared. (Any read is a moment old when used: peers may have changed
        the study since; what needs it exact, the budget, reads again under the study lock.)"""
        kept, self._read = self._read, None
        if kept is None or time.monotonic() - kept[0] > max_age_s:
            return None
        return kept[1]

    @property
    def heartbeat_interval(self) -> int | None:
        """Seconds between heartbeats, or None: only an RDB storage opened with heartbeats has them."""
        return self.storage.heartbeat_interval if isinstance(self.storage, RDBStorage) else None

    @property
    def engine(self):
        """The SQLAlchemy engine of an RDB storage (``RDBStorage.engine``), else None."""
        return self.storage.engine if isinstance(self.storage, RDBStorage) else None

    @property
    def journal_path(self) -> str | None:
        return self.storage.path if isinstance(self.storage, TrialJournal) else None

    def stale_trial_numbers(self) -> set[int]:
        """Running trials whose heartbeat is older than the grace period (their worker died)."""
        if self.heartbeat_interval is None or not isinstance(self.storage, RDBStorage):
            return set()
        # PRIVATE API, the one use outside the sampler: Optuna's public form, fail_stale_trials(study),
        # fails each stale trial before anyone may mark it, and a finished trial takes no more
        # attributes, so it could not be marked 'abandoned' first (tools.trials.distributed.reclaim_stale).
        ids = self.storage._get_stale_trial_ids(self.study_id)
        return {self.storage.get_trial(trial_id).number for trial_id in ids}


_BOUND: weakref.WeakKeyDictionary[optuna.Study, StoredStudy] = weakref.WeakKeyDictionary()
_BIND_LOCK = threading.Lock()


def bind(study: optuna.Study, storage: BaseStorage) -> StoredStudy:
    """Record that ``study`` lives in ``storage`` (the object it was created or loaded with)."""
    stored = StoredStudy(storage, storage.get_study_id_from_name(study.study_name), study.study_name)
    with _BIND_LOCK:
        _BOUND[study] = stored
    return stored


def handle_of(study: optuna.Study) -> StoredStudy:
    """The :class:`StoredStudy` of ``study``: as bound, else found among the storages this module
    opened (a study made with ``optuna.create_study(storage=open_storage(...))``), by its name."""
    with _BIND_LOCK:
        stored = _BOUND.get(study)
    if stored is not None:
        return stored
    found = []
    for storage in list(_OPENED):
        # KeyError: not there; a storage that cannot answer any more (its file deleted) holds no live study
        with contextlib.suppress(KeyError, optuna.exceptions.StorageInternalError, OSError):
            storage.get_study_id_from_name(study.study_name)
            found.append(storage)
    if len(found) != 1:
        where = "several storages" if found else "no storage TuneGraph opened"
        raise StorageError(f"study '{study.study_name}' is in {where}: "
                           "bind it to its storage first (tools.trials.storage.bind)")
    return bind(study, found[0])


def fail_trial(study: optuna.Study, number: int) -> bool:
    """Fail the running trial ``number`` of ``study``: True if this call failed it, False if it
    had finished (or was finished by another process meanwhile)."""
    try:
        study.tell(number, state=TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:  # finished by its worker in between
        return False
    except ValueError:  # Optuna's 'Cannot tell a COMPLETE trial'
        if handle_of(study).trial(number).state.is_finished():
            return False
        raise
    return True
