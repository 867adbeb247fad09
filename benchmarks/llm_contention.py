"""The embedded model on a busy machine: how its OpenMP threads should wait, and how many to use.

Times embedded-model calls in fresh processes on the idle machine, then with one busy-looping
process per core alongside (as another job or the user's other work would be), under several
OpenMP environments, with every core as threads and with one. Writes
benchmarks/results/llm_contention.md. TuneGraph's default (tools.llm.llama_threads) is OpenMP's
own wait policy and as many threads as the load average leaves cores idle.

    python benchmarks/llm_contention.py [--calls 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
CALLS = """
import json, sys, time
from tunegraph.tools.llm.client import llama_threads, make_llm
llm = make_llm("embedded")
prompt = "Propose a configuration for xgboost on a small tabular data set. " * 20
times = []
for i in range(int(sys.argv[1])):
    start = time.perf_counter()
    llm.complete_json("You answer in JSON.", prompt + str(i), None, max_tokens=64)
    times.append(time.perf_counter() - start)
print(json.dumps({"threads": llama_threads(), "times": times}))
"""


def _spin() -> None:
    while True:
        pass


# OpenMP environments compared: unset (libgomp spins a while, then sleeps), ACTIVE (spins on),
# PASSIVE (sleeps at once), a short spin before sleeping; threads: every core, or one
ALL = {"TUNEGRAPH_LLM_THREADS": str(os.cpu_count() or 1)}
POLICIES = {"unset": ALL, "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE", **ALL}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE", **ALL},
            "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000", **ALL}, "unset, 1 thread": {"TUNEGRAPH_LLM_THREADS": "1"},
            "TuneGraph default (threads from the load average)": {}}  # last: by then the load shows the hogs


def timed_calls(policy: str, calls: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "TUNEGRAPH_LLM_THREADS")}
    env.update(POLICIES[policy])
    out = subprocess.run([sys.executable, "-c", CALLS, str(calls)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=3600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for busy in (False, True):
        hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)] if busy else []
        for hog in hogs:
            hog.start()
        try:
            time.sleep(1.0 if busy else 0.0)
            for policy in POLICIES:
                result = timed_calls(policy, args.calls)
                rows.append((busy, policy, result["threads"], result["times"], os.getloadavg()[0]))
                print(rows[-1], flush=True)
        finally:
            for hog in hogs:
                hog.kill()
    lines = ["# The embedded model on a busy machine (`benchmarks/llm_contention.py`)", "",
             f"Machine: {os.cpu_count()} CPUs. SmolLM2-135M (embedded), "
             f"{args.calls} calls per row in a fresh process (327 prompt tokens, at most 64 generated); busy: one "
             "busy-looping process per core alongside.", "",
             "| machine | OpenMP environment | threads | load average after | first call s | later calls s (median) |",
             "|---|---|---|---|---|---|"]
    for busy, policy, threads, times, load in rows:
        lines.append(f"| {'busy' if busy else 'idle'} | {policy} | {threads} | {load:.1f} | {times[0]:.2f} | "
                     f"{statistics.median(times[1:]) if len(times) > 1 else float('nan'):.2f} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "llm_contention.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
