"""What the benchmark suites share; the suites (``benchmarks/*.py``) are scripts over it.

* ``paths``: where the repository, the results and the data sets are.
* ``results``: raw results as JSON lines, compressed once a benchmark is finished (``.jsonl.gz``).
* ``stats``: NaN-aware means, regrets (normalized, bounded, anytime), rank and significance tests.
* ``machine``: the machine a timing ran on, its load, quiet worker processes, the progress log.
* ``data``: an indexed data set as a task and its metric, as a file the graphs read.
* ``methods``: the catalogue of the compared methods (names, labels, which run once per budget).
* ``optuna_loops``: the plain Optuna methods and objectives (TPE, random, the instant objective).
* ``graph_runs``: the TuneGraph methods: the optimize graph, the recommendation and its replay.
* ``portfolio``: the configuration matrix's snapshot and the portfolio setting chosen without a data set.
* ``report``: the report of ``compare.py`` (tables, tests, plots).

No module here imports a suite, none imports another's underscore names, and the imports have no
circle (tests/test_benchmarks_layout.py).
"""
