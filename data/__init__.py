"""Data that ships with TuneGraph: the meta-dataset, the configuration matrix, the fitted meta-learner and
langgraph.json (see README.md here). Found with ``importlib.resources``, so they work from a wheel too."""
