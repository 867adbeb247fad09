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
from tunegraph.tools.ml.tasks import Task, TaskError, load_task, read_table, task_from_frame

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


# --- users' data frames: mixed types, empty and constant columns, rare classes, odd names -------------
USER_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
names = st.text(max_size=6) | st.sampled_from(["a", "id", "user_id", "Ünïcödé", "列名", "🙂 x", " y ", "y", "0",
                                                "when"])
cell_kinds = {
    "float": st.floats(allow_nan=True, allow_infinity=True, width=32),
    "int": st.integers(-1000, 1000),
    "bool": st.booleans() | st.none(),
    "mixed": st.integers(-5, 5) | st.text(max_size=3) | st.floats(allow_nan=True) | st.none() | st.booleans(),
    "text": st.text(max_size=30),
    "category": st.sampled_from(["red", "green", "blue"]) | st.none(),
    "date": st.dates().map(str) | st.none() | st.just("not a date"),
}


@st.composite
def user_frames(draw) -> tuple[pd.DataFrame, str]:
    """A table as users bring them, and the name of its target column."""
    n_rows = draw(st.integers(1, 30))
    columns: list[tuple[str, list]] = []
    for _ in range(draw(st.integers(1, 4))):
        used = [c for c, _ in columns]
        name = draw(st.sampled_from(used)) if used and draw(st.integers(0, 11)) == 0 \
            else draw(names.filter(lambda n: n not in used))  # now and then a duplicate name
        kind = draw(st.sampled_from([*cell_kinds, "empty", "constant", "row number"]))
        if kind == "empty":
            values = [None] * n_rows
        elif kind == "constant":
            values = [draw(cell_kinds["mixed"])] * n_rows
        elif kind == "row number":
            values = list(range(n_rows))
        else:
            values = draw(st.lists(cell_kinds[kind], min_size=n_rows, max_size=n_rows))
        columns.append((name, values))
    target_kind = draw(st.sampled_from(["rare classes", "labels", "numbers", "mixed"]))
    if target_kind == "rare classes":  # common classes and one of a single row
        target = draw(st.lists(st.sampled_from(["a", "a", "b", "c"]), min_size=n_rows, max_size=n_rows))
        target[draw(st.integers(0, n_rows - 1))] = "rare"
    elif target_kind == "labels":
        target = draw(st.lists(st.integers(0, 3) | st.none(), min_size=n_rows, max_size=n_rows))
    elif target_kind == "numbers":
        target = draw(st.lists(st.floats(-1e6, 1e6) | st.none(), min_size=n_rows, max_size=n_rows))
    else:
        target = draw(st.lists(cell_kinds["mixed"], min_size=n_rows, max_size=n_rows))
    target_name = draw(names.filter(lambda n: n not in [c for c, _ in columns]))
    columns.append((target_name, target))
    frame = pd.DataFrame({i: values for i, (_, values) in enumerate(columns)})
    frame.columns = [name for name, _ in columns]
    return frame, target_name


def linear_defaults(task: Task) -> tuple[str, dict, str]:
    from tunegraph.tools.ml.models import FAMILIES

    family = "logistic_regression" if task.task_type == "classification" else "ridge"
    return family, FAMILIES[family].default_config(task), "accuracy" if task.task_type == "classification" else "rmse"


@USER_FUZZ
@given(user_frames())
def test_any_user_frame_gives_a_task_that_cross_validates_or_a_clear_error(case):
    """A table TuneGraph accepts must be one its models can learn from: the library defaults of the
    linear model cross-validate on it, whatever its columns and classes held."""
    from tunegraph.tools.trials.evaluation import cross_validate_config

    EXAMPLES["data frame (fuzzed)"] += 1
    frame, target = case
    try:
        task = task_from_frame(frame, target, name="fuzz")
    except TaskError as exc:
        assert str(exc)
        return
    assert len(set(task.X.columns)) == task.X.shape[1] > 0 and len(task.y) == len(task.X)
    assert task.describe() and all(math.isfinite(v) for v in task.meta_features().values())
    family, config, metric = linear_defaults(task)
    result = cross_validate_config(task, family, config, metric=metric, folds=3)
    assert result.status == "ok", (result.error, task.X.dtypes.to_dict(), task.y)


RUNS = Counter()


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=user_frames())
def test_any_user_file_gives_a_result_or_says_why(tmp_path, capsys, case):
    """Through the whole CLI (file, graph, table): a result, or an error message; never a traceback, and a
    run whose trials all failed names the reason."""
    from tunegraph.cli import main

    EXAMPLES["data frame (fuzzed)"] += 1
    frame, target = case
    RUNS["n"] += 1
    data, out = tmp_path / f"user{RUNS['n']}.csv", tmp_path / f"result{RUNS['n']}.json"
    frame.to_csv(data, index=False)
    code = main(["optimize", "--data", str(data), "--target", str(target).strip() or "?", "--model", "knn",
                 "--llm", "none", "--sampler", "random", "--trials", "3", "--folds", "3", "--no-learn", "--quiet",
                 "--study", f"fuzz-{RUNS['n']}", "--out", str(out)])
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code in (0, 1, 2), err
    if code == 2:
        assert "tunegraph: error: " in err
        return
    result = json.loads(out.read_text())
    assert result["n_trials"] >= 1
    if result["n_failed"] == result["n_trials"]:
        assert code == 1 and "no trial succeeded" in err and result["failure_reasons"]
    else:
        assert code == 0 and result["best_value"] is not None
