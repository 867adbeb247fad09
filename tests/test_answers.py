"""Parsing untrusted LLM answers: JSON extraction and repair; the JSON schemas given to the LLM."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunegraph.tools.llm.answers import (
    AnswerError,
    InitializerAnswer,
    OptimizerAnswer,
    config_schema,
    initializer_schema,
    optimizer_schema,
    parse_json_object,
)
from tunegraph.tools.ml.search_space import SearchSpace

# --- parse_json_object ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('{"a": 1}', {"a": 1}),
    ('  {"config": {"max_depth": 4, "eta": 0.1}, "reasoning": "ok"}  ', {"config": {"max_depth": 4, "eta": 0.1},
                                                                        "reasoning": "ok"}),
    ('{}', {}),
    ('{"a": null, "b": true, "c": [1, "x", {"d": -2.5e-3}]}', {"a": None, "b": True, "c": [1, "x", {"d": -2.5e-3}]}),
    ('{"a": "}"}', {"a": "}"}),
    ('{"a": "say \\"hi\\" {"}', {"a": 'say "hi" {'}),
])
def test_clean_json(text, expected):
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text", [
    'Sure! Here is the configuration: {"config": {"max_depth": 4}}',
    'Reasoning first.\nThen the answer:\n{"config": {"max_depth": 4}}\nHope this helps.',
    '```json\n{"config": {"max_depth": 4}}\n```',
    '{"config": {"max_depth": 4}} {"config": {"max_depth": 9}}',  # the first object wins
])
def test_json_with_surrounding_prose(text):
    assert parse_json_object(text) == {"config": {"max_depth": 4}}


def test_docstring_example():
    assert parse_json_object('Sure! {"config": {"max_depth": 4}, "reasoning": "shallow') == {
        "config": {"max_depth": 4}, "reasoning": "shallow"}


@pytest.mark.parametrize("text, expected", [
    ('{"reasoning": "deeper trees wo', {"reasoning": "deeper trees wo"}),  # cut-off string
    ('{"config": {"max_depth": 4', {"config": {"max_depth": 4}}),  # missing closing braces
    ('{"config": {"max_depth": 4, "eta": 0.1},', {"config": {"max_depth": 4, "eta": 0.1}}),  # dangling comma
    ('{"a": 1,  \n ', {"a": 1}),
    ('{"configs": [{"x": 1}, {"x": 2', {"configs": [{"x": 1}, {"x": 2}]}),
    ('{"r": [1, 2', {"r": [1, 2]}),
    ('{"a": "back\\\\', {"a": "back\\"}),  # an escaped backslash does not open an escape
    ('{"a": "x"}}]', {"a": "x"}),
    ('{', {}),
])
def test_truncated_json_is_closed(text, expected):
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("no json here", "contains no JSON object"),
    ("", "contains no JSON object"),
    ("[1, 2, 3]", "contains no JSON object"),  # a JSON array is not an object
    ('["a", "b"]', "contains no JSON object"),
    ('{"a":', "not valid JSON"),  # cut off right after a key: nothing to close
    ('{"a": tru', "not valid JSON"),
    ('{"a" 1}', "not valid JSON"),
    ("{'a': 1}", "not valid JSON"),  # Python, not JSON
    ("{x}", "not valid JSON"),
])
def test_unusable_answers(text, fragment):
    with pytest.raises(AnswerError, match=fragment):
        parse_json_object(text)


@pytest.mark.parametrize("value", [None, 42, b'{"a": 1}', {"a": 1}])
def test_non_text_is_an_answer_error(value):
    with pytest.raises(AnswerError, match="expected text"):
        parse_json_object(value)


def test_answer_error_is_a_value_error():
    assert issubclass(AnswerError, ValueError)


def test_parsed_answers_feed_the_answer_models():
    answer = OptimizerAnswer.model_validate(parse_json_object('ok {"config": {"x": 1}, "ranges": {"x": [0, 2]}'))
    assert answer.config == {"x": 1} and answer.ranges == {"x": [0.0, 2.0]} and answer.reasoning == ""
    answer = InitializerAnswer.model_validate(parse_json_object('{"configs": [{"x": 1}], "reasoning": "r'))
    assert answer.configs == [{"x": 1}] and answer.reasoning == "r"


@pytest.mark.parametrize("text, expected", [
    ('{"a": "q\\"', {"a": 'q"'}),
    ('{"r": "x \\"{\\" y", "b": [1', {"r": 'x "{" y', "b": [1]}),
], ids=["odd-escaped-quote", "brace-after-escaped-quote"])
def test_truncated_string_with_escaped_quote(text, expected):
    assert parse_json_object(text) == expected


def test_brace_in_prose_before_the_json():
    assert parse_json_object('Keep {max_depth} small: {"config": {"max_depth": 3}}') == {"config": {"max_depth": 3}}


@pytest.mark.parametrize("text", [
    '{"a": ' + "1" * 5000 + "}",
    '{"a": ' + "[" * 100_000,
], ids=["5000-digit-integer", "deeply-nested"])
def test_pathological_json_is_an_answer_error(text):
    with pytest.raises(AnswerError):
        parse_json_object(text)


# --- properties ----------------------------------------------------------------------------------

_plain_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 9, 10 ** 9) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30).filter(lambda s: "{" not in s),
       st.dictionaries(st.text(max_size=6), _plain_json, max_size=4),
       st.text(max_size=30))
def test_a_whole_object_after_prose_is_found_exactly(prose, obj, tail):
    assert parse_json_object(prose + json.dumps(obj) + tail) == obj


# --- schemas ---------------------------------------------------------------------------------------

@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_dict({
        "learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 12},
        "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
        "bootstrap": {"type": "categorical", "choices": [True, False]},
    })


CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "learning_rate": {"type": "number", "minimum": 0.001, "maximum": 0.5},
        "max_depth": {"type": "integer", "minimum": 2, "maximum": 12},
        "class_weight": {"enum": [None, "balanced"]},
        "bootstrap": {"enum": [True, False]},
    },
    "required": ["learning_rate", "max_depth", "class_weight", "bootstrap"],
    "additionalProperties": False,
}


def test_config_schema(space):
    schema = config_schema(space)
    assert schema == CONFIG_SCHEMA
    assert type(schema["properties"]["max_depth"]["minimum"]) is int
    assert json.loads(json.dumps(schema)) == schema  # plain JSON, usable as a grammar


@pytest.mark.parametrize("n_configs, max_items", [(3, 3), (1, 1), (0, 1)])
def test_initializer_schema(space, n_configs, max_items):
    schema = initializer_schema(space, n_configs)
    assert schema["type"] == "object"
    assert schema["required"] == ["configs", "reasoning"]
    configs = schema["properties"]["configs"]
    assert configs == {"type": "array", "items": CONFIG_SCHEMA, "minItems": 1, "maxItems": max_items}
    assert schema["properties"]["reasoning"] == {"type": "string", "maxLength": 300}
    json.dumps(schema)


def test_optimizer_schema(space):
    schema = optimizer_schema(space)
    assert schema["type"] == "object"
    assert schema["required"] == ["config", "reasoning"]
    assert schema["properties"]["config"] == CONFIG_SCHEMA
    assert schema["properties"]["reasoning"] == {"type": "string", "maxLength": 300}
    ranges = schema["properties"]["ranges"]
    assert ranges["type"] == "object" and ranges["additionalProperties"] is False
    assert list(ranges["properties"]) == ["learning_rate", "max_depth"]  # numeric parameters only
    for pair in ranges["properties"].values():
        assert pair == {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
    json.dumps(schema)


def test_optimizer_schema_without_numeric_params():
    space = SearchSpace.from_dict({"kernel": {"type": "categorical", "choices": ["rbf", "linear"]}})
    schema = optimizer_schema(space)
    assert schema["properties"]["ranges"]["properties"] == {}
    assert schema["properties"]["config"]["properties"] == {"kernel": {"enum": ["rbf", "linear"]}}


def test_schema_bounds_agree_with_clip(space):
    """A value below the schema's minimum or above its maximum is clipped to exactly that bound."""
    base = {"learning_rate": 0.1, "max_depth": 5, "class_weight": None, "bootstrap": True}
    for name, prop in config_schema(space)["properties"].items():
        if "minimum" not in prop:
            continue
        for outside, bound in ((prop["minimum"] - 1, prop["minimum"]), (prop["maximum"] + 1, prop["maximum"])):
            clean, notes = space.clip(dict(base, **{name: outside}))
            assert clean[name] == bound and len(notes) == 1
