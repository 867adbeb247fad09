"""Deterministic machinery, usable without any LLM; imports neither agents nor graphs."""
