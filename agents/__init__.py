"""Agents: graph nodes that read the state, call tools and (maybe) the LLM, and return an update."""
