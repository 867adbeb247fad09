"""Data that ships with TuneGraph: the meta-dataset, the configuration matrix, the fitted meta-learner and
langgraph.json (see README.md here). Found with ``importlib.resources``, so they work from a wheel too."""

if __name__ != "tunegraph.data":  # from the repository root, "import data" would load a second copy of every module
    raise ImportError("import tunegraph.data, not data: the repository's top-level folders are tunegraph's sub-packages")

