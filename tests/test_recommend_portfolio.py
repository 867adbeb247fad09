"""recommend from the greedy portfolio of a real (small) configuration matrix, and the shipped meta-learner."""

from __future__ import annotations

import json

import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

from tests.test_metalearner import small_metadataset  # noqa: F401  (fixture)
from tunegraph.context import Context
from tunegraph.graphs.recommend import graph
from tunegraph.tools.meta import config_matrix, knowledge, metadataset
from tunegraph.tools.meta.metalearner import MetaLearner
from tunegraph.tools.meta.portfolio import task_portfolio


@pytest.fixture(scope="module")
def shipped(small_metadataset, tmp_path_factory):  # noqa: F811
    """A meta-dataset, its matrix (knn and logistic regression pools, 3 tasks) and the fitted learner, as shipped."""
    root = tmp_path_factory.mktemp("shipped")
    folder = root / "datasets"
    folder.mkdir()
    frames = {"iris": load_iris(as_frame=True).frame, "wine": load_wine(as_frame=True).frame,
              "cancer": load_breast_cancer(as_frame=True).frame.iloc[:300, list(range(8)) + [-1]]}
    index = {}
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
        index[name] = {"file": f"{name}.csv", "target": "target", "task": "classification", "rows": len(frame)}
    (folder / "index.json").write_text(json.dumps(index))
    meta = metadataset.save(small_metadataset[small_metadataset.task.isin(frames)], root / "data" / "metadataset.parquet")
    out = root / "data" / "config_matrix.parquet"
    config_matrix.build_matrix(folder, out, families=("knn", "linear"), pool_from=meta, min_configs=6, folds=3)
    knowledge.fit_shipped_learner(meta, out)
    return meta, out


@pytest.fixture
def use_shipped(shipped, monkeypatch):
    meta, matrix = shipped
    monkeypatch.setenv("TUNEGRAPH_METADATASET", str(meta))
    monkeypatch.delenv("TUNEGRAPH_MATRIX", raising=False)  # found beside the meta-dataset, as installed
    knowledge.forget()
    yield config_matrix.load_matrix(matrix)
    knowledge.forget()


def test_recommendation_is_the_first_portfolio_member_with_its_record(use_shipped, monkeypatch):
    def no_fit(self, frame):
        raise AssertionError("the shipped meta-learner should have been used")

    monkeypatch.setattr(MetaLearner, "fit", no_fit)
    out = graph.invoke({"dataset": "wine"}, context=Context(llm="none"))
    final, evidence = out["final"], out["evidence"]
    assert final["source"] == "portfolio" and evidence["ranked_by"] == "portfolio"
    first = evidence["candidates"][0]
    assert (final["family"], final["params"]) == (first["family"], first["params"])
    assert first["origin"].startswith("portfolio:") and first["shap"]
    record = first["record"]
    assert record["n_similar"] == Context().n_similar and 0 <= record["near_best"] <= record["n_similar"]
    assert "within 1% of the best on" in final["justification"]
    assert final["judgement"]["passed"], final["judgement"]["critique"]
    # the order of the candidates is the greedy order of the task's portfolio
    assert [c["portfolio_rank"] for c in evidence["candidates"]] == list(range(1, len(evidence["candidates"]) + 1))


def test_held_out_task_leaves_the_matrix_and_its_best_leaves_the_pool(use_shipped):
    matrix = use_shipped
    own_best = set(matrix.loc[matrix.origin == "best:wine", "config_id"])
    assert own_best  # the pool holds wine's best configurations
    kb = knowledge.open_knowledge(exclude_tasks=("wine",))
    assert "wine" not in set(kb.matrix.task) and not own_best & set(kb.matrix.config_id)
    out = graph.invoke({"dataset": "wine", "exclude_tasks": ["wine"]}, context=Context(llm="none"))
    assert all("best:wine" not in c["origin"] for c in out["evidence"]["candidates"])
    assert "wine" not in {s["task"] for s in out["evidence"]["similar_tasks"]}


def test_families_restrict_the_portfolio_and_without_a_match_the_meta_learner_ranks(use_shipped):
    out = graph.invoke({"dataset": "wine", "families": ["knn"]}, context=Context(llm="none"))
    assert {c["family"] for c in out["evidence"]["candidates"]} == {"knn"}
    members = task_portfolio(use_shipped[use_shipped.family == "knn"], "classification", k=3)
    assert len(members) == 3 and all(m.family == "knn" for m in members)
    other = graph.invoke({"dataset": "wine", "families": ["random_forest"]}, context=Context(llm="none"))
    assert other["evidence"]["ranked_by"] == "meta-learner"  # no random_forest pool in this matrix
    assert other["final"]["family"] == "random_forest"
