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
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from tests.foundation.procs import PYTHON, ROOT, free_port, manage, production_env

# Throttles stay on (the code paths run) but far above what a test sends, so
# the fuzzer exercises the endpoints instead of the 429 page. The login
# lockout (per email, per address) is not a throttle and stays as in production.
_GENEROUS_RATES = {
    "THROTTLE_ANON": "100000/min",
    "THROTTLE_USER": "100000/min",
    "THROTTLE_LOGIN": "100000/min",
    "THROTTLE_REGISTER": "100000/min",
    "THROTTLE_PASSWORD_RESET": "100000/min",
}


@dataclass(frozen=True)
class LiveServer:
    base: str
    log_path: Path

    def url(self, path: str) -> str:
        return self.base + path


def database_url() -> str:
    """The URL of the database this test process uses (pytest-django's test database)."""
    settings = connection.settings_dict
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


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
    """gunicorn (the Dockerfile's config) on a free port; stopped (SIGTERM) on exit."""
    port = free_port()
    env = production_env(
        DATABASE_URL=database_url(),
        DJANGO_STATIC_ROOT=str(static_root),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CACHE_KEY_PREFIX=f"live-{secrets.token_hex(4)}",
        # Tasks queue up in the test run's own Redis database, on a queue no
        # worker reads: nothing is delivered to a webhook URL, no mail is sent.
        CELERY_BROKER_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
        CELERY_QUEUE=f"live-{secrets.token_hex(4)}",
        EMAIL_URL="dummymail://",
        PORT=str(port),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        DB_POOL_MAX_SIZE=str(threads + 1),
        GUNICORN_ACCESS_LOG="",
        LOG_LEVEL="WARNING",
        **({} if throttled else _GENEROUS_RATES),
        **overrides,
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(base=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        deadline = time.monotonic() + 40
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if request(server.url("/healthz"))[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 40 s"
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
