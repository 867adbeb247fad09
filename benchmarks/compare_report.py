"""The report of ``benchmarks/compare.py`` from its JSON lines, rebuilt without running anything: the
same as ``compare.py --report-only`` and its options (the report itself: ``benchmarks/common/report.py``,
its definitions in that module's docstring).

    python benchmarks/compare_report.py [--results benchmarks/results/compare.jsonl]
    python benchmarks/compare_report.py --suite portfolio
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

from benchmarks import compare  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return compare.main(["--report-only", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
