"""A loopback server speaking the Ollama HTTP API (/api/tags, /api/chat) that injects one fault per mode.

Modes (``FaultyOllama(mode)``); every chat request gets the same fault, so every LLM proposal
of a run meets it:

    ok                a valid answer (for the prompts' shapes: ``configs`` and ``config``)
    refused           /api/tags answers, then the server closes its port: chats get connection refused
    timeout           the server accepts the chat and never answers (until it is closed)
    stalled_stream    the first chunk of the stream arrives, the rest never does
    slow_stream       the answer arrives in small chunks with pauses (slow, but whole)
    http_500          HTTP 500 with Ollama's error body
    truncated_stream  the HTTP body stops mid-line and the connection closes
    truncated_json    a whole HTTP answer whose content is JSON cut off mid-way
    wrong_types       valid JSON, values of the wrong types
    out_of_range      valid JSON, numbers far outside the search space
    injection         valid JSON whose strings are code (``__import__('os').system(...)``)

``requests`` holds every chat request's body, so tests can read the prompts that were sent.
Each fault is injected into every call: a run's LLM calls are the faults it met.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES: tuple[str, ...] = ("ok", "refused", "timeout", "stalled_stream", "slow_stream", "http_500",
                          "truncated_stream", "truncated_json", "wrong_types", "out_of_range", "injection")


def answer_for(mode: str, request: dict[str, Any], marker: str = "") -> str:
    """The assistant's text for ``mode``: fits the requested schema where the mode is not a bad answer."""
    schema = request.get("format") if isinstance(request.get("format"), dict) else {}
    props = schema.get("properties", {})
    config_schema = (props.get("config") or (props.get("configs") or {}).get("items") or {}).get("properties", {})
    if mode in ("ok", "slow_stream"):
        config = {name: _middle(spec) for name, spec in config_schema.items()}
    elif mode == "wrong_types":
        config = {name: ({"nested": [1, 2]} if i % 2 else "a lot") for i, name in enumerate(config_schema)}
    elif mode == "out_of_range":
        config = {name: (spec["enum"][0] if "enum" in spec else 1e12) for name, spec in config_schema.items()}
    elif mode == "injection":
        code = f"__import__('os').system('touch {marker}')"
        config = {name: code for name in config_schema}
        return json.dumps({"configs": [config], "config": config, "reasoning": f"exec({code!r}); eval('1+1')",
                           "ranges": {name: [code, code] for name in config_schema}})
    else:
        config = {name: _middle(spec) for name, spec in config_schema.items()}
    text = json.dumps({"configs": [config], "config": config, "reasoning": f"{mode} answer"})
    if mode == "truncated_json":
        return text[: text.index(":") + 6]  # '{"configs": [{"n': cut mid-key, no repair can complete it
    if mode == "wrong_types":
        return json.dumps({"configs": "all of them", "config": config, "reasoning": ["not", "text"]})
    return text


def _middle(spec: dict[str, Any]) -> Any:
    if "enum" in spec:
        return spec["enum"][-1]
    low, high = spec.get("minimum", 0), spec.get("maximum", 1)
    value = (low + high) / 2
    return int(round(value)) if spec.get("type") == "integer" else value


class FaultyOllama:
    """Serves ``models`` and answers every chat with the fault of ``mode``."""

    def __init__(self, mode: str, models: tuple[str, ...] = ("fault:latest",), marker: str = "",
                 pause_s: float = 0.05):
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; modes: {', '.join(MODES)}")
        self.mode, self.models, self.marker, self.pause_s = mode, list(models), marker, pause_s
        self.requests: list[dict[str, Any]] = []
        self.closed = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path != "/api/tags":
                    return self.send_error(404)
                if outer.mode == "refused":  # the model is listed, but the port is closed before the list arrives
                    outer.close()
                self._send(200, {"models": [{"name": m, "model": m, "size": 1, "digest": "x",
                                             "modified_at": "2026-01-01T00:00:00Z", "details": {}}
                                            for m in outer.models]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                if self.path != "/api/chat":
                    return self.send_error(404)
                mode = outer.mode
                if mode == "timeout":
                    outer.closed.wait(60)
                    return self.close_connection_now()
                if mode == "http_500":
                    return self._send(500, {"error": "llama runner process has terminated: exit status 2"})
                text = answer_for(mode, body, outer.marker)
                if mode == "truncated_stream":
                    line = json.dumps(self._chunk(body, text, done=True)).encode()
                    return self._raw(line[: len(line) // 2], length=len(line) + 1)
                pieces = [text[i:i + 8] for i in range(0, len(text), 8)] if mode in ("slow_stream", "stalled_stream") \
                    else [text]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in pieces:
                    self._write_chunk(json.dumps(self._chunk(body, piece, done=False)) + "\n")
                    if mode == "stalled_stream":
                        outer.closed.wait(60)
                        return self.close_connection_now()
                    if mode == "slow_stream":
                        time.sleep(outer.pause_s)
                self._write_chunk(json.dumps({**self._chunk(body, "", done=True), "prompt_eval_count": 11,
                                              "eval_count": 7}) + "\n")
                self.wfile.write(b"0\r\n\r\n")

            def close_connection_now(self):
                self.close_connection = True

            @staticmethod
            def _chunk(body, content, done):
                return {"model": body.get("model"), "created_at": "2026-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": content}, "done": done,
                        **({"done_reason": "stop"} if done else {})}

            def _write_chunk(self, text):
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _raw(self, data: bytes, length: int):
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Content-Length", str(length))  # promises more than it sends
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                self.close_connection = True

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._closed_once = threading.Lock()

    def close(self) -> None:
        """Stop serving and close the port (idempotent); stalled handlers give up."""
        if not self._closed_once.acquire(blocking=False):
            return
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultyOllama:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
