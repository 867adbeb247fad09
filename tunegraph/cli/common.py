"""What several commands share: the data inputs of a graph, durations, and the warning filter."""

from __future__ import annotations

import argparse
import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunegraph.errors import InputError


def data_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The data part of a graph's input from the command line; unset values left out."""
    if args.data and not args.target:
        raise InputError("--data needs --target COLUMN: the column to predict")
    inputs = {"dataset": args.dataset, "data_path": str(Path(args.data).resolve()) if args.data else None,
              "target": args.target, "task_type": args.task_type}
    return {k: v for k, v in inputs.items() if v}


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def each_warning_once() -> Iterator[None]:
    """Show each warning once in a run: one about the data (a rare class) comes from every trial.

    Python's own "once" does not hold here: each fold's ``catch_warnings`` changes the filters,
    which clears the record of what was shown, so the warning came back with every trial.
    """
    shown: set[tuple[type, str]] = set()
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if (category, str(message)) not in shown:
            shown.add((category, str(message)))
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original
