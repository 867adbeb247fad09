"""Where the fault-injection tests write what they injected and what survived (for benchmarks/faults.py).

A test calls ``record(area, kind, injected, survived)``; when $TUNEGRAPH_FAULT_LOG names a file,
one JSON line is appended to it, else nothing happens.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def record(area: str, kind: str, injected: int, survived: int, note: str = "") -> None:
    path = os.environ.get("TUNEGRAPH_FAULT_LOG")
    if not path:
        return
    line = {"area": area, "kind": kind, "injected": int(injected), "survived": int(survived), "note": note}
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
