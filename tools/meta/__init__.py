"""Meta-knowledge: the meta-dataset, the configuration matrix and portfolios, the meta-learner, retrieval."""
