"""Models and tasks: data sets and meta-features, model families, search spaces."""
