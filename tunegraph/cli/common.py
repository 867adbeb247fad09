"""What several commands share: the data inputs of a graph, durations, and the warning filter."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunegraph.errors import InputError


def data_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The data part of a graph's input from the command line; unset values left out."""
    if args.data and not args.target:
        raise InputError("--data needs --target COLUMN: the column to predict")
    encoding = getattr(args, "encoding", None)
    if encoding and not args.data:
        raise InputError("--encoding is for a --data file")
    if args.data:
        encoding = file_encoding(args.data, encoding)
    inputs = {"dataset": args.dataset, "data_path": str(Path(args.data).resolve()) if args.data else None,
              "target": args.target, "encoding": encoding, "task_type": args.task_type}
    return {k: v for k, v in inputs.items() if v}


def file_encoding(data: str, encoding: str | None) -> str | None:
    """The encoding a --data file is read with, checked before a run starts: the one given, else
    None for UTF-8 or Parquet, else the one detected, said on stderr in one line. A binary file or an
    unknown encoding is an InputError here (TaskError), before any study or checkpoint exists.
    A missing file is left to the loader, which says so in its own words."""
    from tunegraph.tools.ml.tasks import text_encoding

    path = Path(data).expanduser()
    if not path.is_file():
        return encoding
    found, note = text_encoding(path, encoding)
    if note:
        print(f"tunegraph: note: {note}; --encoding NAME reads it otherwise", file=sys.stderr)
        return found
    return encoding if found else None  # Parquet: no encoding


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
        if (category, str(message)) not in shown:  # one plain line, without Python's source path and code line
            shown.add((category, str(message)))
            print(f"tunegraph: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


def load_named_study(name: str, storage: str | None):
    """The study ``name`` for a command that reads one (plot, metadata add): a miss says where it looked
    and how to look elsewhere, and leaves no empty .tunegraph/ folder behind."""
    import optuna

    from tunegraph.tools.trials.distributed import is_rdb, mask_url, open_storage
    from tunegraph.tools.trials.runs import DATA_DIR
    from tunegraph.tools.trials.storage import open_spec

    elsewhere = ("studies live in .tunegraph/ of the folder a run was started from: run this there, or give "
                 "--storage URL (or set TUNEGRAPH_STORAGE)")
    if not storage:
        if not (DATA_DIR / "studies.db").exists():
            raise InputError(f"no study named '{name}': there are no studies in {DATA_DIR.resolve()}; {elsewhere}")
        storage = f"sqlite:///{DATA_DIR / 'studies.db'}"
    opened = open_storage(storage) if is_rdb(storage) else open_spec(storage)  # a URL, or a journal file
    try:
        return optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        names = optuna.get_all_study_names(opened)
        raise InputError(f"no study named '{name}' in {mask_url(storage)}; its studies are: "
                         f"{', '.join(names[:20]) or 'none'}; {elsewhere}") from None
