"""Run a function in a child process that can be killed.

A per-trial time limit checked between folds cannot stop one fold that never ends, and a model
whose native code crashes, or that the kernel's OOM killer picks, takes the whole run with it.
An :class:`IsolatedRunner` keeps one child process (started once, restarted only after it was
killed or died), sends it each call through a pipe, and waits at most ``timeout`` seconds:

* the child answers: its return value (or the exception it raised, re-raised here);
* the time runs out: the child and anything it started are killed (``timeout``);
* the child dies: the call reports how (``died``), and the next call starts a new child.

The child leads its own process group, so a Ctrl-C in the terminal reaches the parent only,
which kills the child on its way out; on Linux a parent killed outright takes the child with it
(``PR_SET_PDEATHSIG``).

Example:
    >>> runner = IsolatedRunner()                                # doctest: +SKIP
    >>> runner.call(math.factorial, (10,), timeout=5.0)          # doctest: +SKIP
    ('ok', 3628800)
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from tunegraph.errors import ServiceError

START_TIMEOUT_S = 120.0  # a spawned child imports NumPy, scikit-learn and the model libraries


class IsolationError(ServiceError):
    """The child process could not be started."""


class IsolatedRunner:
    def __init__(self) -> None:
        self._proc: multiprocessing.Process | None = None
        self._conn = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def call(self, fn: Callable[..., Any], args: tuple, timeout: float) -> tuple[str, Any]:
        """``("ok", value)``, ``("timeout", None)`` or ``("died", exit code)``; ``fn`` and ``args``
        must pickle (``fn`` a module-level function). An exception ``fn`` raises is raised here."""
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            try:
                self._conn.send((fn, args))
                # the clock starts once the child has the call: unpickling it may import modules first
                if not self._conn.poll(START_TIMEOUT_S) or self._conn.recv() != "received":
                    self._kill()
                    raise IsolationError("the evaluation process did not take the call")
                if not self._conn.poll(timeout):
                    self._kill()
                    return "timeout", None
                kind, value = self._conn.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError):
                return "died", self._reap()
            except IsolationError:
                raise
            except BaseException:  # Ctrl-C while waiting: the child must not outlive the call
                self._kill()
                raise
        if kind == "raised":
            raise value
        return "ok", value

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._kill()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy this process's threads' locks
        parent, child = context.Pipe()
        proc = context.Process(target=_serve, args=(child,), name="tunegraph-evaluator", daemon=True)
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        try:
            ready = parent.poll(START_TIMEOUT_S) and parent.recv() == "ready"
        except EOFError:
            ready = False
        if not ready:
            code = self._reap() if not proc.is_alive() else self._kill()
            raise IsolationError(f"the evaluation process did not start (exit code {code})")

    def _kill(self) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the child and whatever it started (joblib workers)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        return self._reap()

    def _reap(self) -> int | None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is None:
            return None
        proc.join(10)
        return proc.exitcode


def _serve(conn) -> None:
    """The child: answer calls until the parent closes the pipe."""
    os.setpgrp()  # a group of its own: the terminal's Ctrl-C goes to the parent, which decides
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    conn.send("ready")
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        except Exception as exc:  # the call does not unpickle here (a module this process cannot import)
            conn.send("received")
            conn.send(("raised", RuntimeError(f"the evaluation process cannot load the call: {exc}")))
            continue
        conn.send("received")
        try:
            answer = ("value", fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, who decides
            answer = ("raised", exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an unpicklable result or exception: say so instead
            conn.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent dies (a parent killed outright cannot
    kill a child stuck in a fold). Elsewhere the child ends at its next read of the closed pipe."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_LOCAL = threading.local()


def shared_runner() -> IsolatedRunner:
    """This thread's runner (one child process per thread: runs served side by side by one process,
    as the LangGraph server does, evaluate in parallel), closed at exit."""
    runner = getattr(_LOCAL, "runner", None)
    if runner is None:
        runner = _LOCAL.runner = IsolatedRunner()
        atexit.register(runner.close)
    return runner


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
