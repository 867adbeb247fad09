"""The LLM-TPE sampler (SLLMBO): each trial is proposed by the LLM with probability p, else by TPE.

Modes: ``llm`` (always the LLM), ``tpe`` (Optuna's TPE), ``llm_tpe`` (the hybrid, p=0.5 by
default) and ``random``. Every trial records who proposed it in the user attribute ``source``
(``init``, ``meta``, ``llm``, ``tpe`` or ``random``) and the LLM's reasoning in ``reasoning``.
When the LLM has nothing valid to offer, the trial falls back to TPE and records
``llm_fallback``; the run never depends on the LLM answering well.

It works in any Optuna study, with a ``proposer`` that turns the study so far into a configuration:

    >>> def proposer(study, trial, space):
    ...     return Proposal({"x": 0.5}, reasoning="middle of the range")
    >>> sampler = LLMTPESampler(mode="llm_tpe", proposer=proposer, seed=0)
    >>> study = optuna.create_study(sampler=sampler)
    >>> study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2, n_trials=10)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

MODES: tuple[str, ...] = ("llm_tpe", "llm", "tpe", "random")
SOURCES: tuple[str, ...] = ("init", "meta", "llm", "tpe", "random")


@dataclass
class Proposal:
    """A configuration from the LLM with its reasoning."""

    params: dict[str, Any]
    reasoning: str = ""


Proposer = Callable[[optuna.Study, FrozenTrial, dict[str, BaseDistribution]], "Proposal | None"]


class LLMTPESampler(BaseSampler):
    """Mixes LLM proposals with TPE (composition: it holds a TPESampler and a RandomSampler).

    Args:
        mode: one of ``llm_tpe``, ``llm``, ``tpe``, ``random``.
        p_llm: probability that a trial is proposed by the LLM in ``llm_tpe`` mode.
        proposer: callable ``(study, trial, search_space) -> Proposal | None``; without one,
            trials that the coin gives to the LLM are sampled by TPE (used by the optimize graph,
            which asks its LLM agent itself and enqueues the answer).
        seed: seeds the coin, TPE and random sampling.
        n_startup_trials: random trials TPE takes before it models the history.
    """

    def __init__(self, mode: str = "llm_tpe", p_llm: float = 0.5, proposer: Proposer | None = None,
                 seed: int | None = None, n_startup_trials: int = 10):
        if mode not in MODES:
            raise ValueError(f"unknown sampler mode '{mode}'; choose one of: {', '.join(MODES)}")
        if not 0.0 <= p_llm <= 1.0:
            raise ValueError(f"p_llm must be within [0, 1], got {p_llm}")
        self.mode = mode
        self.p_llm = p_llm if mode == "llm_tpe" else (1.0 if mode == "llm" else 0.0)
        self.proposer = proposer
        self._n_startup_trials = n_startup_trials
        self._source: dict[int, str] = {}
        self._forced: str | None = None
        self.trial_user_attrs: dict[str, Any] = {}  # set on every new trial (e.g. which worker asked)
        self.seed(seed)

    def seed(self, seed: int | None) -> None:
        """Seed the coin, TPE and random sampling afresh.

        With a seed, each trial's draws are seeded again from ``(seed, trial number)``: numbers
        are unique within a study, so workers sharing one never draw the same random start-up
        configurations, and a resumed run does not replay the first run's.
        """
        self._seed = seed
        self._reseed(seed)

    def _reseed(self, seed: int | None) -> None:
        self._coin = np.random.default_rng(seed)
        self._tpe = TPESampler(seed=seed, n_startup_trials=self._n_startup_trials)
        self._random = RandomSampler(seed=None if seed is None else seed + 1)

    # --- the coin -----------------------------------------------------------------------------
    def choose_source(self) -> str:
        """Draw who proposes the next trial: ``llm``, ``tpe`` or ``random``."""
        if self.mode == "random":
            return "random"
        return "llm" if self._coin.random() < self.p_llm else "tpe"

    def ask(self, study: optuna.Study, distributions: dict[str, BaseDistribution],
            source: str) -> optuna.Trial:
        """Ask ``study`` for a trial whose parameters come from ``source`` (``tpe`` or ``random``)."""
        if source not in ("tpe", "random"):
            raise ValueError(f"ask() samples with tpe or random, not {source!r}; enqueue LLM proposals")
        self._forced = source
        try:
            return study.ask(distributions)
        finally:
            self._forced = None

    # --- Optuna's sampler contract --------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._seed = None
        self._coin = np.random.default_rng()
        self._tpe.reseed_rng()
        self._random.reseed_rng()

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self._seed is not None:
            self._reseed(int(np.random.SeedSequence([self._seed % 2**32, trial.number]).generate_state(1)[0]))
        if "fixed_params" in trial.system_attrs:  # enqueued: init, meta or the graph's LLM agent
            source = trial.user_attrs.get("source", "enqueued")
        else:
            source = self._forced or self.choose_source()
            if source == "llm" and self.proposer is None:
                source = "tpe"
        self._source[trial._trial_id] = source
        study._storage.set_trial_user_attr(trial._trial_id, "source", source)
        for key, value in self.trial_user_attrs.items():
            study._storage.set_trial_user_attr(trial._trial_id, key, value)
        self._inner(source).before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        source = self._source.get(trial._trial_id, "tpe")
        if source == "llm":
            space = IntersectionSearchSpace(include_pruned=False).calculate(study)
            return {k: d for k, d in space.items() if not d.single()}
        return self._inner(source).infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        source = self._source.get(trial._trial_id, "tpe")
        if source != "llm":
            return self._inner(source).sample_relative(study, trial, search_space)
        proposal = None
        if search_space:  # the first trial has no history to define a space from
            try:
                proposal = self.proposer(study, trial, search_space)
            except Exception as exc:  # an LLM failure must never stop the study
                study._storage.set_trial_user_attr(trial._trial_id, "llm_error", str(exc)[:300])
        params = _within(proposal.params, search_space) if proposal else None
        if not params:
            self._fall_back(study, trial)
            return {}
        study._storage.set_trial_user_attr(trial._trial_id, "reasoning", proposal.reasoning[:1000])
        return params

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        source = self._source.get(trial._trial_id, "tpe")
        return self._inner(source).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        source = self._source.pop(trial._trial_id, "tpe")
        self._inner(source).after_trial(study, trial, state, values)

    # --- helpers ---------------------------------------------------------------------------
    def _inner(self, source: str) -> BaseSampler:
        return self._random if source == "random" else self._tpe

    def _fall_back(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._source[trial._trial_id] = "tpe"
        study._storage.set_trial_user_attr(trial._trial_id, "source", "tpe")
        study._storage.set_trial_user_attr(trial._trial_id, "llm_fallback", True)


def _within(params: dict[str, Any], space: dict[str, BaseDistribution]) -> dict[str, Any] | None:
    """Keep the proposal only if every parameter of ``space`` is present and valid."""
    out = {}
    for name, dist in space.items():
        if name not in params:
            return None
        value = params[name]
        try:
            internal = dist.to_internal_repr(value)
        except (ValueError, TypeError):
            return None
        if not dist._contains(internal):
            return None
        out[name] = value
    return out
