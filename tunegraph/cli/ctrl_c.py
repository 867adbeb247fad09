"""Ctrl-C for a long run: the first press stops after the current step, a second stops at once.

Why not Python's default KeyboardInterrupt: it is raised wherever the main thread happens to be.
Inside a C library's callback into Python (XGBoost's data iterator is a ctypes callback) ctypes
prints the traceback, swallows the exception and the library goes on with a half-set input, so
the press is lost and the trial's score may be wrong. Stopping between graph steps loses nothing.

    with CtrlC(on_first_press=lambda: print("stopping after this step")) as ctrl_c:
        for update in graph.stream(...):
            ctrl_c.check()
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

# what signal.signal returns: a Python handler, SIG_DFL/SIG_IGN, or None (one installed from C)
_Handler = Callable[[int, FrameType | None], Any] | int | None


class CtrlC:
    """Context manager that takes over SIGINT in the main thread.

    Args:
        on_first_press: called (in the signal handler) on the first Ctrl-C, to say what happens.

    ``check()`` raises KeyboardInterrupt once Ctrl-C was pressed. A second press raises it at once.
    Off the main thread (where Python delivers no signals), or where SIGINT is ignored (a script's
    background job), the guard changes nothing.
    """

    def __init__(self, on_first_press: Callable[[], None] | None = None) -> None:
        self.pressed = 0
        self._on_first_press = on_first_press
        self._previous: _Handler = None
        self._previous_hook: Callable[[sys.UnraisableHookArgs], Any] | None = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            if self._previous_hook is not None:  # set with _previous in __enter__
                sys.unraisablehook = self._previous_hook
            self._previous = self._previous_hook = None

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt

    def _on_sigint(self, signum, frame) -> None:
        self.pressed += 1
        if self.pressed > 1:
            raise KeyboardInterrupt
        if self._on_first_press is not None:
            self._on_first_press()

    def _unraisable(self, report) -> None:
        # a second press swallowed by a C callback: already counted, check() stops the run; no traceback
        if isinstance(report.exc_value, KeyboardInterrupt) and self.pressed:
            return
        (self._previous_hook or sys.__unraisablehook__)(report)
