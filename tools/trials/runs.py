"""What an optimization run works with besides its state: the task, the study, the sampler, the LLM.

These objects are not serializable, so they stay out of the graph state; the graph's nodes
open them by the study name (and storage), and they are cached for the life of the process.

Example:
    >>> run = open_run({"dataset": "iris", "model": "knn", "study_name": "demo"},
    ...                storage="sqlite:///:memory:", llm="none")                 # doctest: +SKIP
    >>> run.study.direction                                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from tunegraph.context import PRUNERS
from tunegraph.tools.llm.client import LLMClient, make_llm
from tunegraph.tools.ml.models import ModelFamily, get_family
from tunegraph.tools.ml.search_space import SearchSpace
from tunegraph.tools.ml.tasks import Task, TaskError, load_task
from tunegraph.tools.trials.distributed import is_rdb, open_storage, study_lock
from tunegraph.tools.trials.evaluation import Metric, get_metric
from tunegraph.tools.trials.sampler import LLMTPESampler
from tunegraph.tools.trials.storage import StoredStudy, bind, open_spec

DATA_DIR = Path(".tunegraph")
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def default_storage() -> str:
    """``sqlite:///.tunegraph/studies.db`` in the working directory (created on first use).

    A journal file (``--storage .tunegraph/studies.journal``, or ``TUNEGRAPH_STORAGE``) is the
    faster choice on one machine (tools.trials.storage)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA_DIR / 'studies.db'}"


def default_checkpoints() -> Path:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return DATA_DIR / "checkpoints.db"


@contextlib.contextmanager
def open_checkpoints(path: str | Path) -> Iterator[Any]:
    """A LangGraph SQLite checkpointer on ``path`` that waits up to 60 s for the file's write lock
    (``SqliteSaver.from_conn_string`` gives up after SQLite's 5 s, too soon for busy workers sharing it)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
    conn.execute("PRAGMA synchronous=NORMAL")  # SqliteSaver sets WAL; see tools.trials.distributed.write_ahead_log
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


def check_study_name(name: str, what: str = "study name") -> str:
    """``name`` if it can name a study (or a worker, or a chat thread: ``what``), else a TaskError."""
    if not isinstance(name, str) or not STUDY_NAME.match(name):
        raise TaskError(f"invalid {what} {name!r}: use letters, digits, '_', '-' or '.', up to 128 characters")
    return name


def default_study_name(inputs: Mapping[str, Any]) -> str:
    """``<data>-<model>-<UTC timestamp>-<random>``: a new study per run unless the user names one.

    The random tail matters: two runs started within the same second (a script's loop over
    ``tunegraph.optimize``, two CLI runs from one shell script) must not resume each other's study."""
    import secrets
    import time

    data = inputs.get("dataset") or Path(str(inputs.get("data_path") or "data")).stem
    data = re.sub(r"[^A-Za-z0-9_.\-]", "_", data)[:60] or "data"
    started = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{data}-{inputs.get('model') or 'auto'}-{started}-{secrets.token_hex(3)}"


@dataclass
class OptimizeRun:
    task: Task
    family: ModelFamily
    metric: Metric
    bounds: SearchSpace  # the family's default space: the hard limits for any adapted space
    study: optuna.Study
    sampler: LLMTPESampler
    llm: LLMClient | None
    stored: StoredStudy  # the study's storage object, its id there, its trial ids (tools.trials.storage)


_RUNS: dict[tuple, OptimizeRun] = {}
_LLMS: dict[str, LLMClient | None] = {}
_LOCK = threading.Lock()


def get_llm(spec: str) -> LLMClient | None:
    """One client per spec and process (loading a model is slow)."""
    with _LOCK:
        if spec not in _LLMS:
            _LLMS[spec] = make_llm(spec)
        return _LLMS[spec]


def register_llm(spec: str, client: LLMClient | None) -> None:
    """Make ``spec`` name an already-built client (a test double for failure injection, a shared model)."""
    with _LOCK:
        _LLMS[spec] = client


def run_for(inputs: Mapping[str, Any], context: Any) -> OptimizeRun:
    """The run of ``inputs`` with every setting read from a run context (``runtime.context``).

    Every node opens its run this way: a run resumed from its checkpoint in a new process gets
    the context's settings whichever node opens it first, not the defaults.
    """
    return open_run(inputs, storage=context.storage, llm=context.llm, sampler=context.sampler,
                    p_llm=context.p_llm, seed=context.seed, n_startup_trials=context.n_startup_trials,
                    pruner=context.pruner, adaptive_share=context.adaptive_share)


def open_run(inputs: Mapping[str, Any], *, storage: str = "", llm: str = "none", sampler: str = "llm_tpe",
             p_llm: float = 0.5, seed: int = 0, n_startup_trials: int = 10, pruner: str = "none",
             adaptive_share: bool = True) -> OptimizeRun:
    """Load the task, check family and metric, and create or load the study named in ``inputs``."""
    name = check_study_name(inputs.get("study_name") or "")
    storage = storage or default_storage()
    # other settings: another run
    key = (name, storage, llm, sampler, p_llm, seed, n_startup_trials, pruner, adaptive_share)
    with _LOCK:
        if key in _RUNS:
            return _RUNS[key]
    task = load_task(dataset=inputs.get("dataset") or None, data=inputs.get("data_path") or None,
                     target=inputs.get("target") or None, task_type=inputs.get("task_type") or None,
                     encoding=inputs.get("encoding") or None)
    family = get_family(inputs.get("model") or "auto", task.task_type)
    metric = get_metric(inputs.get("metric") or None, task)
    the_sampler = LLMTPESampler(mode=sampler, p_llm=p_llm, seed=seed, n_startup_trials=n_startup_trials,
                                adaptive=adaptive_share)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # RDB URLs get heartbeats, so workers sharing the study find a dead peer's trial (tools.trials.distributed)
    opened = open_storage(storage) if is_rdb(storage) else open_spec(storage)
    study = optuna.create_study(study_name=name, storage=opened, direction=metric.direction, sampler=the_sampler,
                                pruner=make_pruner(pruner), load_if_exists=True)
    stored = bind(study, opened)
    with study_lock(study):  # workers starting together on a new study would insert the same tags
        _check_or_tag(study, task, family, metric)
    if study.trials:  # resuming: a fresh seed, or the random start-up trials would repeat
        the_sampler.seed(seed + len(study.trials))
    if "tpe_startup" in study.user_attrs:  # started from a portfolio: TPE models from its end on
        the_sampler.start_model_after(int(study.user_attrs["tpe_startup"]))
    run = OptimizeRun(task, family, metric, family.search_space(task.task_type), study, the_sampler, get_llm(llm),
                      stored)
    with _LOCK:
        _RUNS[key] = run
    return run




def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """Fold-level pruning: ``median`` stops a trial whose running CV mean after a fold is below the
    median of earlier trials at that fold (after 5 trials, from the second fold); ``sha`` is Optuna's
    successive halving over folds; ``none`` evaluates every fold."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise TaskError(f"unknown pruner '{name}'; choose one of: {', '.join(PRUNERS)}")


def forget_runs() -> None:
    """Drop cached runs (tests; a long-lived server after a study was deleted)."""
    with _LOCK:
        _RUNS.clear()


def _check_or_tag(study: optuna.Study, task: Task, family: ModelFamily, metric: Metric) -> None:
    tags = {"task": task.name, "task_type": task.task_type, "target": task.target, "model": family.name,
            "metric": metric.name}
    existing = study.user_attrs
    clashes = [f"{k}={existing[k]!r} (asked: {v!r})" for k, v in tags.items() if k in existing and existing[k] != v]
    if clashes:
        raise TaskError(f"study '{study.study_name}' was made for another task: {', '.join(clashes)}; "
                        "choose another --study name")
    for key, value in tags.items():
        if key not in existing:
            study.set_user_attr(key, value)
    if "meta_features" not in existing:  # lets 'tunegraph metadata add' learn from the study
        study.set_user_attr("meta_features", task.meta_features())
