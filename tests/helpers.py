"""Test doubles for failure injection: a scripted chat model behind the real LLMClient."""

from __future__ import annotations

from itertools import chain, repeat

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tunegraph.tools.llm.client import LLMClient


def scripted_llm(*answers: str, then: str | None = None) -> LLMClient:
    """An LLMClient whose model replies with ``answers`` in order, then ``then`` forever."""
    replies = chain((AIMessage(a) for a in answers), repeat(AIMessage(then)) if then is not None else ())
    return LLMClient(GenericFakeChatModel(messages=replies), "scripted", "fake")
