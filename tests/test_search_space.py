"""SearchSpace: JSON/dict/Optuna round trips, validation, clip(), contains() and merge_within()."""

from __future__ import annotations

import json
import math

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunegraph.tools.ml.search_space import CategoricalParam, FloatParam, IntParam, SearchSpace, SearchSpaceError

SPEC = {
    "learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True},
    "max_depth": {"type": "int", "low": 2, "high": 12, "log": False},
    "n_estimators": {"type": "int", "low": 10, "high": 1000, "log": True},
    "subsample": {"type": "float", "low": 0.5, "high": 1.0, "log": False},
    "bootstrap": {"type": "categorical", "choices": [True, False]},
    "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
    "batch_size": {"type": "categorical", "choices": [32, 64, 0.5, "auto"]},
}
GOOD = {"learning_rate": 0.1, "max_depth": 6, "n_estimators": 100, "subsample": 0.8, "bootstrap": True,
        "class_weight": None, "batch_size": 64}


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_dict(SPEC)


def config(**changes):
    out = dict(GOOD)
    out.update(changes)
    return out


# --- construction and round trips -----------------------------------------------------------

def test_from_dict_builds_typed_params_in_order(space):
    assert space.names() == list(SPEC)
    assert isinstance(space.params["learning_rate"], FloatParam)
    assert isinstance(space.params["max_depth"], IntParam)
    assert isinstance(space.params["bootstrap"], CategoricalParam)
    assert space.params["learning_rate"].log is True
    assert space.params["max_depth"].low == 2 and type(space.params["max_depth"].low) is int


def test_to_dict_round_trip_is_exact(space):
    assert space.to_dict() == SPEC
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_log_defaults_to_false():
    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0, "high": 1}})
    assert space.to_dict() == {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False}}


def test_json_round_trip_keeps_types_and_order(space):
    text = space.to_json()
    assert json.loads(text) == SPEC
    assert list(json.loads(text)) == list(SPEC)
    back = SearchSpace.from_json(text)
    assert back == space
    assert back.params["bootstrap"].choices == [True, False]
    assert [type(c) for c in back.params["batch_size"].choices] == [int, int, float, str]
    assert back.params["class_weight"].choices[0] is None


def test_equality_sees_differences(space):
    other = dict(SPEC, max_depth={"type": "int", "low": 2, "high": 13, "log": False})
    assert SearchSpace.from_dict(other) != space
    assert space != SPEC  # a plain dict is not a SearchSpace


def test_to_optuna_gives_matching_distributions(space):
    dists = space.to_optuna()
    assert list(dists) == list(SPEC)
    lr = dists["learning_rate"]
    assert isinstance(lr, optuna.distributions.FloatDistribution)
    assert (lr.low, lr.high, lr.log) == (0.001, 0.5, True)
    depth = dists["max_depth"]
    assert isinstance(depth, optuna.distributions.IntDistribution)
    assert (depth.low, depth.high, depth.log) == (2, 12, False)
    assert isinstance(dists["n_estimators"], optuna.distributions.IntDistribution) and dists["n_estimators"].log
    assert isinstance(dists["bootstrap"], optuna.distributions.CategoricalDistribution)
    assert tuple(dists["class_weight"].choices) == (None, "balanced")


def test_optuna_round_trip(space):
    assert SearchSpace.from_optuna(space.to_optuna()) == space


def test_from_optuna_of_hand_made_distributions():
    space = SearchSpace.from_optuna({
        "a": optuna.distributions.FloatDistribution(1e-3, 1.0, log=True),
        "b": optuna.distributions.IntDistribution(1, 5),
        "c": optuna.distributions.CategoricalDistribution(["x", "y"]),
    })
    assert space.to_dict() == {"a": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
                               "b": {"type": "int", "low": 1, "high": 5, "log": False},
                               "c": {"type": "categorical", "choices": ["x", "y"]}}


def test_from_optuna_rejects_unsupported_distribution():
    class Odd(optuna.distributions.BaseDistribution):
        def to_internal_repr(self, value):
            return float(value)

        def single(self):
            return False

        def _contains(self, value):
            return True

    with pytest.raises(SearchSpaceError, match="odd_param: unsupported distribution Odd"):
        SearchSpace.from_optuna({"odd_param": Odd()})


def test_optuna_samples_are_contained_in_the_space(space):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask(space.to_optuna())
        assert space.contains(trial.params), trial.params
        study.tell(trial, 0.0)


def test_degenerate_range_is_allowed():
    space = SearchSpace.from_dict({"x": {"type": "float", "low": 0.3, "high": 0.3}})
    assert space.clip({"x": 0.9}) == ({"x": 0.3}, ["x: 0.9 clipped to 0.3"])
    assert space.to_optuna()["x"].single()


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, fragments", [
    ({"type": "float", "low": 3, "high": 1}, ["'x'", "low (3.0) must not exceed high (1.0)"]),
    ({"type": "int", "low": 10, "high": 2}, ["'x'", "low (10) must not exceed high (2)"]),
    ({"type": "float", "low": 0, "high": 1, "log": True}, ["'x'", "log-scaled range needs low > 0", "low=0.0"]),
    ({"type": "int", "low": 0, "high": 5, "log": True}, ["'x'", "log-scaled range needs low > 0"]),
    ({"type": "float", "low": -1, "high": 1, "log": True}, ["log-scaled range needs low > 0"]),
    ({"type": "float", "low": 0, "high": float("inf")}, ["bounds must be finite"]),
    ({"type": "float", "low": float("nan"), "high": 1}, ["bounds must be finite"]),
    ({"type": "weird", "low": 1, "high": 3}, ["'x'", "'weird'", "float", "int", "categorical"]),
    ({"low": 1, "high": 3}, ["'x'", "type"]),
    ({"type": "float", "low": 1}, ["'x'", "required"]),
    ({"type": "float", "low": "abc", "high": 1}, ["'x'", "number"]),
    ({"type": "int", "low": 1.5, "high": 3}, ["'x'", "integer"]),
    ({"type": "categorical", "choices": []}, ["'x'", "at least 1"]),
    ({"type": "categorical", "choices": "abc"}, ["'x'", "list"]),
    ({"type": "categorical"}, ["'x'", "required"]),
    (5, ["'x'", "dictionary"]),
    ("float", ["'x'"]),
])
def test_invalid_param_specs_name_the_param_and_the_problem(spec, fragments):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_dict({"ok": {"type": "int", "low": 1, "high": 2}, "x": spec})
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("data, fragment", [
    ({}, "at least one hyperparameter"),
    ([{"type": "int", "low": 1, "high": 2}], "must be a JSON object, got list"),
    ("x", "must be a JSON object, got str"),
    (None, "must be a JSON object, got NoneType"),
    (3, "must be a JSON object, got int"),
    ({"": {"type": "int", "low": 1, "high": 2}}, "non-empty strings"),
    ({1: {"type": "int", "low": 1, "high": 2}}, "non-empty strings, got 1"),
])
def test_invalid_spaces(data, fragment):
    with pytest.raises(SearchSpaceError, match=fragment):
        SearchSpace.from_dict(data)


def test_empty_space_cannot_be_constructed_directly():
    with pytest.raises(SearchSpaceError, match="at least one hyperparameter"):
        SearchSpace({})


@pytest.mark.parametrize("text, fragment", [
    ("{bad", "not valid JSON"),
    ("", "not valid JSON"),
    (None, "not valid JSON"),
    ("[1, 2]", "must be a JSON object, got list"),
    ("{}", "at least one hyperparameter"),
    ('{"x": {"type": "float", "low": 2, "high": 1}}', "must not exceed"),
])
def test_from_json_errors(text, fragment):
    with pytest.raises(SearchSpaceError, match=fragment):
        SearchSpace.from_json(text)


def test_search_space_error_is_a_value_error():
    assert issubclass(SearchSpaceError, ValueError)


def test_huge_integer_bound_is_a_search_space_error():
    text = '{"x": {"type": "int", "low": 0, "high": 1' + "0" * 400 + "}}"  # valid JSON
    with pytest.raises(SearchSpaceError):
        SearchSpace.from_json(text)


# --- clip --------------------------------------------------------------------------------------

def test_clip_docstring_example():
    space = SearchSpace.from_dict({"max_depth": {"type": "int", "low": 2, "high": 10}})
    assert space.clip({"max_depth": 40}) == ({"max_depth": 10}, ["max_depth: 40 clipped to 10"])


def test_clip_keeps_a_valid_config_unchanged(space):
    clean, notes = space.clip(GOOD)
    assert clean == GOOD
    assert notes == []
    assert list(clean) == list(SPEC)


def test_clip_casts_numbers_to_the_param_type(space):
    clean, notes = space.clip(config(subsample=1, max_depth=7.0))
    assert clean["subsample"] == 1.0 and type(clean["subsample"]) is float
    assert clean["max_depth"] == 7 and type(clean["max_depth"]) is int
    assert notes == []


@pytest.mark.parametrize("name, value, expected, note", [
    ("max_depth", 40, 12, "max_depth: 40 clipped to 12"),
    ("max_depth", -3, 2, "max_depth: -3 clipped to 2"),
    ("subsample", 0.1, 0.5, "subsample: 0.1 clipped to 0.5"),
    ("subsample", 7, 1.0, "subsample: 7 clipped to 1"),
    ("learning_rate", 0.0, 0.001, "learning_rate: 0.0 clipped to 0.001"),
])
def test_clip_clips_numbers_into_range_with_a_note(space, name, value, expected, note):
    clean, notes = space.clip(config(**{name: value}))
    assert clean[name] == expected
    assert notes == [note]
    assert clean == config(**{name: expected})


@pytest.mark.parametrize("value, expected", [(3.4, 3), (3.6, 4), (11.5, 12)])
def test_clip_rounds_ints_with_a_note(space, value, expected):
    clean, notes = space.clip(config(max_depth=value))
    assert clean["max_depth"] == expected and type(clean["max_depth"]) is int
    assert notes == [f"max_depth: {value} rounded to {expected}"]


def test_clip_clips_then_rounds_an_out_of_range_float_for_an_int(space):
    clean, notes = space.clip(config(max_depth=12.7))
    assert clean["max_depth"] == 12
    assert notes == ["max_depth: 12.7 clipped to 12"]


@pytest.mark.parametrize("name, value, expected", [
    ("bootstrap", "true", True),
    ("bootstrap", "FALSE", False),
    ("bootstrap", " True ", True),
    ("class_weight", "None", None),
    ("class_weight", "none", None),
    ("class_weight", "Balanced", "balanced"),
    ("batch_size", "64", 64),
    ("batch_size", "0.5", 0.5),
    ("batch_size", "AUTO", "auto"),
])
def test_clip_matches_categorical_text(space, name, value, expected):
    clean, notes = space.clip(config(**{name: value}))
    assert clean[name] == expected and type(clean[name]) is type(expected)
    assert notes == [f"{name}: {value!r} read as {expected!r}"]


@pytest.mark.parametrize("name, value", [("bootstrap", False), ("class_weight", "balanced"), ("batch_size", 32),
                                         ("batch_size", 0.5)])
def test_clip_exact_categorical_match_has_no_note(space, name, value):
    clean, notes = space.clip(config(**{name: value}))
    assert clean[name] == value and type(clean[name]) is type(value)
    assert notes == []


@pytest.mark.parametrize("name, value", [
    ("bootstrap", 1),  # True == 1 in Python, but 1 is not the offered choice True
    ("bootstrap", 0),
    ("bootstrap", "yes"),
    ("class_weight", "null"),
    ("class_weight", "balanced_subsample"),
    ("batch_size", 128),
    ("batch_size", [64]),
])
def test_clip_rejects_a_choice_that_is_not_offered(space, name, value):
    with pytest.raises(SearchSpaceError, match=f"{name}: .* is not one of"):
        space.clip(config(**{name: value}))


def test_clip_drops_unknown_keys_with_a_note(space):
    clean, notes = space.clip(config(gamma=3, colsample=0.5))
    assert clean == GOOD
    assert notes == ["gamma: not in the search space, dropped", "colsample: not in the search space, dropped"]


def test_clip_reports_every_missing_key(space):
    partial = {k: v for k, v in GOOD.items() if k not in ("max_depth", "bootstrap")}
    partial["extra"] = 1
    with pytest.raises(SearchSpaceError, match="configuration lacks max_depth, bootstrap$"):
        space.clip(partial)


@pytest.mark.parametrize("value", ["abc", "", "0.5abc", [0.5], {"v": 0.5}, None, True, False])
def test_clip_rejects_non_numbers_for_floats(space, value):
    with pytest.raises(SearchSpaceError, match="subsample: expected a number"):
        space.clip(config(subsample=value))


@pytest.mark.parametrize("value", ["ten", None, True, [3]])
def test_clip_rejects_non_numbers_for_ints(space, value):
    with pytest.raises(SearchSpaceError, match="max_depth: expected a number"):
        space.clip(config(max_depth=value))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), "nan", "inf", "-Infinity"])
def test_clip_rejects_non_finite_numbers(space, value):
    with pytest.raises(SearchSpaceError, match="subsample: expected a finite number"):
        space.clip(config(subsample=value))
    with pytest.raises(SearchSpaceError, match="max_depth: expected a finite number"):
        space.clip(config(max_depth=value))


@pytest.mark.parametrize("value", [None, [GOOD], "max_depth=3", 3])
def test_clip_rejects_a_config_that_is_not_a_dict(space, value):
    with pytest.raises(SearchSpaceError, match="a configuration must be an object"):
        space.clip(value)


def test_clip_does_not_mutate_its_input(space):
    raw = config(max_depth=40, extra=1)
    before = dict(raw)
    space.clip(raw)
    assert raw == before


def test_clip_huge_integer_is_clipped_or_rejected(space):
    try:
        clean, notes = space.clip(config(max_depth=10 ** 400))
    except SearchSpaceError:
        return
    assert clean["max_depth"] == 12


# --- contains ------------------------------------------------------------------------------------

def test_contains(space):
    assert space.contains(GOOD)
    assert space.contains(config(extra=5))  # unknown keys are dropped, not out of the space
    assert not space.contains(config(max_depth=40))
    assert not space.contains(config(max_depth=3.5))
    assert not space.contains(config(bootstrap="maybe"))
    assert not space.contains({k: v for k, v in GOOD.items() if k != "subsample"})
    assert not space.contains("not a dict")


def test_contains_is_not_fooled_by_key_names(space):
    assert space.contains(config(grad_clipped=1))


# --- merge_within -------------------------------------------------------------------------------

@pytest.fixture
def bounds() -> SearchSpace:
    return SearchSpace.from_dict({
        "learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 12},
        "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
    })


def test_merge_within_keeps_a_narrower_space(bounds):
    mine = SearchSpace.from_dict({
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.1, "log": True},
        "max_depth": {"type": "int", "low": 3, "high": 6},
        "class_weight": {"type": "categorical", "choices": ["balanced"]},
    })
    merged, notes = mine.merge_within(bounds)
    assert merged == mine
    assert notes == []


def test_merge_within_limits_ranges_to_the_bounds(bounds):
    mine = SearchSpace.from_dict({
        "learning_rate": {"type": "float", "low": 0.0001, "high": 0.9},
        "max_depth": {"type": "int", "low": 8, "high": 40},
        "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
    })
    merged, notes = mine.merge_within(bounds)
    lr = merged.params["learning_rate"]
    assert (lr.low, lr.high, lr.log) == (0.001, 0.5, True)  # the log flag comes from the bounds
    depth = merged.params["max_depth"]
    assert isinstance(depth, IntParam) and (depth.low, depth.high) == (8, 12)
    assert notes == ["learning_rate: range [0.0001, 0.9] limited to [0.001, 0.5]",
                     "max_depth: range [8, 40] limited to [8, 12]"]


def test_merge_within_collapses_a_range_entirely_outside(bounds):
    mine = SearchSpace.from_dict({"max_depth": {"type": "int", "low": 20, "high": 30}})
    merged, notes = mine.merge_within(bounds)
    depth = merged.params["max_depth"]
    assert (depth.low, depth.high) == (12, 12)
    assert any(n.startswith("max_depth:") for n in notes)


def test_merge_within_drops_unknown_and_fills_missing_params(bounds):
    mine = SearchSpace.from_dict({"gamma": {"type": "float", "low": 0.1, "high": 1.0},
                                  "max_depth": {"type": "int", "low": 3, "high": 4}})
    merged, notes = mine.merge_within(bounds)
    assert merged.names() == bounds.names()
    assert merged.params["learning_rate"] == bounds.params["learning_rate"]
    assert merged.params["class_weight"] == bounds.params["class_weight"]
    assert merged.params["max_depth"].low == 3 and merged.params["max_depth"].high == 4
    assert notes == []


def test_merge_within_type_mismatch_keeps_the_default_range(bounds):
    mine = SearchSpace.from_dict({"max_depth": {"type": "categorical", "choices": [3, 5]}})
    merged, notes = mine.merge_within(bounds)
    assert merged.params["max_depth"] == bounds.params["max_depth"]
    assert notes == ["max_depth: type categorical does not match int, kept the default range"]


def test_merge_within_intersects_categorical_choices(bounds):
    some = SearchSpace.from_dict({"class_weight": {"type": "categorical", "choices": ["balanced", "custom"]}})
    merged, _ = some.merge_within(bounds)
    assert merged.params["class_weight"].choices == ["balanced"]
    none = SearchSpace.from_dict({"class_weight": {"type": "categorical", "choices": ["custom"]}})
    merged, _ = none.merge_within(bounds)
    assert merged.params["class_weight"].choices == [None, "balanced"]


# --- properties ----------------------------------------------------------------------------------

# Integers stay within float range: larger ones hit the OverflowError bug shown above.
_scalars = (st.none() | st.booleans() | st.integers(-2 ** 64, 2 ** 64)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8))
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)


def _mostly(valid, noise):
    """Mostly ``valid``, sometimes ``noise``: both outcomes of the property get exercised."""
    return st.integers(0, 9).flatmap(lambda i: noise if i == 0 else valid)


_int_bound = st.integers(-1000, 1000) | st.integers(1, 10 ** 6) | st.sampled_from([0, 1, 2 ** 62])
_float_bound = _int_bound | st.floats(-1e6, 1e6) | st.floats(1e-6, 1e6) | st.sampled_from([1e-3, 1e300])


def _numeric(kind, bound):
    pair = _mostly(st.tuples(bound, bound).map(sorted), st.tuples(bound, _float_bound))
    return st.builds(lambda bounds, log: {"type": kind, "low": bounds[0], "high": bounds[1], **log},
                     pair, st.sampled_from([{}, {"log": False}, {"log": True}]))


_numeric_spec = _numeric("float", _float_bound) | _numeric("int", _int_bound)
_categorical_spec = st.fixed_dictionaries({"type": st.just("categorical"), "choices": st.lists(_scalars, max_size=4)})
_param_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["float", "int", "categorical", "bogus"]) | _json},
    optional={"low": _float_bound | _json, "high": _float_bound | _json, "log": st.booleans() | _json,
              "choices": st.lists(_scalars, max_size=5) | _json, "extra": _json})
_space_input = _mostly(
    st.dictionaries(st.text(min_size=1, max_size=8), _mostly(_numeric_spec | _categorical_spec, _param_like),
                    min_size=1, max_size=3),
    _json | st.dictionaries(st.text(max_size=8), _param_like | _json, max_size=4),
)


def _has_nan(value) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    return False


@settings(max_examples=300, deadline=None)
@given(_space_input)
def test_from_dict_gives_a_space_or_a_search_space_error(data):
    try:
        space = SearchSpace.from_dict(data)
    except SearchSpaceError as exc:
        assert str(exc)
        return
    assert isinstance(space, SearchSpace)
    assert space.names() == list(data)
    for p in space.params.values():
        if isinstance(p, (FloatParam, IntParam)):
            assert math.isfinite(p.low) and math.isfinite(p.high) and p.low <= p.high
            assert not p.log or p.low > 0
        else:
            assert len(p.choices) >= 1
    if not _has_nan(space.to_dict()):  # NaN != NaN, so a space with a NaN choice is not equal to itself
        assert SearchSpace.from_json(space.to_json()) == space
        assert SearchSpace.from_optuna(space.to_optuna()) == space


_noise = (_scalars | st.lists(_scalars, max_size=2)
          | st.sampled_from(["true", "None", "64", " 0.7 ", "nan", "1e3", "AUTO", "-5", "balanced", "3.5"]))
_numeric_value = (st.integers(-100, 5000) | st.floats(-1e4, 1e4)
                  | st.sampled_from(["0.7", " 12 ", "1e3", "-5", "3.5"]))


def _value_for(name):
    p = SearchSpace.from_dict(SPEC).params[name]
    if isinstance(p, CategoricalParam):
        texts = [str(c) for c in p.choices] + [str(c).upper() for c in p.choices]
        return _mostly(st.sampled_from(list(p.choices) + texts), _noise)
    return _mostly(_numeric_value, _noise)


_names = list(SPEC)
_configs = (st.fixed_dictionaries({n: _value_for(n) for n in _names},
                                  optional={k: _noise for k in ("extra", "gamma")})
            | st.dictionaries(st.sampled_from(_names) | st.text(max_size=6), _noise, max_size=9))


@settings(max_examples=300, deadline=None)
@given(_configs)
def test_clip_gives_a_contained_config_or_a_search_space_error(raw):
    space = SearchSpace.from_dict(SPEC)
    try:
        clean, notes = space.clip(raw)
    except SearchSpaceError as exc:
        assert str(exc)
        return
    assert space.contains(clean)
    assert list(clean) == _names
    assert space.clip(clean) == (clean, [])  # clipping is idempotent
    for name, p in space.params.items():
        value = clean[name]
        if isinstance(p, CategoricalParam):
            assert any(value is c or (type(c) is type(value) and c == value) for c in p.choices)
        else:
            assert type(value) is (int if isinstance(p, IntParam) else float)
            assert p.low <= value <= p.high


def test_numpy_values_are_read_and_shown_as_plain_values():
    import numpy as np

    space = SearchSpace.from_dict({"k": {"type": "int", "low": 1, "high": 50},
                                   "w": {"type": "categorical", "choices": [1, 2]}})
    config, notes = space.clip({"k": np.int64(3), "w": np.int64(2)})
    assert config == {"k": 3, "w": 2} and type(config["w"]) is int and notes == []  # before: 'w: 2 read as 2'
    with pytest.raises(SearchSpaceError, match=r"^k: expected a finite number, got inf$"):  # before: np.float64(inf)
        space.clip({"k": np.float64("inf"), "w": 1})
