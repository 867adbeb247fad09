"""Raw results: JSON lines, one row a line, compressed once a benchmark is finished.

A benchmark's results are named by one path, ``results/NAME.jsonl``, and live in up to two files:

* ``NAME.jsonl.gz``, the archive: the rows of finished runs, gzip-compressed. It is what is
  committed, and it is written when a benchmark finishes (``archive``) or a script writes all of its
  rows at once (``write_rows``), not each time a row is added.
* ``NAME.jsonl``, the working file: what a resumable run appends to, one row at a time
  (``append_row``), so a kill loses at most the line being written. It is not committed
  (benchmarks/.gitignore); ``archive`` folds it into the archive and removes it.

``read_rows`` reads both, the archive first, so a run resumed after a stop sees every finished row;
a plain ``.jsonl`` of before this layout is just a working file. Either path may be given (with or
without ``.gz``). The archive is written deterministically (no timestamp, no file name in the gzip
header): the same rows give the same bytes, so re-archiving unchanged results changes nothing in git.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

GZ = ".gz"


def working_path(path: str | Path) -> Path:
    """The uncompressed working file of the results named ``path`` (``NAME.jsonl``)."""
    path = Path(path)
    return path.with_name(path.name[:-len(GZ)]) if path.name.endswith(GZ) else path


def archive_path(path: str | Path) -> Path:
    """The compressed archive of the results named ``path`` (``NAME.jsonl.gz``)."""
    path = working_path(path)
    return path.with_name(path.name + GZ)


def _complete_lines(text: str) -> list[str]:
    """The lines that are whole JSON values (a line cut off by a kill is skipped)."""
    lines = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        with contextlib.suppress(ValueError):
            json.loads(line)
            lines.append(line)
    return lines


def read_lines(path: str | Path) -> list[str]:
    """The complete JSON lines of the archive, then those of the working file not in the archive
    already (``archive`` killed between writing the archive and removing the working file)."""
    lines: list[str] = []
    archive, working = archive_path(path), working_path(path)
    if archive.is_file():
        lines += _complete_lines(gzip.decompress(archive.read_bytes()).decode())
    if working.is_file():
        archived = set(lines)
        lines += [line for line in _complete_lines(working.read_text()) if line not in archived]
    return lines


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Every row of the results named ``path``: the archive's, then the working file's."""
    return [json.loads(line) for line in read_lines(path)]


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, default=float)  # default: numpy scalars


def append_row(path: str | Path, row: dict[str, Any]) -> None:
    """Append one row to the working file, flushed to disk (a resumable run's progress)."""
    append_rows(path, [row])


def append_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    working = working_path(path)
    working.parent.mkdir(parents=True, exist_ok=True)
    with working.open("a") as fh:
        fh.write("".join(dumps(row) + "\n" for row in rows))
        fh.flush()
        os.fsync(fh.fileno())


def _write_archive(path: str | Path, text: str) -> Path:
    """Write ``text`` compressed, atomically (a temp file, then a rename) and reproducibly."""
    archive = archive_path(path)
    archive.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode())
    tmp = archive.with_name(archive.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, archive)
    return archive


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Replace the results named ``path`` by ``rows`` (a script that writes them all at once):
    the archive is rewritten, the working file removed. Returns the archive's path."""
    archive = _write_archive(path, "".join(dumps(row) + "\n" for row in rows))
    working_path(path).unlink(missing_ok=True)
    return archive


def archive(path: str | Path) -> Path | None:
    """A finished benchmark: fold the working file's rows into the archive (the lines as they were
    written, the archive's first) and remove it. Nothing to do without a working file; returns the
    archive's path, or None where there are no results at all."""
    working = working_path(path)
    if not working.is_file():
        return archive_path(path) if archive_path(path).is_file() else None
    lines = read_lines(path)
    target = _write_archive(path, "".join(line + "\n" for line in lines))
    working.unlink()
    return target
