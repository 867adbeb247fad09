"""Bad input, fuzzed (hypothesis): the search-space parser, the LLM-answer parser and the CSV loader.

Whatever they are given, they return a valid object or raise the project's own error
(SearchSpaceError, AnswerError, TaskError) with a message; never another exception.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fault_log import record
from tunegraph.tools.llm.answers import AnswerError, parse_json_object
from tunegraph.tools.ml.search_space import SearchSpace, SearchSpaceError
from tunegraph.tools.ml.tasks import Task, TaskError, load_task, read_table

pytestmark = pytest.mark.filterwarnings("ignore:dropped .* rows:UserWarning", "ignore:infinite values:UserWarning")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.integers(min_value=-10**400, max_value=10**400) \
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
bound = st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**400, 10**400) \
    | st.text(max_size=5) | st.none() | st.booleans()
param = st.fixed_dictionaries(
    {"type": st.sampled_from(["float", "int", "categorical", "bool", ""]) | st.text(max_size=8)},
    optional={"low": bound, "high": bound, "log": st.booleans() | st.text(max_size=3) | st.integers(),
              "choices": st.lists(scalars, max_size=4) | scalars, "extra": scalars})
spaces = st.dictionaries(st.text(max_size=12), param | json_like, max_size=4)


EXAMPLES: Counter = Counter()  # inputs tried per parser, for benchmarks/faults.py


@pytest.fixture(scope="module", autouse=True)
def report_examples():
    yield
    for kind, n in EXAMPLES.items():
        record("input", kind, n, n, "valid object or the project's error; any other exception fails the test")


def check_space(space: SearchSpace) -> None:
    """A space that was accepted works everywhere a space is used."""
    again = SearchSpace.from_json(space.to_json())
    assert again.names() == space.names()
    distributions = space.to_optuna()
    assert set(distributions) == set(space.names())
    middle = {}
    for name, p in space.params.items():
        middle[name] = p.choices[0] if p.type == "categorical" else (p.low + p.high) / 2
    clean, _ = space.clip(middle)
    assert space.contains(clean)


@FUZZ
@given(spaces | json_like)
def test_search_space_from_anything(data):
    EXAMPLES["search space (fuzzed)"] += 1
    try:
        space = SearchSpace.from_dict(data)
    except SearchSpaceError as exc:
        assert str(exc)
        return
    check_space(space)


@FUZZ
@given(st.text(max_size=200) | spaces.map(json.dumps) | st.integers(1, 3000).map(lambda n: "[" * n + "]" * n))
def test_search_space_from_any_text(text):
    EXAMPLES["search space (fuzzed)"] += 1
    try:
        space = SearchSpace.from_json(text)
    except SearchSpaceError as exc:
        assert str(exc)
        return
    check_space(space)


answers = st.fixed_dictionaries(
    {"config": st.dictionaries(st.text(max_size=8), scalars, max_size=4), "reasoning": st.text(max_size=40)},
    optional={"ranges": st.dictionaries(st.text(max_size=8), st.lists(scalars, max_size=3), max_size=3),
              "configs": st.lists(st.dictionaries(st.text(max_size=8), scalars, max_size=3), max_size=2)})


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))
       | st.text(st.sampled_from(list('{}[]",:\\ \nabc01-.eEtrufalsn')), max_size=120)  # JSON's own characters
       | st.integers(1, 5000).map(lambda n: "{" * n) | st.integers(1, 5000).map(lambda n: '{"a": ' + "[" * n))
def test_answer_parser_on_any_text(text):
    EXAMPLES["LLM answer text (fuzzed)"] += 1
    try:
        value = parse_json_object(text)
    except AnswerError as exc:
        assert str(exc)
        return
    assert isinstance(value, dict) and "{" in text  # no object is made up from text without one


@FUZZ
@given(answers, st.text(max_size=30), st.data())
def test_answer_parser_on_truncated_answers(answer, prose, data):
    EXAMPLES["LLM answer text (fuzzed)"] += 1
    text = prose.replace("{", "(") + json.dumps(answer, allow_nan=True)
    assert parse_json_object(text) == json.loads(json.dumps(answer, allow_nan=True)) or _has_nan(answer)
    cut = data.draw(st.integers(0, len(text)))
    try:
        value = parse_json_object(text[:cut])
    except AnswerError as exc:
        assert str(exc)
        return
    assert isinstance(value, dict)


def _has_nan(value) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


# --- the CSV loader ------------------------------------------------------------------------------------
cells = st.integers(-5, 5).map(str) | st.integers(-10**30, 10**30).map(str) \
    | st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.sampled_from(["", "?", "NA", "nan", "inf", "1e999",
                                                                                  "-1e999", "true", "x", '"', "a,b"]) \
    | st.text(max_size=8)


@st.composite
def csv_bytes(draw) -> bytes:
    n_cols = draw(st.integers(1, 5))
    header = draw(st.lists(st.text(max_size=8) | st.sampled_from(["a", "a ", " a", "y", ""]), min_size=n_cols,
                           max_size=n_cols))
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=n_cols + 1), max_size=25))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    quote = draw(st.booleans())

    def line(values):
        return delimiter.join((f'"{v}"' if quote else v) for v in values)

    text = "\n".join([line(header), *map(line, rows)])
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"]))
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace")


def check_loads(content: bytes, suffix: str = ".csv", target: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(content)
        try:
            frame = read_table(path)
        except TaskError as exc:
            assert str(exc)
            return
        assert isinstance(frame, pd.DataFrame) and frame.shape[0] > 0 and frame.shape[1] > 0
        assert len(set(frame.columns)) == frame.shape[1]
        for column in dict.fromkeys([target or frame.columns[-1], frame.columns[0]]):
            try:
                task = load_task(data=path, target=column)
            except TaskError as exc:
                assert str(exc)
                continue
            assert isinstance(task, Task) and len(task.y) == len(task.X) > 0
            numeric = task.X[task.numeric_columns].to_numpy(dtype=float)
            assert not np.isinf(numeric).any() and np.isfinite(task.y.astype(float)).all()  # models take it
            assert task.describe() and all(math.isfinite(v) or math.isnan(v) for v in task.meta_features().values())


@FUZZ
@given(csv_bytes())
def test_csv_loader_on_generated_tables(content):
    EXAMPLES["CSV / table file (fuzzed)"] += 1
    check_loads(content)


@FUZZ
@given(st.binary(max_size=300))
def test_csv_loader_on_any_bytes(content):
    EXAMPLES["CSV / table file (fuzzed)"] += 1
    check_loads(content)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([".parquet", ".pq", ".tsv", ""]))
def test_table_loader_on_garbage_files(content, suffix):
    EXAMPLES["CSV / table file (fuzzed)"] += 1
    check_loads(content, suffix)


@pytest.mark.parametrize("content, message", [
    (b"", "data file is empty"),
    (b"a ,a\n1,2\n", "duplicate column names: a"),  # pandas renames an exact 'a,a' to 'a', 'a.1' itself
    (b"a,b\n", "no rows or no columns"),
    (b"\xff\xfe\x00garbage\x00", "cannot read"),
])
def test_known_bad_tables_get_their_message(content, message):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        path.write_bytes(content)
        with pytest.raises(TaskError, match=message):
            read_table(path)
