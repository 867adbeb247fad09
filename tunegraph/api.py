"""Thin functions over the graphs for scripts and notebooks: plain arguments in, plain dicts out.

Example:
    >>> from tunegraph import recommend, optimize
    >>> advice = recommend(dataset="wine")                                  # doctest: +SKIP
    >>> advice["family"], advice["params"]                                  # doctest: +SKIP
    >>> result = optimize(dataset="wine", model=advice["family"], trials=15, warm_start=3)   # doctest: +SKIP
    >>> result["best_value"], result["best_params"]                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from tunegraph.context import Context
from tunegraph.errors import InputError

DataArg = str | Path | pd.DataFrame | None


@contextlib.contextmanager
def data_inputs(dataset: str | None, data: DataArg, target: str | None,
                task_type: str | None, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """The graphs' data inputs; a DataFrame is written to a temporary Parquet file for the run.
    ``encoding``: a CSV file's text encoding (default: UTF-8, else detected), for a file only."""
    if encoding is not None and not isinstance(data, (str, Path)):
        raise InputError("encoding= is for a CSV file given as data=")
    if (dataset is None) == (data is None):
        raise InputError("give exactly one of dataset= (a built-in data set) and data= (a file or a DataFrame)")
    if data is not None and not target:
        raise InputError("data= needs target=: the column to predict")
    inputs: dict[str, Any] = {"dataset": dataset} if dataset else {"target": target}
    if task_type:
        inputs["task_type"] = task_type
    if isinstance(data, pd.DataFrame):
        with tempfile.TemporaryDirectory(prefix="tunegraph-") as tmp:
            path = Path(tmp) / "data.parquet"
            data.to_parquet(path, index=False)
            yield {**inputs, "data_path": str(path)}
        return
    if data is not None:
        inputs["data_path"] = str(Path(data).resolve())
    if encoding:
        inputs["encoding"] = encoding
    yield inputs


def recommend(dataset: str | None = None, *, data: DataArg = None, target: str | None = None,
              task_type: str | None = None, encoding: str | None = None, metric: str | None = None,
              families: list[str] | None = None,
              time_budget: float = 0.0, evaluate: bool = False, llm: str = "none", **settings: Any) -> dict[str, Any]:
    """Zero-shot recommendation (the recommend graph): a family and hyperparameters, with the evidence.

    Args:
        dataset: a built-in data set (breast_cancer, wine, iris, digits, diabetes), or
        data: a CSV / Parquet path or a DataFrame, with ``target`` its column to predict.
        encoding: a CSV file's text encoding, e.g. ``cp1252`` (default: UTF-8, else detected).
        metric, families, time_budget: as for ``tunegraph recommend``.
        evaluate: also cross-validate the answer (``evaluation`` in the result).
        llm: ``none`` (default: deterministic, no model), ``embedded``, ``ollama:<model>`` or ``auto``.
        settings: other :class:`~tunegraph.context.Context` fields (seed, n_candidates, ...).

    Returns a dict: family, params, expected_score, expected_fit_time_s, justification, source,
    judgement, evaluation (or None) and evidence.
    """
    from tunegraph.graphs.recommend import graph

    extra = {"metric": metric, "families": families, "time_budget_s": time_budget, "evaluate": evaluate}
    with data_inputs(dataset, data, target, task_type, encoding) as inputs, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = graph.invoke({**inputs, **{k: v for k, v in extra.items() if v}},
                             context=Context(llm=llm, **settings))
    final = dict(state["final"])
    return {**{k: final.get(k) for k in ("family", "params", "expected_score", "expected_fit_time_s",
                                         "justification", "source", "judgement")},
            "evaluation": state.get("evaluation"), "evidence": state["evidence"]}


def optimize(dataset: str | None = None, *, data: DataArg = None, target: str | None = None,
             task_type: str | None = None, encoding: str | None = None, model: str = "auto",
             metric: str | None = None, trials: int = 20,
             llm: str = "none", sampler: str = "tpe", study_name: str | None = None, storage: str = "",
             learn: bool = False, on_trial=None, **settings: Any) -> dict[str, Any]:
    """Sequential optimization (the optimize graph); returns the result as a dict.

    Args:
        dataset / data / target / task_type / encoding: as for :func:`recommend`.
        model: ``auto`` (default: the family searched with its hyperparameters, parameters named
            ``<family>.<name>``) or one model family (``xgboost``, ``lightgbm``, ``random_forest``, ...).
        trials: the study's trial budget. sampler: ``tpe`` (default), ``llm_tpe``, ``llm`` or ``random``.
        llm: as for :func:`recommend`; ``none`` runs no model.
        study_name, storage: the Optuna study (default: a new name in ``sqlite:///.tunegraph/studies.db``).
        learn: add the finished trials to your meta-dataset layer (off by default in scripts).
        on_trial: called with each trial's result dict (number from 1, value, source, best) as it finishes.
        settings: other Context fields (warm_start, seed, folds, patience, time_budget, ``space_box=False``
            for the full search space after the portfolio, ...).

    Returns the run's result (tools.trials.results.run_result), as ``tunegraph optimize --out`` writes
    it, plus study_name and storage: best_value, best_family, best_params (the family's own
    parameter names), study_params (the study's names), best_trial (numbered from 1, as every
    trial number a user reads), best_per_family, n_trials, n_failed, stop_reason, trials (each with
    number, value, params, source, status), ``searched`` (the family asked for, or ``auto``: ``--out``'s
    ``model``), and ``model``: the winner refit on all rows
    (``predict``/``predict_proba`` take a DataFrame of the raw columns), saved at ``model_path``
    (``save_model=False`` skips it; ``model_path=...`` chooses the file).
    """
    from tunegraph.graphs.optimize import graph
    from tunegraph.tools.ml.fitted import load_model
    from tunegraph.tools.trials.results import run_result
    from tunegraph.tools.trials.runs import check_study_name, default_storage, default_study_name, run_for
    from tunegraph.tools.trials.stream import stream_updates

    context = Context(llm=llm, sampler=sampler, trials=trials, learn=learn, storage=storage, **settings)
    started = time.perf_counter()
    with data_inputs(dataset, data, target, task_type, encoding) as inputs, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs = {**inputs, "model": model, **({"metric": metric} if metric else {})}
        inputs["study_name"] = check_study_name(study_name or default_study_name(inputs))
        run = run_for(inputs, context)
        state: dict[str, Any] = {}
        for _node, values, state in stream_updates(graph, inputs, context):
            result = values.get("last_result")
            if result and on_trial:  # numbered from 1, as everywhere a user reads a trial number
                on_trial({**result, "number": int(result["number"]) + 1, "best": state.get("best_value")})
    result = run_result(run, state, time.perf_counter() - started)
    model = load_model(result["model_path"]) if result.get("model_path") else None
    return {**result, "study_name": inputs["study_name"], "storage": context.storage or default_storage(),
            "searched": result["model"], "model": model}
