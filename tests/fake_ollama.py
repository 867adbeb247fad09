"""A loopback HTTP server speaking enough of the Ollama API (/api/tags, /api/chat) for tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOllama:
    """Serves ``models`` and answers every chat with the next of ``replies`` (the last repeats)."""

    def __init__(self, models: list[str], replies: list[str]):
        self.models, self.replies, self.requests = models, list(replies), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path == "/api/tags":
                    self._send({"models": [{"name": m, "model": m, "size": 1, "digest": "x",
                                            "modified_at": "2026-01-01T00:00:00Z", "details": {}}
                                           for m in outer.models]})
                else:
                    self.send_error(404)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                if self.path != "/api/chat":
                    return self.send_error(404)
                reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                self._send({"model": body.get("model"), "created_at": "2026-01-01T00:00:00Z",
                            "message": {"role": "assistant", "content": reply}, "done": True,
                            "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 7}, ndjson=True)

            def _send(self, payload, ndjson=False):
                data = (json.dumps(payload) + ("\n" if ndjson else "")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson" if ndjson else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeOllama:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
