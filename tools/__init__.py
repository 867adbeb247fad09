"""Deterministic machinery, usable without any LLM; imports neither agents nor graphs."""

if __name__ != "tunegraph.tools":  # from the repository root, "import tools" would load a second copy of every module
    raise ImportError("import tunegraph.tools, not tools: the repository's top-level folders are tunegraph's sub-packages")

