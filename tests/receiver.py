"""A real local HTTP receiver standing in for a WeCom or DingTalk group robot (never a mock)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCEPTED = (200, {"errcode": 0, "errmsg": "ok"})


@dataclass
class Received:
    path: str
    query: dict[str, str]
    raw_query: str
    content_type: str
    body: dict


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Answers in turn (status, JSON body); when used up, the last one is repeated.
    answers: list[tuple[int, dict]] = field(default_factory=lambda: [ACCEPTED])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *answers: tuple[int, dict]) -> None:
        self.answers = list(answers)

    def _next(self) -> tuple[int, dict]:
        with self._lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def texts(self) -> list[str]:
        return [request.body["text"]["content"] for request in self.received]


@contextmanager
def robot(path: str = "/robot/send?access_token=t0ken") -> Iterator[Receiver]:
    """Serve on 127.0.0.1 at a free port; yields the receiver whose `url` is the webhook."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = holder["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            parts = urlsplit(self.path)
            query = {name: values[0] for name, values in parse_qs(parts.query).items()}
            receiver.received.append(
                Received(
                    parts.path,
                    query,
                    parts.query,
                    self.headers.get("Content-Type", ""),
                    json.loads(raw.decode()),
                )
            )
            status, answer = receiver._next()
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address[:2]
    holder["receiver"] = Receiver(url=f"http://{host}:{port}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
