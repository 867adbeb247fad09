"""Graphs: the compiled LangGraph workflows, their state and context schemas, and the CLI."""
