"""Processes the live tests start and kill: gunicorn, PostgreSQL, redis-server, client load.

`Gunicorn` is the one server starter of the suite (the fuzzer's and the
security tests' `tests.fuzz.live.live_server` runs it too).

Each helper owns the processes it started (it keeps their handles) and stops
only those. gunicorn runs the project's gunicorn.conf.py with production
settings (DJANGO_DEBUG=false) on a free port, pointed at the test database
pytest-django created, so a test seeds rows with the ORM (transaction=True)
and the server sees them.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from tests.foundation.procs import PYTHON, ROOT, free_port, production_env

# Throttles stay in the code path but out of the way of the load; the login
# lockout (PostgreSQL rows, not a throttle) stays as in production.
GENEROUS_RATES = {
    "THROTTLE_ANON": "100000/min",
    "THROTTLE_USER": "100000/min",
    "THROTTLE_LOGIN": "100000/min",
    "THROTTLE_REGISTER": "100000/min",
    "THROTTLE_PASSWORD_RESET": "100000/min",
}


def current_database_url() -> str:
    """The URL of pytest-django's test database (what this process is connected to)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or "5432"
    return f"postgres://{db.get('USER') or 'postgres'}{password}@{host}:{port}/{db['NAME']}"


def _wait(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


class Gunicorn:
    """`gunicorn -c gunicorn.conf.py config.wsgi` with production settings."""

    def __init__(
        self,
        *,
        log_dir: Path,
        workers: int = 2,
        threads: int = 4,
        static_root: Path | None = None,
        log_path: Path | None = None,
        throttled: bool = False,
        **overrides: str,
    ) -> None:
        """`static_root`: collected static files (tests.fuzz.live.collect_static), for pages
        that render them (the admin); without, only the API answers. `throttled`: the
        production throttle rates (else far above what a test sends). `overrides`:
        environment variables of the server."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or log_dir / f"gunicorn-{self.port}.log"
        if static_root is None:
            static_root = log_dir / "static"
            static_root.mkdir(exist_ok=True)
        database_url = overrides.pop("DATABASE_URL", "") or current_database_url()
        # Named, so a fault test can cut this server's connections and no one else's.
        self.application_name = f"stockroom-live-{self.port}"
        separator = "&" if "?" in database_url else "?"
        database_url = f"{database_url}{separator}application_name={self.application_name}"
        self.env = production_env(
            DATABASE_URL=database_url,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1"),
            DJANGO_STATIC_ROOT=str(static_root),
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="false",
            CACHE_KEY_PREFIX=f"live-{secrets.token_hex(4)}",
            PORT=str(self.port),
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            WEB_CONCURRENCY=str(workers),
            GUNICORN_THREADS=str(threads),
            DB_POOL_MAX_SIZE=str(threads + 1),
            GUNICORN_ACCESS_LOG="",
            LOG_LEVEL="WARNING",
            EMAIL_URL="dummymail://",
            # Tasks (emails, webhook fan-out) run inline after the commit, so
            # no message lands on a broker queue someone else's worker reads.
            CELERY_TASK_ALWAYS_EAGER="true",
            **({} if throttled else GENEROUS_RATES),
        )
        self.env.update(overrides)
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> "Gunicorn":
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(PYTHON).parent / "gunicorn"), "-c", "gunicorn.conf.py", "config.wsgi"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def answers() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log()[-3000:]
            try:
                return call(self, "GET", "/healthz", timeout=2).status == 200
            except OSError:
                return False

        _wait(answers, timeout=60, what="gunicorn to answer /healthz")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return _children(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in workers:  # only ours: the master's own children
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1:]


class PostgresServer:
    """A PostgreSQL cluster of the test's own (initdb in a temp dir, a free port), to stop at will.

    The server runs as the `postgres` system user when the test runs as root
    (PostgreSQL refuses root). `copy_from` fills its database with a dump of
    another database (the test database, seeded with the ORM).
    """

    def __init__(self, *, log_dir: Path) -> None:
        assert PG_BIN, "no PostgreSQL binaries in /usr/lib/postgresql/*/bin"
        self.bin = PG_BIN[0]
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="stockroom-pg-"))
        self.data = self.root / "data"
        self.log_path = log_dir / f"postgres-{self.port}.log"
        self.dbname = "stockroom"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert result.returncode == 0, f"{args[0]}: {result.stdout}{result.stderr}"
        return result

    def init(self) -> "PostgresServer":
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        return self.start()

    def start(self) -> "PostgresServer":
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "server.log"), "-w", "-t", "30", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def copy_from(self, source_url: str) -> None:
        """Create the database from a dump of `source_url` (schema and rows)."""
        env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", self.dbname],
            check=True, env=env, timeout=30,
        )  # fmt: skip
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "--no-owner", "--no-privileges", source_url],
            capture_output=True, check=True, env=env, timeout=60,
        )  # fmt: skip
        subprocess.run(
            [str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url],
            input=dump.stdout, capture_output=True, check=True, env=env, timeout=60,
        )  # fmt: skip

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.SubprocessError):
            self.stop()
        with self.log_path.open("ab") as log, contextlib.suppress(OSError):
            log.write((self.root / "server.log").read_bytes())
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A redis-server of the test's own on a free port, with no persistence."""

    def __init__(self, *, log_dir: Path) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        import redis

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def pings() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        _wait(pings, timeout=15, what="redis-server")
        client.close()
        return self

    def restart(self) -> "RedisServer":
        """Start again on the same port (empty: nothing was persisted)."""
        self.kill()
        return self.start()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# --- HTTP --------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    server: Gunicorn,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> Reply:
    """One request; HTTP errors are replies, connection failures raise OSError."""
    all_headers = dict(headers or {})
    data = None
    if token:
        all_headers["Authorization"] = f"Token {token}"
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(
        server.url(path), data=data, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


@dataclass
class Outcome:
    kind: str  # what the client was doing: "read", "login", "order", ...
    started: float
    ended: float
    status: int | None  # None: the connection failed (reset, refused, timeout)
    error: str = ""


@dataclass
class Load:
    """Client threads that each call `step(n)` in a loop until stopped; every call recorded.

    `step` makes one request and returns its HTTP status; an OSError it
    raises is recorded as a connection failure (status None). Any other
    exception stops the load and is raised again by `wait_for` and on exit.
    """

    steps: list[tuple[str, Callable[[int], int]]]
    outcomes: list[Outcome] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def _run(self, kind: str, step: Callable[[int], int]) -> None:
        n = 0
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                status: int | None = step(n)
                error = ""
            except OSError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
                # Kept and raised again by the test (a thread's exception alone only warns).
                with self.lock:
                    self.errors.append(exc)
                self.stop_event.set()
                return
            with self.lock:
                self.outcomes.append(Outcome(kind, started, time.monotonic(), status, error))
            n += 1

    def __enter__(self) -> "Load":
        for kind, step in self.steps:
            thread = threading.Thread(target=self._run, args=(kind, step), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.raise_errors()

    def raise_errors(self) -> None:
        """Raise the first exception a client step raised (other than a connection failure)."""
        with self.lock:
            errors = list(self.errors)
        if errors:
            raise errors[0]

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)

    def wait_for(self, count: int, *, kind: str, timeout: float = 60) -> None:
        """Until `count` more `kind` requests than now have completed."""
        target = sum(o.kind == kind for o in self.snapshot()) + count

        def reached() -> bool:
            self.raise_errors()
            return sum(o.kind == kind for o in self.snapshot()) >= target

        _wait(
            reached,
            timeout=timeout,
            what=f"{count} more {kind} requests",
        )

    def summary(self) -> Counter[tuple[str, int | None]]:
        return Counter((o.kind, o.status) for o in self.snapshot())
