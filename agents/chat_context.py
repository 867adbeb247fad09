"""The conversation's context: what "it", "instead" and "more trials" refer to.

The chat remembers a *subject*: the data the conversation is about (a built-in data set or a
file, with its target, task type and metric), the model family and the last trial budget. A new
message fills what it leaves out from the subject, and whatever it names wins:

- "tune it with 8 trials" after a recommendation: the recommended data and family;
- "try random forest instead": the same data and budget, another family;
- "tune FILE" after "which model for FILE predicting survived?": the file named again keeps
  its target;
- "more trials", "why that max_depth?", "how is it going?": the last study, or the last one
  on the data or family the message names.

An optimization of the recommended family on the recommended data starts from the
recommendation (``warm_configs``): its configuration, then the other candidates of that family
in its evidence.

Example:
    >>> subject = {"data": {"dataset": "wine", "task_type": "classification"}, "model": "knn", "trials": 8}
    >>> inputs, recalled = optimize_inputs({"intent": "optimize", "model": "random_forest"}, subject, 20)
    >>> inputs["dataset"], inputs["model"], inputs["trials"]
    ('wine', 'random_forest', 8)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegraph.errors import InputError
from tunegraph.tools.llm.answers import format_config
from tunegraph.tools.ml.tasks import BUILTIN_DATASETS

SOURCE_KEYS = ("dataset", "data_path")  # which data: a built-in name or a resolved file path
DATA_KEYS = (*SOURCE_KEYS, "target", "task_type", "metric")
DEFAULT_MODEL = "auto"  # the family searched with its hyperparameters
WARM_FROM_RECOMMENDATION = 3  # the recommended configuration and up to 2 more of its evidence, as scripted_run.py


class NoData(InputError):
    """The message names no data and the conversation has none yet, or names a missing file."""


def named_data(request: dict[str, Any]) -> dict[str, str]:
    """The data a message names (a file path resolved, and checked to exist), or {}."""
    if request.get("dataset"):
        return {"dataset": request["dataset"]}
    if request.get("data_path"):
        path = Path(request["data_path"]).expanduser().resolve()
        if not path.is_file():
            raise NoData(f"There is no file {path}. Give a CSV or Parquet file that exists, or a built-in data set "
                         f"({', '.join(BUILTIN_DATASETS)}).")
        return {"data_path": str(path)}
    return {}


def same_source(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Whether two data references name the same data set or file (targets aside)."""
    a, b = a or {}, b or {}
    return any(a.get(k) for k in SOURCE_KEYS) and all(a.get(k) == b.get(k) for k in SOURCE_KEYS)


def resolve_data(request: dict[str, Any], subject: dict[str, Any] | None,
                 example: str = "/optimize data.csv --target price --trials 30") -> tuple[dict[str, Any], bool]:
    """``(data reference, remembered?)`` for ``request``: the data it names, else the subject's.

    Raises NoData when there is neither (its message shows ``example``) or the named file is missing."""
    remembered = dict((subject or {}).get("data") or {})
    named = named_data(request)
    if named:
        data = named
        if same_source(named, remembered):  # named again: its target and task type are still known
            data.update({k: remembered[k] for k in ("target", "task_type", "metric") if remembered.get(k)})
    elif remembered:
        data = remembered
    else:
        raise NoData(f"Which data? Name a built-in data set or a file, e.g. {example}.")
    if request.get("target") and request["target"] != data.get("target"):
        data["target"] = request["target"]
        data.pop("task_type", None)  # another column to predict may be another kind of task
    if request.get("metric"):
        data["metric"] = request["metric"]
    return {k: data[k] for k in DATA_KEYS if data.get(k)}, not named


def optimize_inputs(request: dict[str, Any], subject: dict[str, Any] | None,
                    default_trials: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The optimize graph's inputs for an optimize request, with ``trials`` (the budget), and what
    came from earlier in the conversation (``{"data": ..., "model": ..., "trials": ...}``, for
    :func:`recalled_note`)."""
    subject = subject or {}
    data, remembered = resolve_data(request, subject)
    inputs: dict[str, Any] = {**data, "model": request.get("model") or subject.get("model") or DEFAULT_MODEL}
    # the remembered budget goes with the remembered data: "try random forest instead" is the same run, changed
    inputs["trials"] = int(request.get("trials") or (remembered and subject.get("trials")) or default_trials)
    recalled = {"data": f"data {describe_data(data)}"} if remembered else {}
    if not remembered and data.get("target") and not request.get("target"):  # the data named again
        recalled["target"] = f"target {data['target']}"
    if not request.get("model") and subject.get("model"):
        recalled["model"] = f"model {inputs['model']}"
    if not request.get("trials") and remembered and subject.get("trials"):
        recalled["trials"] = f"{inputs['trials']} trials"
    return inputs, recalled


def recalled_note(recalled: dict[str, str]) -> list[str]:
    """``["from earlier in this conversation: data wine, model knn"]``, or [] when nothing was."""
    return [f"from earlier in this conversation: {', '.join(recalled.values())}"] if recalled else []


def recommend_data(request: dict[str, Any], subject: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """The recommend graph's data inputs (the task type is left to it) and a note when remembered."""
    data, remembered = resolve_data(request, subject, example="/recommend data.csv --target price")
    data.pop("task_type", None)
    return data, ([f"from earlier in this conversation: data {describe_data(data)}"] if remembered else [])


def describe_data(data: dict[str, Any]) -> str:
    """``titanic.csv (target survived)`` or ``wine``: the data as the answers name it."""
    name = data.get("dataset") or Path(str(data.get("data_path"))).name
    return name + (f" (target {data['target']})" if data.get("target") else "")


def remember(subject: dict[str, Any] | None, data: dict[str, Any], task_type: str | None, model: str,
             trials: int | None = None) -> dict[str, Any]:
    """The subject after a turn about ``data`` and ``model`` (plain values: it is checkpointed)."""
    subject = subject or {}
    data = {k: data[k] for k in DATA_KEYS if data.get(k)}
    if task_type:
        data["task_type"] = task_type
    if trials is None and same_source(data, subject.get("data")):
        trials = subject.get("trials")  # a recommendation in between keeps the budget of the same data
    return {"data": data, "model": model, "trials": int(trials) if trials else None}


def pick_run(runs: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any] | None:
    """The run a message refers to: the study it names, else the last one on the data and family
    it names, else the last one."""
    if request.get("study_name"):
        return next((r for r in reversed(runs) if r["study"] == request["study_name"]), None)
    try:
        named = named_data(request)
    except NoData:
        return None
    for run in reversed(runs):
        if named and not same_source(named, run["inputs"]):
            continue
        if request.get("model") and request["model"] != run["model"]:
            continue
        return run
    return None


def warm_configs(recommendation: dict[str, Any] | None, inputs: dict[str, Any],
                 k: int = WARM_FROM_RECOMMENDATION) -> list[dict[str, Any]]:
    """``[{"params", "reasoning"}]`` to try first when ``inputs`` run the recommended family on the
    recommended data: the recommended configuration, then other candidates of that family in the
    recommendation's evidence; [] otherwise."""
    if not recommendation:
        return []
    final, asked = recommendation["final"], recommendation.get("inputs") or {}
    if final["family"] != inputs.get("model") or not same_source(asked, inputs) \
            or (asked.get("target") or None) != (inputs.get("target") or None):
        return []
    configs = [{"params": final["params"], "reasoning": f"the recommendation: {final['justification']}"[:1000]}]
    for candidate in (recommendation.get("evidence") or {}).get("candidates") or []:
        if len(configs) >= k:
            break
        if candidate.get("family") == final["family"] and all(candidate["params"] != c["params"] for c in configs):
            configs.append({"params": candidate["params"],
                            "reasoning": "; ".join(candidate.get("shap") or [])[:1000] or "a recommendation candidate"})
    return configs


def warm_note(configs: list[dict[str, Any]], family: str) -> str:
    """What the answer says about a warm start from :func:`warm_configs`."""
    more = len(configs) - 1
    return (f"warm-started from the recommendation above: {family} with {format_config(configs[0]['params'])}"
            + (f", then {more} more {family} candidate{'s' if more > 1 else ''} of its evidence" if more else ""))
