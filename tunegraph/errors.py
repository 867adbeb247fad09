"""One error family for TuneGraph: what went wrong, and so the exit code a command returns.

    TuneGraphError
    ├── InputError    bad data, a bad option or setting, an unknown name: the user fixes it (exit 2)
    └── ServiceError  storage, the LLM, a server or a child process failed: the environment (exit 1)

Every product exception derives from one of the two. The command line maps them in one place
(``tunegraph.cli.main``) to one plain line and an exit code, so an internal bug (a bare
``ValueError`` or ``KeyError``) is never shown as the user's mistake. ``InputError`` is also a
``ValueError`` and ``ServiceError`` a ``RuntimeError``, so code written against the built-in
classes (scikit-learn's convention) keeps working.

Example:
    >>> from tunegraph.errors import InputError, exit_code
    >>> exit_code(InputError("--trials must be at least 1, got 0"))
    2
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # an environment error, or a run that ended without one successful trial
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class TuneGraphError(Exception):
    """Base of every error TuneGraph raises on purpose."""

    exit_code = EXIT_FAILED


class InputError(TuneGraphError, ValueError):
    """The input is wrong: a data file, a column, an option, a setting, a name."""

    exit_code = EXIT_BAD_INPUT


class ServiceError(TuneGraphError, RuntimeError):
    """Something TuneGraph depends on failed: the study storage, the LLM, a server, a child process."""

    exit_code = EXIT_FAILED


def exit_code(error: BaseException) -> int:
    """The command line's exit code for an error (1 for anything outside the family)."""
    return getattr(error, "exit_code", EXIT_FAILED) if isinstance(error, TuneGraphError) else EXIT_FAILED
