"""The LLM's share of the trials in ``llm_tpe`` mode, earned from the study's own results.

A fixed coin (the LLM proposes with probability ``p_llm``) wastes trials when the LLM proposes
worse configurations than TPE, as the embedded 135M model does. :class:`AdaptiveShare` is a
two-armed bandit over the proposers ``llm`` and ``tpe``:

- **Score.** A trial proposed by the LLM or by TPE is a *win* when its value beats (strictly)
  the best value of the trials numbered before it, a *loss* otherwise. A failed or pruned trial
  is a loss. An LLM turn that fell back to TPE (source ``tpe`` with ``llm_fallback``) is a loss
  for the LLM whatever its value: the LLM had nothing usable to offer, and the value is TPE's.
  Trials from other sources (``init``, ``portfolio``, ``meta``, ``random``) are not scored, but
  they set the best value the others must beat. A completed trial (or a fallback) with no
  completed trial before it is not scored: there is nothing to beat, nor to learn from. Trials
  abandoned by a crash are ignored.
- **Rule.** Thompson sampling, taken as probability matching. Each proposer's chance to win has
  a Beta posterior: ``Beta(2p + wins, 2(1-p) + losses)`` for the LLM, ``Beta(1 + wins, 1 + losses)``
  for TPE, where ``p`` is the starting share (``p_llm``). The LLM proposes with the probability
  ``q`` that its chance is the higher one. ``q`` is computed exactly (a finite sum), not sampled,
  so one uniform draw decides the trial and the share is a number that can be recorded.
- **Start.** Before any evidence, ``q = P(X > U)`` for ``X ~ Beta(2p, 2(1-p))`` and ``U`` uniform,
  which is ``E[X] = p``: the share starts exactly at ``p``. The prior weighs two trials, so a
  handful of results outweighs it; with ``p = 1/2`` both priors are uniform.
- **Bounds.** The share stays within ``[min(floor, p), max(ceiling, p)]`` (5% and 95% by default),
  so neither proposer is starved for good: a proposer that was unlucky early can still win back
  trials. A starting share of exactly 0 or 1 is kept as it is (the user asked for one proposer).

Why this rule:

- The state is computed from the finished trials each time, so a run resumed in a new process,
  or several workers sharing one study, get the same share without storing anything else.
- "Beat the best so far" is what a trial adds to the run's result, and it does not depend on the
  metric's scale (AUC, RMSE, log loss), so no normalization is needed.
- Thompson sampling is the standard small bandit and explores in proportion to its uncertainty:
  a proposer that has run three trials is not judged on luck, one that has lost thirty times
  gets few more. Using ``q`` itself instead of one posterior draw per trial gives the same
  choices in distribution, with a share that can be shown and tested.
- Not chosen: a share proportional to the observed win rates has no notion of uncertainty (one
  early lucky win sets it); a continuous reward (the rank of the value among earlier ones) says
  more per trial, but it also rewards a proposer that copies the best with small changes and
  lands just below it, without ever moving the result.

The win rate of both proposers falls as the study improves, and TPE's first trials are random
ones (its start-up) that win often against a poor best: the comparison is fair because both
proposers take turns through the same study, not because each win rate is stable. Improvements
are rare for both, so evidence builds slowly: on a toy study, an LLM that never wins holds 0.09
to 0.41 of the trials after 30 (12 seeds, about 0.2 typically) and gets about half the turns a
fixed coin of 0.5 gives it (tests/test_adaptive_share.py).

Example:
    >>> import numpy as np
    >>> rule = AdaptiveShare(0.5)
    >>> rule.share([], "minimize")
    0.5
    >>> rule.choose([], "minimize", np.random.default_rng(0)) in ("llm", "tpe")
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from tunegraph.errors import InputError

PROPOSERS: tuple[str, ...] = ("llm", "tpe")


@dataclass
class Record:
    """Wins and losses of each proposer in a study."""

    wins: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROPOSERS, 0))
    losses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROPOSERS, 0))


@dataclass(frozen=True)
class AdaptiveShare:
    """The probability that the LLM proposes the next trial, earned from the study's trials.

    Args:
        start: the share before any evidence (``p_llm``), within [0, 1].
        floor, ceiling: the LLM's share never leaves ``[min(floor, start), max(ceiling, start)]``.

    Example:
        >>> rule = AdaptiveShare(0.5)
        >>> rule.share_of(Record({"llm": 0, "tpe": 4}, {"llm": 6, "tpe": 2})) == rule.floor
        True
    """

    start: float = 0.5
    floor: float = 0.05
    ceiling: float = 0.95

    def __post_init__(self):
        if not 0.0 <= self.start <= 1.0:
            raise InputError(f"the starting share must be within [0, 1], got {self.start}")
        if not 0.0 <= self.floor <= self.ceiling <= 1.0:
            raise InputError(f"need 0 <= floor <= ceiling <= 1, got floor={self.floor}, ceiling={self.ceiling}")

    @property
    def rule(self) -> str:
        """One line, recorded in the study (user attribute ``llm_share_rule``)."""
        if self.start in (0.0, 1.0):
            return f"adaptive, but a starting share of {self.start:g} asks for one proposer: it stays {self.start:g}"
        return (f"adaptive: Thompson sampling between llm and tpe on 'beat the best so far', priors "
                f"Beta({2 * self.start:g}, {2 * (1 - self.start):g}) (llm) and Beta(1, 1) (tpe), share within "
                f"[{min(self.floor, self.start):g}, {max(self.ceiling, self.start):g}]")

    def record(self, trials: Sequence[FrozenTrial], direction: Any) -> Record:
        """Score the finished trials of ``llm`` and ``tpe`` (see the module's docstring)."""
        maximize = _maximize(direction)
        record = Record()
        best: float | None = None
        for trial in sorted(trials, key=lambda t: t.number):
            if trial.state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
                continue  # running or waiting: no result yet
            if trial.user_attrs.get("abandoned"):
                continue  # cut off by a crash before it was evaluated
            complete = trial.state == TrialState.COMPLETE and trial.value is not None
            improves = complete and (best is None or (trial.value > best if maximize else trial.value < best))
            fallback = trial.user_attrs.get("source") == "tpe" and bool(trial.user_attrs.get("llm_fallback"))
            source = "llm" if fallback else trial.user_attrs.get("source")  # the LLM's turn, nothing usable
            if source in PROPOSERS and (best is not None or not complete):  # a first result beats nothing
                won = improves and not fallback
                (record.wins if won else record.losses)[source] += 1
            if improves:
                best = float(trial.value)
        return record

    def share_of(self, record: Record) -> float:
        """The LLM's share given its and TPE's wins and losses (rounded to 6 decimals)."""
        if self.start in (0.0, 1.0):
            return self.start
        q = p_better(2.0 * self.start + record.wins["llm"], 2.0 * (1.0 - self.start) + record.losses["llm"],
                     1 + record.wins["tpe"], 1 + record.losses["tpe"])
        return round(min(max(q, min(self.floor, self.start)), max(self.ceiling, self.start)), 6)

    def share(self, trials: Sequence[FrozenTrial], direction: Any) -> float:
        """The probability that the LLM proposes the next trial of a study with these ``trials``."""
        return self.share_of(self.record(trials, direction))

    def choose(self, trials: Sequence[FrozenTrial], direction: Any, rng) -> str:
        """``llm`` or ``tpe``, with one uniform draw from ``rng`` (a NumPy Generator)."""
        return "llm" if rng.random() < self.share(trials, direction) else "tpe"


def p_better(alpha_a: float, beta_a: float, alpha_b: int, beta_b: float) -> float:
    """P(A > B) for A ~ Beta(alpha_a, beta_a) and B ~ Beta(alpha_b, beta_b), ``alpha_b`` a whole number.

    Exact: one minus Evan Miller's closed form for P(B > A), a sum of ``alpha_b`` terms.

    Example:
        >>> round(p_better(1, 1, 1, 1), 6), round(p_better(0.4, 1.6, 1, 1), 6), round(p_better(4, 1, 1, 4), 4)
        (0.5, 0.2, 0.9857)
    """
    if alpha_b != int(alpha_b) or alpha_b < 1:
        raise InputError(f"alpha_b must be a whole number of at least 1, got {alpha_b}")
    log_norm = _log_beta(alpha_a, beta_a)
    b_wins = 0.0
    for i in range(int(alpha_b)):
        b_wins += math.exp(_log_beta(alpha_a + i, beta_a + beta_b) - math.log(beta_b + i)
                           - _log_beta(1 + i, beta_b) - log_norm)
    return min(max(1.0 - b_wins, 0.0), 1.0)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _maximize(direction: Any) -> bool:
    if isinstance(direction, StudyDirection):
        return direction == StudyDirection.MAXIMIZE
    if str(direction).lower() in ("maximize", "minimize"):
        return str(direction).lower() == "maximize"
    raise InputError(f"unknown direction {direction!r}; expected maximize or minimize (or a StudyDirection)")
