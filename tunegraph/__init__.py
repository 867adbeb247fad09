"""TuneGraph: pick a model and its hyperparameters with meta-knowledge, Optuna and a local LLM.

The public API (imported lazily, so ``import tunegraph`` stays light):

    >>> from tunegraph import recommend, optimize, load_model, TuneGraphSearchCV, LLMTPESampler, Context
    >>> advice = recommend(dataset="wine")                              # doctest: +SKIP
    >>> result = optimize(dataset="wine", model="knn", trials=10)       # doctest: +SKIP
    >>> model = load_model(result["model_path"])                        # doctest: +SKIP
    >>> model.predict(new_rows)                                         # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "recommend": "tunegraph.api", "optimize": "tunegraph.api",
    "TuneGraphSearchCV": "tunegraph.estimator",
    "LLMTPESampler": "tunegraph.tools.trials.sampler", "llm_proposer": "tunegraph.agents.optimizer",
    "Context": "tunegraph.context", "load_model": "tunegraph.tools.ml.fitted",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tunegraph' has no attribute '{name}'")
    return getattr(import_module(_EXPORTS[name]), name)
