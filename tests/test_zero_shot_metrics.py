"""The zero-shot benchmark's measures of a recommendation's shortfall."""

from __future__ import annotations

import pytest

from benchmarks.common.stats import normalized_regret, relative_gap


def test_relative_gap_follows_the_direction():
    assert relative_gap(0.9, 1.0, "maximize") == pytest.approx(0.1)
    assert relative_gap(1.1, 1.0, "maximize") == pytest.approx(-0.1)  # better than the reference
    assert relative_gap(2.2, 2.0, "minimize") == pytest.approx(0.1)


def test_normalized_regret_spans_best_to_worst_known():
    assert normalized_regret(1.0, 1.0, 0.5, "maximize") == 0.0
    assert normalized_regret(0.5, 1.0, 0.5, "maximize") == pytest.approx(1.0)
    assert normalized_regret(0.9, 1.0, 0.5, "maximize") == pytest.approx(0.2)
    # a near-zero best RMSE inflates the relative gap, not the normalized regret
    assert relative_gap(0.02, 0.01, "minimize") == pytest.approx(1.0)
    assert normalized_regret(0.02, 0.01, 1.01, "minimize") == pytest.approx(0.01)
    assert normalized_regret(3.0, 3.0, 3.0, "minimize") == 0.0  # one known configuration: no span
