"""The bounding-box proxy study (benchmarks/space_box.py): its box holds what it was built from, and
nothing it leaves out, on a real family's space."""

from __future__ import annotations

import math

import pytest

from benchmarks.space_box import box_of, inside, volume
from tunegraph.tools.ml.models import get_family


def test_the_box_spans_its_configurations_in_the_spaces_scale():
    space = get_family("xgboost", "classification").search_space("classification")
    a = {"learning_rate": 0.01, "max_depth": 3, "n_estimators": 100}
    b = {"learning_rate": 0.1, "max_depth": 6, "n_estimators": 300}
    box = box_of(space, [a, b])
    assert inside(space, box, a) and inside(space, box, b)
    assert inside(space, box, {"learning_rate": math.sqrt(0.01 * 0.1), "max_depth": 4, "n_estimators": 200})
    assert not inside(space, box, {**a, "learning_rate": 0.2})
    assert not inside(space, box, {**a, "max_depth": 2})
    assert 0.0 < volume(space, box) < 1.0
    assert volume(space, box_of(space, [a])) == 0.0  # one configuration: a point
    lr = space.params["learning_rate"]  # log scale: the width is measured in log units
    expected = math.log(10) / (math.log(lr.high) - math.log(lr.low))
    assert volume(space, box_of(space, [{"learning_rate": 0.01}, {"learning_rate": 0.1}])) == pytest.approx(expected)


def test_a_categorical_box_keeps_the_values_seen():
    space = get_family("knn", "classification").search_space("classification")
    name, param = next((n, p) for n, p in space.params.items() if getattr(p, "choices", None))
    box = box_of(space, [{name: param.choices[0]}])
    assert inside(space, box, {name: param.choices[0]})
    assert len(param.choices) == 1 or not inside(space, box, {name: param.choices[1]})
