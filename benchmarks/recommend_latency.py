"""Latency of `recommend --llm none`: the first call after an install, and warm calls.

* first call: a new process with an empty ``$TUNEGRAPH_HOME`` (no cache), as right after
  ``pip install``: the whole command's wall time, and the graph's own response time;
* warm: one process, the graph invoked ``--repeats`` times after a first call; the median.

Writes benchmarks/results/recommend_latency.md.

    python benchmarks/recommend_latency.py [--dataset wine] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"


def first_call(dataset: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TUNEGRAPH_HOME": home}
        out = Path(home) / "out.json"
        start = time.perf_counter()
        subprocess.run(["tunegraph", "recommend", "--dataset", dataset, "--llm", "none", "--out", str(out)],
                       env=env, check=True, capture_output=True, cwd=home)
        wall = time.perf_counter() - start
        response = json.loads(out.read_text())["response_time_s"]
    return {"wall_s": wall, "response_s": response}


def warm_calls(dataset: str, repeats: int) -> list[float]:
    from tunegraph.context import Context
    from tunegraph.graphs.recommend import graph

    graph.invoke({"dataset": dataset}, context=Context(llm="none"))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        graph.invoke({"dataset": dataset}, context=Context(llm="none"))
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="wine")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--first-calls", type=int, default=3)
    args = parser.parse_args()
    firsts = [first_call(args.dataset) for _ in range(args.first_calls)]
    warm = warm_calls(args.dataset, args.repeats)
    load = os.getloadavg()[0]
    lines = ["# `recommend --llm none` latency (`benchmarks/recommend_latency.py`)", "",
             f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
             f"{platform.python_version()}; data set `{args.dataset}`; 1-minute load average {load:.1f} at the end.", "",
             f"- first call after install (new process, empty cache), {len(firsts)} runs: response (data loaded, graph run) "
             + ", ".join(f"{f['response_s']:.2f}" for f in firsts) + " s; whole command "
             + ", ".join(f"{f['wall_s']:.1f}" for f in firsts) + " s (Python start and imports included)",
             f"- warm (same process), {len(warm)} calls: median {statistics.median(warm):.2f} s, "
             f"min {min(warm):.2f} s, max {max(warm):.2f} s"]
    text = "\n".join(lines) + "\n"
    (RESULTS / "recommend_latency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
