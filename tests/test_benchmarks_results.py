"""The benchmarks' raw results (benchmarks/common/results.py): a working file appended to, compressed
into NAME.jsonl.gz once finished, both read as one; the committed results are the compressed ones."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from benchmarks.common import results
from benchmarks.common.paths import RESULTS


def test_rows_appended_then_archived_read_the_same(tmp_path: Path):
    path = tmp_path / "bench.jsonl"
    assert results.read_rows(path) == [] and results.archive(path) is None
    results.append_row(path, {"a": 1})
    results.append_rows(path, [{"a": 2}, {"a": 3}])
    assert results.read_rows(path) == [{"a": 1}, {"a": 2}, {"a": 3}]
    archive = results.archive(path)
    assert archive == tmp_path / "bench.jsonl.gz" and not path.exists()
    assert results.read_rows(path) == results.read_rows(archive) == [{"a": 1}, {"a": 2}, {"a": 3}]
    results.append_row(path, {"a": 4})  # a finished benchmark extended: a new working file beside the archive
    assert [r["a"] for r in results.read_rows(path)] == [1, 2, 3, 4]
    results.archive(path)
    assert [r["a"] for r in results.read_rows(path)] == [1, 2, 3, 4] and not path.exists()


def test_an_old_plain_file_is_read_and_a_line_cut_off_by_a_kill_skipped(tmp_path: Path):
    path = tmp_path / "old.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ')
    assert results.read_rows(path) == [{"a": 1}, {"a": 2}]
    results.archive(path)
    assert gzip.decompress((tmp_path / "old.jsonl.gz").read_bytes()) == b'{"a": 1}\n{"a": 2}\n'


def test_the_archive_is_reproducible_and_a_half_done_archive_reads_once(tmp_path: Path):
    rows = [{"x": i / 3} for i in range(50)]
    first = results.write_rows(tmp_path / "a.jsonl", rows).read_bytes()
    assert results.write_rows(tmp_path / "b.jsonl.gz", rows).read_bytes() == first  # no time, no name inside
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[-2:]))  # killed before the unlink
    assert results.read_rows(tmp_path / "a.jsonl") == rows


def test_the_committed_raw_results_are_compressed():
    assert "results/*.jsonl" in (RESULTS.parent / ".gitignore").read_text().splitlines()  # working files stay out
    archives = sorted(RESULTS.glob("*.jsonl.gz"))
    assert archives, f"no compressed results in {RESULTS}"
    for archive in archives:
        assert results.read_rows(archive), archive
