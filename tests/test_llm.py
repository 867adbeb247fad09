"""The LLM factory: specs, errors, per-call records; Ollama through a loopback server, llama.cpp for real."""

from __future__ import annotations

import json

import pytest

from tests.fake_ollama import FakeOllama
from tunegraph.tools.llm.client import LLMConfigError, embedded_model_path, make_llm


def test_none_means_no_llm():
    assert make_llm("none") is None


@pytest.mark.parametrize("spec, message", [
    ("gpt4:turbo", "unknown LLM provider"), ("ollama:", "name the Ollama model"),
    ("llamacpp:/nowhere/model.gguf", "GGUF file not found"),
])
def test_bad_specs(spec, message):
    with pytest.raises(LLMConfigError, match=message):
        make_llm(spec)


def test_ollama_through_its_http_api(monkeypatch):
    answer = json.dumps({"config": {"x": 1}, "reasoning": "ok"})
    with FakeOllama(["qwen2.5:1.5b"], [answer]) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        llm = make_llm("ollama:qwen2.5:1.5b")
        assert llm.provider == "ollama"
        schema = {"type": "object", "properties": {"config": {"type": "object"}}}
        assert json.loads(llm.complete_json("system", "user", schema, max_tokens=50)) == {"config": {"x": 1}, "reasoning": "ok"}
        assert server.requests[-1]["format"] == schema  # the answer's shape is constrained server-side
        assert llm.calls[0].prompt_tokens == 11 and llm.calls[0].completion_tokens == 7
        assert llm.stats()["calls"] == 1 and llm.stats()["latency_s"] > 0
        # 'auto' picks Ollama when it answers and has the model ...
        assert make_llm("auto").provider == "ollama"


def test_ollama_without_the_model_lists_what_it_has(monkeypatch):
    with FakeOllama(["llama3.2:1b"], ["{}"]) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        with pytest.raises(LLMConfigError, match="has no model 'qwen2.5:1.5b'; it has: llama3.2:1b"):
            make_llm("ollama:qwen2.5:1.5b")
        assert make_llm("auto").provider == "llamacpp"  # ... and the embedded model when it lacks it


@pytest.mark.llm
def test_embedded_model_answers_json_offline():
    assert embedded_model_path().is_file()
    llm = make_llm("embedded", max_tokens=60)
    schema = {"type": "object", "properties": {"max_depth": {"type": "integer"}}, "required": ["max_depth"]}
    text = llm.complete_json("Reply in JSON.", "Give a max_depth for a decision tree.", schema, max_tokens=30)
    assert isinstance(json.loads(text)["max_depth"], int)  # grammar-constrained: always this shape
    call = llm.calls[-1]
    assert call.ok and call.completion_tokens > 0 and call.latency_s > 0


def test_llama_threads_follows_environment(monkeypatch):
    from tunegraph.tools.llm.client import llama_threads

    monkeypatch.setenv("TUNEGRAPH_LLM_THREADS", "1")
    assert llama_threads() == 1
    monkeypatch.setenv("TUNEGRAPH_LLM_THREADS", "zero")
    assert llama_threads() >= 1


def test_llama_threads_leave_busy_cores_alone(monkeypatch):
    """Unset, the default is the cores the load average leaves idle: OpenMP threads that spin
    against other work make a call minutes long (benchmarks/llm_contention.py)."""
    from tunegraph.tools.llm.client import llama_threads

    monkeypatch.delenv("TUNEGRAPH_LLM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    for load, threads in ((0.1, 8), (2.6, 5), (7.9, 1), (30.0, 1)):
        monkeypatch.setattr("os.getloadavg", lambda load=load: (load, load, load))
        assert llama_threads() == threads
    def no_load_average():
        raise OSError("not on this platform")
    monkeypatch.setattr("os.getloadavg", no_load_average)
    assert llama_threads() == 8
