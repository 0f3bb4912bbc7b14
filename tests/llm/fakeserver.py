"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for the tests.

It records every request (path, headers, raw body) and answers with scripted
replies.  The real ``openai`` client talks to it over real HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Action = Callable[["Handler", dict[str, Any]], None]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.raw)


def _completion(content: str | None, model: str = "fake-model", finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def finding_ids(body: dict[str, Any]) -> list[str]:
    """The ids the request asks to explain (parsed back out of the user message)."""
    from assistant.llm.prompt_text import unwrap_data

    payload = unwrap_data(body["messages"][-1]["content"])
    return [f["id"] for f in payload["findings"]]


def explanations_for(body: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "explanations": [
            {
                "finding_id": fid,
                "summary": f"Summary for {fid}.",
                "likely_cause": "The likely cause.",
                "fix_steps": ["First step.", "Second step."],
                "retry_may_help": False,
                "confidence": "medium",
                **overrides,
            }
            for fid in finding_ids(body)
        ]
    }


# -- actions -----------------------------------------------------------------
def send_json(h: "Handler", status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(doc).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)


def explain_all(**overrides: Any) -> Action:
    """A valid structured reply explaining every requested finding."""
    return lambda h, body: send_json(h, 200, _completion(json.dumps(explanations_for(body, **overrides))))


def content(text: str, finish: str = "stop") -> Action:
    return lambda h, body: send_json(h, 200, _completion(text, finish=finish))


def content_from(fn: Callable[[dict[str, Any]], str]) -> Action:
    return lambda h, body: send_json(h, 200, _completion(fn(body)))


def status(code: int, message: str = "scripted error") -> Action:
    def act(h: "Handler", body: dict[str, Any]) -> None:
        send_json(h, code, {"error": {"message": message, "type": "test", "code": None}}, {"retry-after-ms": "5"})

    return act


def raw_body(data: bytes, ctype: str = "application/json") -> Action:
    def act(h: "Handler", body: dict[str, Any]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return act


def slow(seconds: float, then: Action) -> Action:
    def act(h: "Handler", body: dict[str, Any]) -> None:
        time.sleep(seconds)
        try:
            then(h, body)
        except OSError:
            pass  # the client gave up

    return act


def trickle(interval: float, *, stream: bool = False, max_s: float = 90.0) -> Action:
    """A reply that never ends: one byte every ``interval`` seconds (a per-read timeout never fires)."""

    def act(h: "Handler", body: dict[str, Any]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        if not stream:
            h.send_header("Content-Length", "1000000")
        h.end_headers()
        data = (b"data: " if stream else b"") + b" " * 1_000_000
        end = time.monotonic() + max_s
        try:
            h.wfile.flush()
            for i in range(len(data)):
                if time.monotonic() > end:
                    break
                h.wfile.write(data[i : i + 1])
                h.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client gave up

    return act


def endless(*, stream: bool = False, sent: list[int] | None = None, max_s: float = 60.0) -> Action:
    """A reply that never ends, as fast as the client takes it (``sent`` gets the bytes written)."""

    def act(h: "Handler", body: dict[str, Any]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream" if stream else "application/json")
        if not stream:
            h.send_header("Content-Length", str(1 << 40))
        h.end_headers()
        if stream:
            piece = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1_700_000_000,
                     "model": "fake-model", "choices": [{"index": 0, "delta": {"content": "x" * 64},
                                                         "finish_reason": None}]}
            block = f"data: {json.dumps(piece)}\n\n".encode() * 64
        else:
            block = b'{"choices": [{"message": {"content": "' + b"x" * 65536
        end = time.monotonic() + max_s
        n = 0
        try:
            while time.monotonic() < end:
                h.wfile.write(block)
                n += len(block)
                if sent is not None:
                    sent[0] = n
        except OSError:
            pass  # the client gave up

    return act


def status_retry_after(code: int, seconds: float) -> Action:
    """An error that asks the client to wait ``seconds`` before retrying."""

    def act(h: "Handler", body: dict[str, Any]) -> None:
        send_json(h, code, {"error": {"message": "busy", "type": "test", "code": None}}, {"retry-after": f"{seconds:g}"})

    return act


def reject_json_schema(then: Action, *, also_json_object: bool = False) -> Action:
    """400 for response_format json_schema (and JSON mode if asked), like servers without them."""

    def act(h: "Handler", body: dict[str, Any]) -> None:
        rf = (body.get("response_format") or {}).get("type")
        if rf == "json_schema" or (also_json_object and rf == "json_object"):
            send_json(h, 400, {"error": {"message": f"response_format {rf} is not supported", "type": "invalid_request_error"}})
        else:
            then(h, body)

    return act


def sse(chunks: list[str] | Callable[[dict[str, Any]], list[str]], delay: float = 0.0) -> Action:
    """A streamed reply: one chat.completion.chunk per text piece, then [DONE]."""

    def act(h: "Handler", body: dict[str, Any]) -> None:
        pieces = chunks(body) if callable(chunks) else chunks
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        try:
            for i, piece in enumerate([None, *pieces]):
                delta = {"role": "assistant", "content": ""} if piece is None else {"content": piece}
                chunk = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": "fake-model",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                h.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                h.wfile.flush()
                if delay and i:
                    time.sleep(delay)
            end = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "fake-model",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
            h.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            h.wfile.flush()
        except OSError:
            pass

    return act


def split_every(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


# -- server ------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.fake._record(self, b"")
        send_json(self, 404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        self.server.fake._record(self, raw)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            send_json(self, 404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            send_json(self, 400, {"error": {"message": "invalid json body"}})
            return
        self.server.fake._next()(self, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeOpenAI"


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Action] = deque()
        self.default: Action = explain_all()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *actions: Action, default: Action | None = None) -> "FakeOpenAI":
        """Reply with these in order, then with ``default`` (if given) for every further request."""
        with self._lock:
            self._script.extend(actions)
            if default is not None:
                self.default = default
        return self

    def always(self, action: Action) -> "FakeOpenAI":
        with self._lock:
            self._script.clear()
            self.default = action
        return self

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self.default = explain_all()

    def _record(self, h: Handler, raw: bytes) -> None:
        with self._lock:
            self.requests.append(Recorded(h.path, {k.lower(): v for k, v in h.headers.items()}, raw))

    def _next(self) -> Action:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    def all_bytes(self) -> bytes:
        return b"\n".join(r.raw + b"\n" + json.dumps(r.headers).encode() for r in self.requests)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
