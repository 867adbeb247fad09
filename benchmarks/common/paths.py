"""Where the repository, the benchmarks' results, the data sets and the configuration matrix are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"  # a folder with index.json
SHIPPED_METADATASET = ROOT / "data" / "metadataset.parquet"
# the matrix being built (benchmarks/matrix/README.md); once shipped, data/config_matrix.parquet is used
BUILD_MATRIX = BENCHMARKS / "matrix" / "config_matrix.parquet"
