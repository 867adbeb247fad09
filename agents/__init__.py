"""Agents: graph nodes that read the state, call tools and (maybe) the LLM, and return an update."""

if __name__ != "tunegraph.agents":  # from the repository root, "import agents" would load a second copy of every module
    raise ImportError("import tunegraph.agents, not agents: the repository's top-level folders are tunegraph's sub-packages")

