"""The machine a timing ran on, its load, quiet worker processes and the progress log."""

from __future__ import annotations

import contextlib
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any


def cpu_model(default: str = "") -> str:
    """The CPU's model name from /proc/cpuinfo (``default`` where there is none)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return default


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in ("optuna", "langgraph", "langgraph-checkpoint-sqlite", "xgboost", "scikit-learn", "llama-cpp-python"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[name] = version(name)
    return {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "cpu_model": cpu_model() or platform.processor() or "unknown", "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions}


def machine_line(m: dict[str, Any]) -> str:
    return (f"{m['cpu_count']} CPUs ({m['cpu_model']}, {m['processor']}), Python {m['python']}, {m['platform']}; "
            + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()))


def load_avg() -> list[float] | None:
    """The load average (1, 5, 15 minutes), rounded; None where the system has none."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def quiet() -> None:
    """A worker process's settings: no warnings, Optuna's log at WARNING, torch on one thread."""
    import optuna

    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with contextlib.suppress(Exception):
        import torch

        torch.set_num_threads(1)


def log(message: str) -> None:
    """A progress line on stdout, with the time of day."""
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)
