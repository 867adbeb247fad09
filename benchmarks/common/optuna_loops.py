"""The plain Optuna methods: nothing of TuneGraph but the objective (the same cross-validation,
``tools.trials.evaluation.cross_validate_config``) and, across families, its search space.

* ``run_plain``: ``compare.py``'s ``optuna_*`` methods, an ask/tell loop in memory.
* ``tpe_study``: a TPE study as Optuna ships it on one family (the zero-shot suites' baseline).
* ``make_instant``: an objective that costs microseconds, so what remains is the framework's own
  overhead (``overhead.py``, ``storage_throughput.py``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

from benchmarks.common.data import indexed_task
from benchmarks.common.methods import PLAIN_METHODS, RANDOM_SEED_OFFSET


def suggest(trial, name: str, dist):
    """Suggest parameter ``name`` of ``trial`` from an Optuna distribution (define-by-run)."""
    import optuna

    if isinstance(dist, optuna.distributions.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    return trial.suggest_categorical(name, dist.choices)


def family_objective(task, family, metric: str, folds: int, seed: int = 0) -> Callable[[Any], float]:
    """An Optuna objective over ``family``'s default search space: the CV score of ``folds`` folds
    seeded by ``seed``, NaN (a failed trial for Optuna) where the fit fails."""
    from tunegraph.tools.trials.evaluation import cross_validate_config

    distributions = family.search_space(task.task_type).to_optuna()

    def objective(trial) -> float:
        params = {name: suggest(trial, name, dist) for name, dist in distributions.items()}
        result = cross_validate_config(task, family.name, params, metric, folds=folds, seed=seed)
        return result.mean if result.ok else float("nan")

    return objective


def tpe_study(task, family: str, metric, folds: int, n_trials: int, seed: int = 0):
    """An Optuna TPE study as it ships (``TPESampler(seed=seed)``) of ``n_trials`` on one family, its
    folds seeded 0 whatever the sampler's seed."""
    import optuna

    from tunegraph.tools.ml.models import get_family

    study = optuna.create_study(direction=metric.direction, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(family_objective(task, get_family(family, task.task_type), metric.name, folds), n_trials=n_trials)
    return study


def run_plain(datasets: str, name: str, entry: dict[str, Any], method: str, seed: int,
              setting: dict[str, Any]) -> dict[str, Any]:
    """Plain Optuna: ask, cross-validate, tell; nothing of TuneGraph but the objective (and, across
    families, its search space, sampled define-by-run)."""
    import optuna

    from tunegraph.tools.ml.cash import AUTO, cash_space
    from tunegraph.tools.ml.models import get_family
    from tunegraph.tools.trials.evaluation import cross_validate_config

    kind, across = PLAIN_METHODS[method]
    start = time.perf_counter()
    task, metric = indexed_task(datasets, name, entry, setting["max_rows"])
    if across:
        family_name, space, distributions = AUTO, cash_space(task.task_type), None
    else:
        family = get_family(setting["family"], task.task_type)
        family_name, space, distributions = family.name, None, family.search_space(task.task_type).to_optuna()
    sampler = (optuna.samplers.TPESampler(seed=seed) if kind == "tpe"
               else optuna.samplers.RandomSampler(seed=RANDOM_SEED_OFFSET + seed))
    study = optuna.create_study(direction=metric.direction, sampler=sampler)
    setup_s = time.perf_counter() - start
    values, cv_wall, t_end, families = [], [], [], []
    for _ in range(setting["trials"]):
        if across:
            trial = study.ask()
            params = space.suggest(trial)
        else:
            trial = study.ask(distributions)
            params = trial.params
        result = cross_validate_config(task, family_name, params, metric.name, folds=setting["folds"], seed=seed)
        if result.ok:
            study.tell(trial, result.mean)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        values.append(result.mean if result.ok else None)
        cv_wall.append(result.wall_time)
        t_end.append(time.perf_counter() - start)
        families.append(params.get("family", family_name) if across else family_name)
    wall = time.perf_counter() - start
    return {"values": values, "sources": [kind] * len(values), "cv_wall_s": cv_wall, "t_end_s": t_end,
            "wall_s": wall, "setup_s": setup_s, "objective_s": float(sum(cv_wall)), "llm_calls": 0,
            "llm_latency_s": 0.0, "families": families}


def make_instant(distributions: dict[str, Any], direction: str):
    """A stand-in for ``cross_validate_config`` that costs microseconds: a quadratic of the
    parameters normalized to [0, 1] (log scale where the space is logarithmic). Its exact wall
    times are kept in its ``times`` list (the Evaluator rounds ``cv_wall_s`` to 0.1 ms)."""
    import optuna

    from tunegraph.tools.trials.evaluation import EvalResult

    def unit(dist, value) -> float:
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            return dist.to_internal_repr(value) / max(1, len(dist.choices) - 1)
        low, high, value = float(dist.low), float(dist.high), float(value)
        if dist.log:
            low, high, value = math.log(low), math.log(high), math.log(value)
        return 0.0 if high == low else (value - low) / (high - low)

    def instant(task, family, config, metric=None, folds=5, seed=0, time_limit=None, isolate=False,
                on_fold=None, **_unused) -> EvalResult:  # on_fold, keep_oof...: the Evaluator's options, unused here
        start = time.perf_counter()
        loss = sum((unit(d, config[k]) - 0.3) ** 2 for k, d in distributions.items()) / max(1, len(distributions))
        value = 1.0 - loss if direction == "maximize" else loss
        wall = time.perf_counter() - start
        instant.times.append(wall)
        return EvalResult("ok", value, 0.0, [value], 0.0, wall)

    instant.times = []
    return instant


def dispose(study) -> None:
    """Close the study's SQL connections (SQLite files in a temp dir about to go; best effort)."""
    storage = study._storage
    for obj in (storage, getattr(storage, "_backend", None)):
        engine = getattr(obj, "engine", None)
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.dispose()
