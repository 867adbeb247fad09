"""Run settings for the graphs: the LLM, the sampler, budgets, seed and storage.

They travel as ``context=Context(...)`` and are read from ``runtime.context`` in a node.
Each field falls back to an environment variable ``TUNEGRAPH_<FIELD>`` when not given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields


def _env(name: str, default):
    raw = os.environ.get(f"TUNEGRAPH_{name.upper()}")
    if raw is None:
        return default
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


@dataclass(kw_only=True)
class Context:
    llm: str = field(default="auto", metadata={
        "description": "LLM as provider:model: ollama:<name>, llamacpp:<gguf path>, embedded, none or auto."})
    sampler: str = field(default="llm_tpe", metadata={
        "description": "Who proposes trials: llm_tpe (hybrid), llm, tpe or random."})
    p_llm: float = field(default=0.5, metadata={"description": "Probability that the LLM proposes a trial in llm_tpe mode."})
    trials: int = field(default=20, metadata={"description": "Trial budget of the study (finished trials, failed included)."})
    time_budget: float = field(default=0.0, metadata={"description": "Stop after this many seconds of work (0: no limit)."})
    patience: int = field(default=0, metadata={
        "description": "Stop after this many trials without improvement (0: off; SLLMBO used 15 for llm, 5 for llm_tpe)."})
    fail_fast: int = field(default=3, metadata={
        "description": "Stop early when this many trials have run and every one failed (0: off)."})
    seed: int = field(default=0, metadata={"description": "Seed of the sampler, the folds and the models."})
    folds: int = field(default=5, metadata={"description": "Cross-validation folds."})
    trial_timeout: float = field(default=0.0, metadata={"description": "Per-trial time limit in seconds (0: none)."})
    init_configs: int = field(default=2, metadata={"description": "Configurations the Initializer proposes."})
    llm_retries: int = field(default=1, metadata={"description": "Extra attempts after an invalid LLM answer."})
    n_startup_trials: int = field(default=10, metadata={"description": "Random trials TPE takes before modelling."})
    warm_start: int = field(default=0, metadata={
        "description": "Enqueue the recommend graph's top K configurations as the first trials (source 'meta')."})
    learn: bool = field(default=True, metadata={
        "description": "Add the finished study's trials to the user's meta-dataset layer."})
    n_candidates: int = field(default=5, metadata={"description": "Candidates the Retriever hands the Recommender."})
    n_similar: int = field(default=3, metadata={"description": "Similar past tasks the Retriever looks up."})
    judge_threshold: float = field(default=3.5, metadata={"description": "Judge score (1-5) a recommendation needs."})
    max_rounds: int = field(default=2, metadata={"description": "Recommender rounds before the best answer is taken."})
    confirm_above_s: float = field(default=60.0, metadata={
        "description": "Chat: ask before starting an optimization estimated to take longer than this (seconds)."})
    storage: str = field(default="", metadata={
        "description": "Optuna storage URL (default: sqlite:///.tunegraph/studies.db)."})

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) == f.default:
                setattr(self, f.name, _env(f.name, f.default))
