"""Graphs: the compiled LangGraph workflows (optimize, recommend, chat). They only wire nodes; the
nodes are the agents' functions, and the command line is tunegraph.cli."""

if __name__ != "tunegraph.graphs":  # from the repository root, "import graphs" would load a second copy of every module
    raise ImportError("import tunegraph.graphs, not graphs: the repository's top-level folders are tunegraph's sub-packages")

