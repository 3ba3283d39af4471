"""A live gunicorn server with production settings, on the test run's own database.

The fuzzer and the hostile-client tests talk HTTP to a real server, so what
they check is what a client sees: middleware order, gunicorn's parsing, the
production settings (debug off, JSON renderer only, Argon2, security headers).
The server uses the test database pytest-django created (so the test seeds
data with the ORM and the server sees it once committed) and a cache key
prefix of its own.
"""

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.foundation.procs import manage, production_env
from tests.reliability.live import Gunicorn


@dataclass(frozen=True)
class LiveServer:
    base: str
    log_path: Path

    def url(self, path: str) -> str:
        return self.base + path


def collect_static(target: Path) -> None:
    env = production_env(DJANGO_STATIC_ROOT=str(target))
    result = manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
    assert result.returncode == 0, result.stderr


@contextmanager
def live_server(
    *,
    static_root: Path,
    log_path: Path,
    workers: int = 2,
    threads: int = 4,
    throttled: bool = False,
    **overrides: str,
) -> Iterator[LiveServer]:
    """gunicorn (the Dockerfile's config) on a free port; stopped (SIGTERM) on exit.

    Started by the suite's one starter, tests.reliability.live.Gunicorn. Tasks
    queue up in the test run's own Redis database, on a queue no worker reads:
    nothing is delivered to a webhook URL, no mail is sent.
    """
    server = Gunicorn(
        log_dir=log_path.parent,
        log_path=log_path,
        workers=workers,
        threads=threads,
        static_root=static_root,
        throttled=throttled,
        CELERY_TASK_ALWAYS_EAGER="false",
        CELERY_BROKER_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
        CELERY_QUEUE=f"live-{secrets.token_hex(4)}",
        **overrides,
    )
    try:
        server.start()
        yield LiveServer(base=server.base, log_path=server.log_path)
    finally:
        server.stop()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    url: str,
    *,
    method: str = "GET",
    token: str | None = None,
    json_body: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15,
) -> tuple[int, dict[str, str], bytes]:
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = f"Token {token}"
    if json_body is not None:
        data = json.dumps(json_body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def call(server: LiveServer, path: str, **kwargs: Any) -> Reply:
    status, headers, body = request(server.url(path), **kwargs)
    return Reply(status, headers, body)
