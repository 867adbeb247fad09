"""FittedModel: refitted on every row, raw rows in, original labels out, one file that loads anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

from tunegraph.errors import InputError
from tunegraph.tools.ml.cash import join
from tunegraph.tools.ml.fitted import (
    METADATA_FILE,
    ColumnWarning,
    FittedModel,
    ModelVersionWarning,
    fit_model,
    load_model,
    predictions_frame,
)
from tunegraph.tools.ml.models import FAMILIES
from tunegraph.tools.ml.tasks import load_task, read_table

pytestmark = pytest.mark.filterwarnings("ignore::tunegraph.tools.ml.fitted.ColumnWarning")

SMALL = {  # quick configurations: this file fits some 30 models
    "xgboost": {"n_estimators": 10, "max_depth": 3},
    "lightgbm": {"n_estimators": 10, "num_leaves": 7, "min_child_samples": 5},
    "random_forest": {"n_estimators": 10, "max_depth": 5},
    "extra_trees": {"n_estimators": 10, "max_depth": 5},
    "hist_gradient_boosting": {"max_iter": 10},
    "logistic_regression": {"C": 1.0},
    "ridge": {"alpha": 1.0},
    "svm": {"C": 1.0},
    "knn": {"n_neighbors": 5},
    "mlp": {"hidden_units": 16, "n_layers": 1, "epochs": 3},
}
CASES = [(f, t) for t in ("classification", "regression") for f, fam in FAMILIES.items() if t in fam.task_types]


def user_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A user's table: an identifier, dates as text, a category and numbers with gaps, two targets."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro", "team"], n).astype(object)
    age = rng.integers(18, 80, n).astype(float)
    income = rng.normal(50, 15, n).round(2)
    days = pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    signup = (pd.Timestamp("2022-01-01") + days).strftime("%Y-%m-%d").to_numpy(dtype=object)
    score = income / 10 + (plan == "pro") * 2 + rng.normal(0, 1, n)
    plan[::17], age[::13], signup[::19] = None, np.nan, None
    return pd.DataFrame({"customer_id": np.arange(1000, 1000 + n), "signup": signup, "plan": plan, "age": age,
                         "income": income, "churn": np.where(score > 6.5, "yes", "no"), "spend": (score * 10).round(2)})


def user_tasks(directory) -> dict:
    """task type -> (Task loaded from a CSV, the raw table as read back)."""
    out = {}
    frame = user_frame()
    for kind, target, other in (("classification", "churn", "spend"), ("regression", "spend", "churn")):
        path = directory / f"{kind}.csv"
        frame.drop(columns=[other]).to_csv(path, index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "dropped customer_id", "expanded signup"
            out[kind] = (load_task(data=path, target=target), read_table(path))
    return out


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return user_tasks(tmp_path_factory.mktemp("data"))


def odd_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """A few training rows, then one with an unseen category, a bad date and every number missing."""
    odd = {c: [np.nan] for c in raw.columns}
    odd.update(customer_id=[1], plan=["enterprise"], signup=["not a date"])
    return pd.concat([raw.head(30), pd.DataFrame(odd)], ignore_index=True)


@pytest.mark.parametrize("family,task_type", CASES)
def test_every_family_round_trips(family, task_type, tasks, tmp_path):
    task, raw = tasks[task_type]
    model = fit_model(task, family, SMALL[family], seed=0)
    rows = odd_rows(raw)
    before = model.predict(rows)
    assert model.last_check.unseen == {"plan": ["enterprise"]}
    loaded = load_model(model.save(tmp_path / "model.tgm"))
    assert isinstance(loaded, FittedModel) and loaded.info.family == family
    np.testing.assert_array_equal(loaded.predict(rows), before)
    if task_type == "classification":
        assert set(before) <= {"no", "yes"}
        proba = model.predict_proba(rows)
        assert proba.shape == (len(rows), 2) and np.allclose(proba.sum(axis=1), 1)
        np.testing.assert_array_equal(loaded.predict_proba(rows), proba)
    else:
        assert before.dtype == float and np.isfinite(before).all()


def test_new_rows_get_exactly_the_training_features(tasks):
    task, raw = tasks["classification"]
    model = fit_model(task, "logistic_regression", {})
    pd.testing.assert_frame_equal(model.features(raw), task.X)  # id dropped, dates expanded, as at load
    codes = model.pipeline.predict(task.X)
    np.testing.assert_array_equal(model.predict(raw), np.asarray(task.classes)[codes])


def test_rows_read_from_a_small_file_predict_as_in_the_full_table(tasks, tmp_path):
    task, raw = tasks["classification"]
    model = fit_model(task, "hist_gradient_boosting", SMALL["hist_gradient_boosting"])
    raw.iloc[[1, 2, 3]].to_csv(tmp_path / "three.csv", index=False)  # no gaps: 'age' reads as integers
    three = read_table(tmp_path / "three.csv")
    np.testing.assert_allclose(model.predict_proba(three), model.predict_proba(raw)[1:4])


def test_category_codes_that_a_new_file_reads_as_numbers(tmp_path):
    n = 60
    pd.DataFrame({"code": (["1", "2", "x"] * n)[:n], "size": np.arange(n) % 7,
                  "label": ["a", "b"] * (n // 2)}).to_csv(tmp_path / "train.csv", index=False)
    model = fit_model(load_task(data=tmp_path / "train.csv", target="label"), "knn", SMALL["knn"])
    (tmp_path / "new.csv").write_text("code,size\n1,3\n2,4\n,5\n")  # read as 1.0, 2.0, NaN
    X = model.features(read_table(tmp_path / "new.csv"))
    assert X["code"].tolist()[:2] == ["1", "2"] and X["code"].isna().tolist() == [False, False, True]
    assert model.last_check.unseen == {}


def test_missing_columns_are_named(tasks):
    task, raw = tasks["classification"]
    model = fit_model(task, "knn", SMALL["knn"])
    with pytest.raises(InputError, match='lack 2 column.*"signup", "plan"'):
        model.predict(raw.drop(columns=["plan", "signup", "customer_id"]))


def test_extra_columns_and_the_target_are_ignored_and_listed(tasks):
    task, raw = tasks["classification"]
    model = fit_model(task, "knn", SMALL["knn"])
    plain = model.predict(raw.drop(columns=["churn", "customer_id"]))
    assert model.last_check.ignored == () and model.last_check.target is None
    extra = raw.assign(note="x")
    with pytest.warns(ColumnWarning, match='"customer_id", "note".*target column "churn"'):
        np.testing.assert_array_equal(model.predict(extra), plain)
    assert model.last_check.ignored == ("customer_id", "note") and model.last_check.target == "churn"


def test_unseen_categories_and_missing_values_are_handled_as_in_training(tasks):
    task, raw = tasks["classification"]
    model = fit_model(task, "logistic_regression", {})
    rows = odd_rows(raw).tail(1)
    with pytest.warns(ColumnWarning, match='"plan": "enterprise"'):
        proba = model.predict_proba(rows)
    assert np.isfinite(proba).all() and np.isclose(proba.sum(), 1)
    encoded = model.pipeline.named_steps["prep"].transform(model.features(rows))
    plan = [i for i, n in enumerate(model.pipeline.named_steps["prep"].get_feature_names_out()) if "plan" in n]
    assert np.isfinite(encoded).all() and (encoded[0, plan] == 0).all()  # the one-hot encoder's unknown: zeros


def test_text_in_a_numeric_column_is_an_input_error(tasks):
    task, raw = tasks["regression"]
    model = fit_model(task, "ridge", {})
    with pytest.raises(InputError, match='"age" holds numbers.*\'old\''):
        model.predict(raw.head(3).assign(age=["old", 30, 40]))


def test_builtin_data_and_integer_labels(iris):
    model = fit_model(iris, "knn", {"n_neighbors": 5}, metric="accuracy")
    frame = iris.X.assign(target=iris.y)
    out = predictions_frame(model, frame)
    assert list(out.columns) == list(frame.columns) + ["prediction", "proba_0", "proba_1", "proba_2"]
    assert (out["prediction"] == iris.y).mean() > 0.9


def test_predictions_frame(tasks):
    for kind, (task, raw) in tasks.items():
        model = fit_model(task, "random_forest", SMALL["random_forest"])
        out = predictions_frame(model, raw)
        probas = [c for c in out.columns if c.startswith("proba_")]
        assert list(out.columns[: raw.shape[1]]) == list(raw.columns) and len(out) == len(raw)
        np.testing.assert_array_equal(out["prediction"].to_numpy(), model.predict(raw))
        if kind == "classification":
            assert probas == ["proba_no", "proba_yes"] and np.allclose(out[probas].sum(axis=1), 1)
        else:
            assert probas == []
            with pytest.raises(InputError, match="regression"):
                model.predict_proba(raw)


def test_metadata_beside_the_model(tasks, tmp_path):
    task, _ = tasks["classification"]
    config = join("xgboost", SMALL["xgboost"])  # a configuration of the search across families
    model = fit_model(task, "auto", config, seed=3, metric="roc_auc", cv_score=0.91, study_name="churn-1")
    with zipfile.ZipFile(model.save(tmp_path / "m.tgm")) as archive:
        meta = json.loads(archive.read(METADATA_FILE))
    assert meta["format"] == "tunegraph-model" and meta["family"] == "xgboost" and meta["config"] == SMALL["xgboost"]
    assert (meta["task_type"], meta["target"], meta["classes"]) == ("classification", "churn", ["no", "yes"])
    assert (meta["metric"], meta["cv_score"], meta["study_name"], meta["seed"]) == ("roc_auc", 0.91, "churn-1", 3)
    assert meta["features"]["plan"] in ("object", "str") and meta["features"]["signup_year"] == "float64"
    assert meta["columns"]["dropped"] == ["customer_id"] and "signup" in meta["columns"]["dates"]
    assert meta["versions"]["scikit-learn"] == sklearn.__version__
    assert {"python", "tunegraph", "xgboost", "lightgbm"} <= set(meta["versions"])
    assert meta["libraries"] == ["tunegraph", "scikit-learn", "xgboost"]


def tamper(path, **versions) -> None:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(files[METADATA_FILE])
    meta["versions"].update(versions)
    files[METADATA_FILE] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def test_other_library_versions_warn_naming_both(tasks, tmp_path):
    import xgboost

    task, raw = tasks["classification"]
    path = fit_model(task, "xgboost", SMALL["xgboost"]).save(tmp_path / "m.tgm")
    tamper(path, **{"scikit-learn": "0.0.1", "xgboost": "0.0.2", "lightgbm": "0.0.3"})
    with pytest.warns(ModelVersionWarning) as caught:
        model = load_model(path)
    messages = [str(w.message) for w in caught if w.category is ModelVersionWarning]
    assert len(messages) == 2  # lightgbm: not used by this model
    assert f"scikit-learn 0.0.1, but scikit-learn {sklearn.__version__} is installed" in messages[0]
    assert f"xgboost 0.0.2, but xgboost {xgboost.__version__} is installed" in messages[1]
    assert model.predict(raw).shape == (len(raw),)


def test_same_versions_do_not_warn(tasks, tmp_path):
    task, _ = tasks["regression"]
    path = fit_model(task, "lightgbm", SMALL["lightgbm"]).save(tmp_path / "m.tgm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path)


def test_files_that_are_not_models(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    joblib.dump({"model": 1}, tmp_path / "other.joblib")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with zipfile.ZipFile(tmp_path / "foreign.zip", "w") as archive:
        archive.writestr(METADATA_FILE, json.dumps({"format": "something-else"}))
    for name in ("data.csv", "other.joblib", "other.zip", "foreign.zip"):
        with pytest.raises(InputError, match="is not a TuneGraph model file"):
            load_model(tmp_path / name)
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "absent.tgm")


FRESH = """
import json, sys, numpy as np
from tunegraph.tools.ml.fitted import load_model
from tunegraph.tools.ml.tasks import read_table
rows = read_table(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    model = load_model(path)
    out[path] = {"predict": model.predict(rows).tolist(),
                 "proba": model.predict_proba(rows).tolist() if model.task_type == "classification" else None}
print(json.dumps(out))
"""


def test_loads_in_a_fresh_process(tasks, tmp_path):
    rows = odd_rows(tasks["classification"][1])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows = read_table(tmp_path / "rows.csv")
    models = {str(fit_model(tasks[kind][0], family, SMALL[family]).save(tmp_path / f"{family}.tgm")): kind
              for family, kind in (("xgboost", "classification"), ("mlp", "regression"))}
    done = subprocess.run([sys.executable, "-c", FRESH, str(tmp_path / "rows.csv"), *models], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    for path, kind in models.items():
        model = load_model(path)
        if kind == "classification":
            assert answers[path]["predict"] == model.predict(rows).tolist()
            np.testing.assert_allclose(answers[path]["proba"], model.predict_proba(rows), rtol=1e-12)
        else:
            np.testing.assert_allclose(answers[path]["predict"], model.predict(rows), rtol=1e-9)  # churn: ignored
