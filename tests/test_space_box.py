"""The bounding-box proxy study (benchmarks/space_box.py) measures the product's box."""

from __future__ import annotations

import math

import pytest

from benchmarks.space_box import box_of, inside, volume
from tunegraph.tools.ml.models import get_family


def test_the_volume_is_the_share_of_the_space_in_its_own_scale():
    space = get_family("xgboost", "classification").search_space("classification")
    a = {"n_estimators": 100, "learning_rate": 0.01, "max_depth": 6, "min_child_weight": 1.0, "subsample": 1.0,
         "colsample_bytree": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.001}
    b = {**a, "learning_rate": 0.1}
    box = box_of(space, [a, b])  # only the learning rate differs: the other parameters stay whole
    lr = space.params["learning_rate"]
    assert volume(space, box) == pytest.approx(math.log(10) / (math.log(lr.high) - math.log(lr.low)))
    assert inside(box, a) and inside(box, b) and not inside(box, {**a, "learning_rate": 0.2})
    assert volume(space, box_of(space, [a])) == 1.0  # one configuration: no box
