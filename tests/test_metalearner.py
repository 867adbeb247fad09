"""The meta-learner on a small real fixture: training, leave-one-out evaluation, candidates, SHAP evidence."""

from __future__ import annotations

import numpy as np
import pytest

from tunegraph.tools.meta import metadataset
from tunegraph.tools.meta.metalearner import MetaLearner, MetaLearnerError, leave_one_dataset_out, sample_config
from tunegraph.tools.ml.models import get_family
from tunegraph.tools.ml.tasks import load_task, task_from_frame
from tunegraph.tools.trials.evaluation import cross_validate_config, default_metric, get_metric


@pytest.fixture(scope="module")
def small_metadataset():
    """Real cross-validated experiments: 4 classification tasks x 2 families x 8 configurations."""
    from sklearn.datasets import load_breast_cancer, load_iris, load_wine

    rng = np.random.default_rng(0)
    frames = {"iris": load_iris(as_frame=True).frame, "wine": load_wine(as_frame=True).frame,
              "cancer": load_breast_cancer(as_frame=True).frame.iloc[:300, list(range(8)) + [-1]]}
    frames["cancer_small"] = frames["cancer"].sample(120, random_state=1)
    records = []
    for name, frame in frames.items():
        task = task_from_frame(frame, "target", name=name)
        metric = get_metric(default_metric(task), task)
        for family in ("knn", "logistic_regression"):
            fam = get_family(family)
            space = fam.search_space(task.task_type)
            configs = [(fam.default_config(task), "default")] + [(sample_config(space, rng), "random") for _ in range(7)]
            for config, source in configs:
                result = cross_validate_config(task, family, config, metric.name, folds=3)
                if result.ok:
                    records.append(metadataset.make_record(
                        task=name, task_type=task.task_type, metric=metric.name, direction=metric.direction,
                        meta_features=task.meta_features(), family=family, params=config, score_mean=result.mean,
                        score_std=result.std, fit_time_s=result.fit_time, n_folds=3, source=source))
    return metadataset.records_to_frame(records)


def test_fit_predict_save_and_reload(small_metadataset, tmp_path):
    learner = MetaLearner(n_estimators=50).fit(small_metadataset)
    mf = load_task(dataset="wine").meta_features()
    scores, times = learner.predict(mf, "knn", "classification", [{"n_neighbors": 5, "weights": "uniform", "p": 2}])
    assert scores.shape == (1,) and np.isfinite(scores).all() and (times > 0).all()
    learner.save(tmp_path / "ml")
    again = MetaLearner.load(tmp_path / "ml", small_metadataset)
    assert np.allclose(again.predict(mf, "knn", "classification", [{"n_neighbors": 5, "weights": "uniform", "p": 2}])[0], scores)
    with pytest.raises(MetaLearnerError, match="another meta-dataset"):
        MetaLearner.load(tmp_path / "ml", small_metadataset.iloc[:-1])
    retrained = MetaLearner.load_or_fit(tmp_path / "ml", small_metadataset.iloc[:-1])
    assert retrained.fingerprint == metadataset_fingerprint(small_metadataset.iloc[:-1])
    # a damaged cache (a crash mid-write, a full disk) is refitted, never a crash
    (tmp_path / "ml" / "score_model.json").write_text('{"learner": ')
    with pytest.raises(MetaLearnerError, match="cannot be read"):
        MetaLearner.load(tmp_path / "ml", small_metadataset.iloc[:-1])
    repaired = MetaLearner.load_or_fit(tmp_path / "ml", small_metadataset.iloc[:-1])
    assert np.isfinite(repaired.predict(mf, "knn", "classification", [{"n_neighbors": 3, "weights": "uniform", "p": 1}])[0]).all()
    assert MetaLearner.load(tmp_path / "ml", small_metadataset.iloc[:-1]).fingerprint == repaired.fingerprint
    assert not [p for p in (tmp_path / "ml").iterdir() if ".tmp" in p.name]


def metadataset_fingerprint(frame):
    from tunegraph.tools.meta.metalearner import fingerprint

    return fingerprint(frame)


def test_leave_one_dataset_out_on_a_small_fixture(small_metadataset):
    result = leave_one_dataset_out(small_metadataset, n_estimators=50)
    assert sorted(result.task) == ["cancer", "cancer_small", "iris", "wine"]
    assert result["regret_top1"].between(0, 1).all() and result["regret_random"].between(0, 1).all()
    assert result["spearman"].dropna().between(-1, 1).all()
    # on these tasks the learner's pick should not be worse than a random configuration on average
    assert result["regret_top1"].mean() <= result["regret_random"].mean() + 0.05


def test_candidates_are_ranked_and_explained(small_metadataset):
    learner = MetaLearner(n_estimators=50).fit(small_metadataset)
    mf = load_task(dataset="wine").meta_features()
    top = learner.candidates(mf, "classification", ["knn", "logistic_regression"], n_per_family=50, top=5,
                             similar=[("iris", "knn", {"n_neighbors": 7, "weights": "distance", "p": 1})])
    assert len(top) == 5
    assert [c.rank_score for c in top] == sorted((c.rank_score for c in top), reverse=True)
    fast = learner.candidates(mf, "classification", ["knn", "logistic_regression"], n_per_family=50, top=5,
                              time_weight=10.0)
    assert np.mean([c.predicted_fit_time_s for c in fast]) <= np.mean([c.predicted_fit_time_s for c in top]) + 1e-9
    evidence = learner.explain(top[0], mf, "classification")
    assert evidence.contributions and abs(evidence.prediction - top[0].predicted_score) < 1e-3
    sentences = evidence.sentences(3)
    assert len(sentences) == min(3, len(evidence.contributions))
    assert all(("raises" in s or "lowers" in s) and "predicted score by" in s for s in sentences)
    importance = learner.global_importance(small_metadataset)
    assert importance and importance[0][1] >= importance[-1][1]
    with pytest.raises(MetaLearnerError, match="do not do classification"):
        learner.candidates(mf, "classification", ["ridge"])
