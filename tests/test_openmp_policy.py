"""TuneGraph makes OpenMP threads sleep while they wait (benchmarks/llm_contention.py says why)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import os, tools; print(os.environ['OMP_WAIT_POLICY'])"


def _policy(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def test_passive_by_default_and_the_users_choice_kept():
    assert _policy() == "PASSIVE"
    assert _policy(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
