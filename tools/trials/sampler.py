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

import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.search_space import IntersectionSearchSpace
from optuna.trial import FrozenTrial, TrialState

from tunegraph.context import SAMPLERS
from tunegraph.errors import InputError
from tunegraph.tools.trials.share import AdaptiveShare

MODES = SAMPLERS
SOURCES: tuple[str, ...] = ("init", "portfolio", "meta", "llm", "tpe", "random")


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
        adaptive: in ``llm_tpe`` mode, the LLM earns its share from the study's results, starting
            at ``p_llm`` (:class:`~tunegraph.tools.trials.share.AdaptiveShare`); False keeps the
            fixed coin of probability ``p_llm`` (to reproduce older runs). The study records the
            rule (user attributes ``llm_share_start``, ``llm_share_rule``) and each trial the share
            in effect when it was chosen (``llm_share``).
    """

    def __init__(self, mode: str = "llm_tpe", p_llm: float = 0.5, proposer: Proposer | None = None,
                 seed: int | None = None, n_startup_trials: int = 10, adaptive: bool = True):
        if mode not in MODES:
            raise InputError(f"unknown sampler mode '{mode}'; choose one of: {', '.join(MODES)}")
        if not 0.0 <= p_llm <= 1.0:
            raise InputError(f"p_llm must be within [0, 1], got {p_llm}")
        self.mode = mode
        self.p_llm = p_llm if mode == "llm_tpe" else (1.0 if mode == "llm" else 0.0)
        self.proposer = proposer
        self.adaptive = adaptive
        self.share_rule = AdaptiveShare(self.p_llm) if adaptive and mode == "llm_tpe" else None
        self._chosen_share: float | None = None  # from choose_source(study), for the trial asked next
        self._recorded: set[tuple[int, int]] = set()  # studies that hold the rule already
        self._n_startup_trials = n_startup_trials
        self._source: dict[int, str] = {}
        # study.optimize(n_jobs=2) runs trials in threads: each thread has its own coin, TPE and random
        # sampler (reseeded per trial below), so one thread's reseed never swaps another's mid-trial
        self._local = threading.local()
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
        self._local.coin = np.random.default_rng(seed)
        # group: a space across families is conditional; TPE models each family's parameters on its own trials
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._local.tpe = TPESampler(seed=seed, n_startup_trials=self._n_startup_trials, multivariate=True,
                                         group=True)
        self._local.random = RandomSampler(seed=None if seed is None else seed + 1)

    def _mine(self) -> threading.local:
        """This thread's coin and samplers (a new thread starts from the sampler's seed)."""
        if not hasattr(self._local, "tpe"):
            self._reseed(self._seed)
        return self._local

    @property
    def _coin(self) -> np.random.Generator:
        return self._mine().coin

    @property
    def _tpe(self) -> TPESampler:
        return self._mine().tpe

    @property
    def _random(self) -> RandomSampler:
        return self._mine().random

    @property
    def _forced(self) -> str | None:
        return getattr(self._local, "forced", None)

    @_forced.setter
    def _forced(self, value: str | None) -> None:
        self._local.forced = value

    # --- the coin -----------------------------------------------------------------------------
    def choose_source(self, study: optuna.Study | None = None) -> str:
        """Draw who proposes the next trial: ``llm``, ``tpe`` or ``random``.

        With ``study`` (``llm_tpe`` mode, ``adaptive``), the LLM's share is computed from the
        study's finished trials; without one, it is the fixed ``p_llm``. The share drawn with is
        recorded on the next ``llm`` or ``tpe`` trial this sampler starts (user attribute ``llm_share``).

        Example:
            >>> sampler = LLMTPESampler(mode="llm_tpe", p_llm=0.5, seed=0)
            >>> sampler.choose_source(optuna.create_study()) in ("llm", "tpe")
            True
        """
        source, self._chosen_share = self._choose(study)
        return source

    def llm_share(self, study: optuna.Study | None = None) -> float:
        """The probability that the LLM proposes the next trial of ``study`` (``p_llm`` with the fixed coin)."""
        if self.share_rule is None or study is None:
            return self.p_llm
        return self.share_rule.share(study.get_trials(deepcopy=False), study.direction)

    def _choose(self, study: optuna.Study | None) -> tuple[str, float | None]:
        """``(source, the LLM's share it was drawn with)``; the share is None outside ``llm_tpe`` mode."""
        if self.mode == "random":
            return "random", None
        share = self.llm_share(study)
        if study is not None and self.mode == "llm_tpe":
            self._record_rule(study)
        source = "llm" if self._coin.random() < share else "tpe"
        return source, (share if self.mode == "llm_tpe" else None)

    def _record_rule(self, study: optuna.Study) -> None:
        """The starting share and the rule, in the study's user attributes (once per study and process)."""
        key = (id(study._storage), study._study_id)
        if key in self._recorded:
            return
        fixed = f"fixed coin: the LLM proposes with probability {self.p_llm:g}"
        rule = self.share_rule.rule if self.share_rule else fixed
        attrs = study.user_attrs
        if attrs.get("llm_share_start") != self.p_llm or attrs.get("llm_share_rule") != rule:
            study.set_user_attr("llm_share_start", self.p_llm)
            study.set_user_attr("llm_share_rule", rule)
        self._recorded.add(key)

    def start_model_after(self, n_trials: int) -> None:
        """TPE models the history from ``n_trials`` finished trials on (Optuna counts enqueued trials as
        start-up trials: after a portfolio of K, the default 10 would add 10 - K random ones)."""
        self._n_startup_trials = max(1, int(n_trials))
        self._reseed(self._seed)

    def ask(self, study: optuna.Study, space: dict[str, BaseDistribution] | Any,
            source: str) -> optuna.Trial:
        """Ask ``study`` for a trial whose parameters come from ``source`` (``tpe`` or ``random``).

        ``space`` is Optuna distributions, or a :class:`SearchSpace`, sampled define-by-run
        (a conditional space across families asks for the family first).
        """
        if source not in ("tpe", "random"):
            raise ValueError(f"ask() samples with tpe or random, not {source!r}; enqueue LLM proposals")
        self._forced = source
        try:
            if isinstance(space, dict):
                return study.ask(space)
            trial = study.ask()
            space.suggest(trial)
            return trial
        finally:
            self._forced = None

    # --- Optuna's sampler contract --------------------------------------------------------------
    def reseed_rng(self) -> None:
        self._seed = None
        self._reseed(None)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self._seed is not None:
            self._reseed(int(np.random.SeedSequence([self._seed % 2**32, trial.number]).generate_state(1)[0]))
        share = None
        if "fixed_params" in trial.system_attrs:  # enqueued: init, meta or the graph's LLM agent
            source = trial.user_attrs.get("source", "enqueued")
        else:
            source = self._forced
            if source is None:  # drawn here (a plain study.optimize): the share travels with the draw
                source, share = self._choose(study)
            if source == "llm" and self.proposer is None:
                source = "tpe"
        if source in ("llm", "tpe"):
            if share is None:  # drawn before the trial was asked (the optimize graph's choose_source(study))
                share, self._chosen_share = self._chosen_share, None
            if share is not None:
                study._storage.set_trial_user_attr(trial._trial_id, "llm_share", float(share))
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

    def source_of(self, trial: optuna.Trial) -> str:
        """Who proposed ``trial``, asked through this sampler and not yet finished (its ``source``
        user attribute, without a storage read)."""
        return self._source.get(trial._trial_id) or trial.user_attrs.get("source", "tpe")

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
