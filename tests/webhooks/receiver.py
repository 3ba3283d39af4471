"""A real HTTP receiver on 127.0.0.1 (a free port) that records what it is sent."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = "hang"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Answers each POST with the next scripted status (then `default`).

    A scripted `HANG` holds the request open until `release` is set (or 30 s).
    `on_request`, when set, is called with each request before it is answered
    (while the sender waits for the answer).
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[int | str] = []
        self.default: int = 200
        self.delay = 0.0
        self.on_request: Callable[[Received], None] | None = None
        self.got_request = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                received = Received(self.path, dict(self.headers), body)
                with receiver._lock:
                    receiver.received.append(received)
                    answer = receiver.script.pop(0) if receiver.script else receiver.default
                if receiver.on_request is not None:
                    receiver.on_request(received)
                receiver.got_request.set()
                if answer == HANG:
                    receiver.release.wait(30)
                    answer = 200
                elif receiver.delay:
                    receiver.release.wait(receiver.delay)
                try:
                    self.send_response(int(answer))
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(f"answer {answer}".encode())
                except OSError:
                    pass  # the sender went away (a killed worker)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}{path}"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self, path: str | None = None) -> list[str]:
        return [r.json["id"] for r in self.received if path is None or r.path == path]
