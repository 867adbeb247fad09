"""Run settings for the graphs: the LLM, the sampler, budgets, seed and storage.

They travel as ``context=Context(...)`` and are read from ``runtime.context`` in a node.
A field not given falls back to the environment variable ``TUNEGRAPH_<FIELD>``, then to its
default; a value given explicitly always wins. The command line takes its defaults and help
from these fields (:func:`cli_default`, :func:`cli_help`), so there is one copy of each.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from tunegraph.errors import InputError

SAMPLERS: tuple[str, ...] = ("llm_tpe", "llm", "tpe", "random")  # who proposes trials (tools.trials.sampler)
PRUNERS: tuple[str, ...] = ("none", "median", "sha")
ENSEMBLE: tuple[str, ...] = ("auto", "on", "off")


class ContextError(InputError):
    """A run setting is out of range, or a TUNEGRAPH_<FIELD> variable holds a value of the wrong type.

    ``setting`` names the field, so a front end can name its own option (``--trials``, ``n_trials``).
    """

    def __init__(self, detail: str, setting: str | None = None):
        super().__init__(f"{setting} {detail}" if setting else detail)
        self.setting, self.detail = setting, detail

    def named(self, name: str) -> str:
        """The message with the setting called by a front end's own name."""
        return f"{name} {self.detail}" if self.setting else str(self)


def _env(name: str, default):
    raw = os.environ.get(f"TUNEGRAPH_{name.upper()}")
    if raw is None:
        return default
    if isinstance(default, bool):
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ContextError(f"TUNEGRAPH_{name.upper()}={raw!r} is not a boolean: use 1/0, true/false or yes/no")
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(raw)
            except ValueError:
                what = "an integer" if kind is int else "a number"
                raise ContextError(f"TUNEGRAPH_{name.upper()}={raw!r} is not {what} (default: {default})") from None
    return raw


def setting(name: str, default: Any, description: str):
    """A Context field whose default is read from ``TUNEGRAPH_<NAME>`` when the Context is made.

    The field's metadata is read by pydantic too, when LangGraph exports the context's JSON schema
    (``/assistants/{id}/schemas``, Studio's configuration panel): pydantic passes every key named like
    an argument of ``pydantic.Field`` on to it, so a ``"default"`` key there clashes with the field's own
    default and breaks the export. Nothing but ``description`` and ``json_schema_extra`` goes there: the
    latter writes into the schema the default a run would take now (the environment's value, else
    ``default``), since pydantic does not call a default factory for a schema.
    """
    def schema_default(schema: dict[str, Any]) -> None:
        try:
            schema["default"] = _env(name, default)
        except ContextError:  # a malformed TUNEGRAPH_<NAME> fails the run, not the schema
            schema["default"] = default

    return field(default_factory=lambda: _env(name, default),
                 metadata={"description": description, "json_schema_extra": schema_default})


@dataclass(kw_only=True)
class Context:
    llm: str = setting("llm", "auto",
        "LLM as provider:model: ollama:<name>, llamacpp:<gguf path>, embedded, none or "
        "auto.")
    sampler: str = setting("sampler", "tpe",
        "Who proposes trials: tpe (Optuna TPE, after the portfolio), llm_tpe (TPE and the LLM, "
        "which earns its share), llm or random.")
    p_llm: float = setting("p_llm", 0.5,
        "Probability that the LLM proposes a trial in llm_tpe mode (where the LLM earns its share: the share it starts with).")
    adaptive_share: bool = setting("adaptive_share", True,
        "In llm_tpe mode, the LLM earns its share of the trials from the study's results (Thompson sampling "
        "on beating the best so far, within 5-95%); off: a fixed coin of probability p_llm.")
    trials: int = setting("trials", 20, "Trial budget of the study (finished trials, failed included).")
    time_budget: float = setting("time_budget", 0.0, "Stop after this many seconds of work (0: no limit).")
    patience: int = setting("patience", 0,
        "Stop after this many trials without improvement (0: off; SLLMBO used 15 for llm, 5 for "
        "llm_tpe).")
    fail_fast: int = setting("fail_fast", 3,
        "Stop early when this many trials have run and every one failed (0: off).")
    pruner: str = setting("pruner", "none",
        "Fold-level pruning of unpromising trials: none, median (Optuna's MedianPruner) or sha (successive halving).")
    seed: int = setting("seed", 0, "Seed of the sampler, the folds and the models.")
    folds: int = setting("folds", 5, "Cross-validation folds.")
    trial_timeout: float = setting("trial_timeout", 0.0, "Per-trial time limit in seconds (0: none).")
    portfolio: int = setting("portfolio", -1,
        "Portfolio members (from the configuration matrix) run as the first trials, then TPE at once "
        "(-1: min(8, trials // 2), at least 1; 0: off, the Initializer's defaults or LLM proposals).")
    portfolio_neighbors: int = setting("portfolio_neighbors", -1,
        "How the portfolio weighs past tasks: N: the N most similar weigh 1 and the others 0.1; 0: all "
        "alike; -1: the shipped setting (5, chosen by leave-one-dataset-out on the configuration matrix).")
    space_box: bool = setting("space_box", True,
        "After the portfolio, TPE searches the box of past tasks' best configurations and the portfolio "
        "(Perrone et al. 2019; tools/meta/space_transfer.py) instead of the full space; off: the full space.")
    init_configs: int = setting("init_configs", 2, "Configurations the Initializer proposes.")
    llm_retries: int = setting("llm_retries", 1, "Extra attempts after an invalid LLM answer.")
    n_startup_trials: int = setting("n_startup_trials", 10, "Random trials TPE takes before modelling.")
    warm_start: int = setting("warm_start", 0,
        "Enqueue the recommend graph's top K configurations as the first trials (source "
        "'meta').")
    learn: bool = setting("learn", True, "Add the finished study's trials to the user's meta-dataset layer.")
    learn_min_trials: int = setting("learn_min_trials", 10,
        "Only a study with at least this many completed trials joins the meta-dataset layer (1: any).")
    n_candidates: int = setting("n_candidates", 5, "Candidates the Retriever hands the Recommender.")
    n_similar: int = setting("n_similar", 3, "Similar past tasks the Retriever looks up.")
    judge_threshold: float = setting("judge_threshold", 3.5, "Judge score (1-5) a recommendation needs.")
    max_rounds: int = setting("max_rounds", 2, "Recommender rounds before the best answer is taken.")
    confirm_above_s: float = setting("confirm_above_s", 60.0,
        "Chat: ask before starting an optimization estimated to take longer than this "
        "(seconds).")
    storage: str = setting("storage", "", "Optuna storage URL, or a journal file path "
                           "(default: sqlite:///.tunegraph/studies.db).")
    splits: tuple = field(default=(), metadata={"description": "The cross-validation's own (train rows, test rows) "
        "pairs, e.g. from a scikit-learn splitter (TuneGraphSearchCV's cv); empty: folds shuffled folds."})
    # (no "default" key in a field's metadata: pydantic takes it for Field(default=...), see setting())
    save_model: bool = setting("save_model", True,
        "After the search, refit the best configuration on all rows and save it (agents/modeler.py).")
    ensemble: str = setting("ensemble", "auto",
        "Post-hoc ensemble of the trials (Caruana's greedy selection on out-of-fold predictions): auto saves it "
        "when it beats the best single trial on rows it was not selected on; on: always; off: never.")
    model_path: str = setting("model_path", "",
        "Where the fitted model is saved (default: .tunegraph/models/<study>.tgm).")


    def __post_init__(self) -> None:
        """Check every setting once, here: the command line, the API and the estimator all build a Context."""
        at_least = {"trials": 1, "folds": 2, "warm_start": 0, "fail_fast": 0, "learn_min_trials": 1, "patience": 0, "portfolio": -1,
                    "portfolio_neighbors": -1, "init_configs": 0, "llm_retries": 0, "n_startup_trials": 0,
                    "n_candidates": 1, "n_similar": 1, "max_rounds": 1}
        for name, low in at_least.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ContextError(f"must be an integer >= {low}, got {value!r}", name)
        for name in ("time_budget", "trial_timeout", "confirm_above_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ContextError(f"must be a number >= 0, got {value!r}", name)
        if isinstance(self.p_llm, bool) or not isinstance(self.p_llm, (int, float)) or not 0.0 <= self.p_llm <= 1.0:
            raise ContextError(f"must be within [0, 1], got {self.p_llm!r}", "p_llm")
        if not 1.0 <= self.judge_threshold <= 5.0:
            raise ContextError(f"must be within [1, 5], got {self.judge_threshold!r}", "judge_threshold")
        if any(len(pair) != 2 or not len(pair[0]) or not len(pair[1]) for pair in self.splits):
            raise ContextError("must be (train rows, test rows) pairs, none of them empty", "splits")
        for name, choices in (("sampler", SAMPLERS), ("pruner", PRUNERS), ("ensemble", ENSEMBLE)):
            if getattr(self, name) not in choices:
                raise ContextError(f"must be one of {', '.join(choices)}, got {getattr(self, name)!r}", name)


def cli_default(name: str) -> Any:
    """The default a command-line option takes: the environment's value, else the field's default."""
    spec = next(f for f in fields(Context) if f.name == name)
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default


def cli_help(name: str, extra: str = "") -> str:
    """A command-line option's help: the field's description and its default (as now set)."""
    spec = next(f for f in fields(Context) if f.name == name)
    return f"{spec.metadata['description'].rstrip('.')}{extra} (default: {cli_default(name)!r})".replace("%", "%%")
