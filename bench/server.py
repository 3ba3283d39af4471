"""The system under test: the bench database, its seed, and gunicorn.

Everything here runs the project the way production does: `manage.py` and
gunicorn in their own processes, with production settings (DJANGO_DEBUG off,
PostgreSQL, Redis, the project's gunicorn.conf.py and middleware). Nothing is
imported from the project into the driver process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
# Addresses the load scripts send as X-Forwarded-For (bench/lua/common.lua):
# documentation ranges (RFC 5737), header values only, never contacted.
CLIENT_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")


def client_address(n: int) -> str:
    """The n-th simulated client, as common.lua's client_address() makes it."""
    return f"{CLIENT_NETS[n % 3]}{(n // 3) % 250 + 1}"


@dataclass(frozen=True)
class Dataset:
    """The sizes handed to `manage.py seed_demo`."""

    products: int
    customers: int
    orders: int
    seed: int = 1
    variants: int | None = None
    # Admin at size: seed_demo makes `orders` orders; bulk SQL then copies them
    # (lines, events, ledger rows) up to these totals (grow_history below).
    orders_total: int | None = None
    movements_total: int | None = None

    def seed_args(self, supported: set[str]) -> list[str]:
        args = [
            "--products",
            str(self.products),
            "--customers",
            str(self.customers),
            "--orders",
            str(self.orders),
            "--seed",
            str(self.seed),
        ]
        if self.variants is not None and "--variants" in supported:
            args += ["--variants", str(self.variants)]
        return args

    @property
    def label(self) -> str:
        return f"{self.products:,} products"


def server_env(*, database_url: str, redis_url: str, extra: dict[str, str] | None = None) -> dict:
    """Production settings for manage.py and gunicorn, pointed at the bench's own services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    env.update(
        {
            # Production settings plus the reference route /bench/plain.
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "bench-" + secrets.token_hex(24),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            # Celery messages (on_commit side effects) go to the bench's own
            # Redis database and are dropped with it; no worker consumes them.
            "CELERY_BROKER_URL": redis_url,
            "PAYMENT_WEBHOOK_SECRET": "bench-webhook-secret",
            # As behind one reverse proxy: the client is the X-Forwarded-For
            # address, which the load scripts vary over CLIENTS addresses, so
            # the throttles run at their production rates and cost, per client.
            "NUM_PROXIES": "1",
            "PYTHONUNBUFFERED": "1",
            # The admin pages need the collected static files' manifest (collect_static).
            "DJANGO_STATIC_ROOT": str(ROOT / "bench" / "tmp" / "static"),
        }
    )
    env.update(extra or {})
    return env


def manage(env: dict, *args: str, capture: bool = False) -> str:
    proc = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout or ""


# --- Database ----------------------------------------------------------------


def database_url_for(base_url: str, dataset: Dataset) -> str:
    """One database per catalog size, so a second run can reuse a seeded one."""
    parts = urlsplit(base_url)
    name = parts.path.lstrip("/") or "stockroom_bench"
    return urlunsplit(parts._replace(path=f"/{name}_p{dataset.products}"))


def _admin_conninfo(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def _seed_signature() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/management/commands/seed_demo.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def dataset_signature(dataset: Dataset) -> str:
    return f"bench:{json.dumps(dataset.__dict__, sort_keys=True)}:{_seed_signature()}"


def prepare_database(*, url: str, env: dict, dataset: Dataset, fresh: bool, log) -> str:
    """Create, migrate and seed the database at `url`, unless it already holds this dataset.

    The signature (sizes, seed and seed_demo's source) is kept as the
    database's comment; a matching one means the seed can be skipped, and the
    database is only migrated forward (new migrations apply to seeded data as
    they would in production). A failed migration re-creates it.
    """
    import psycopg

    admin_url, name = _admin_conninfo(url)
    signature = dataset_signature(dataset)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        reuse = row is not None and row[0] == signature and not fresh
    if reuse:
        try:
            manage({**env, "DATABASE_URL": url}, "migrate", "--noinput")
        except RuntimeError as exc:
            log(f"database {name}: migrating the seeded data failed, re-seeding ({exc})")
        else:
            log(f"database {name}: reusing the seeded {dataset.label}")
            return "reused"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if row is not None:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    db_env = {**env, "DATABASE_URL": url}
    started = time.monotonic()
    manage(db_env, "migrate", "--noinput")
    log(f"database {name}: migrated in {time.monotonic() - started:.0f}s")
    help_text = manage(db_env, "help", "seed_demo", capture=True) if has_seed_demo(db_env) else ""
    if not help_text:
        log("seed_demo is not available yet: the database stays empty")
        return "empty"
    supported = {word.strip("[],") for word in help_text.split() if word.startswith("--")}
    started = time.monotonic()
    manage(db_env, "seed_demo", *dataset.seed_args(supported))
    log(f"database {name}: seeded {dataset.label} in {time.monotonic() - started:.0f}s")
    if dataset.orders_total or dataset.movements_total:
        started = time.monotonic()
        grown = grow_history(
            url=url, orders_total=dataset.orders_total, movements_total=dataset.movements_total
        )
        log(f"database {name}: grown to {grown} in {time.monotonic() - started:.0f}s")
    # Fresh bulk inserts have no planner statistics yet; a live database has.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{signature}'")
    return "seeded"


def _columns(conn, table: str, *, leave: tuple[str, ...]) -> str:
    """The table's columns but `leave`, as a SQL list (from the catalog: migrations add some)."""
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return ", ".join(f'"{name}"' for (name,) in rows if name not in leave)


def grow_history(*, url: str, orders_total: int | None, movements_total: int | None) -> dict:
    """Copy the seeded orders (with lines and timeline) and add ledger rows, in bulk SQL.

    seed_demo builds every order in Python: fine for 20,000, slow for 200,000.
    Here each round copies every seeded order once more (a new number, the
    same customer, lines and events, dated years back: _SHIFT),
    with an `order_placed` ledger row per copied line; one adjustment per
    variant then puts the copied quantities back, so stock still equals the
    ledger. Pairs of +1/-1 stock counts fill the ledger up to `movements_total`.
    Returns the row counts reached.
    """
    import psycopg

    with psycopg.connect(url, autocommit=False) as conn:
        orders = _count(conn, "orders_order")
        if orders_total and orders < orders_total:
            _grow_orders(conn, orders=orders, wanted=orders_total)
        movements = _count(conn, "catalog_stockmovement")
        if movements_total and movements < movements_total:
            conn.execute(
                "INSERT INTO catalog_stockmovement"
                " (variant_id, kind, delta, reason, order_number, created_at)"
                " SELECT v.id, 'count', CASE WHEN mod(g, 2) = 0 THEN 1 ELSE -1 END,"
                " 'bench: stocktake ' || (g / 2), '',"
                " now() - g * interval '1 minute'"
                " FROM generate_series(0, %s - 1) AS g"
                " JOIN catalog_variant v ON v.id = (SELECT min(id) FROM catalog_variant)"
                " + mod(g / 2, (SELECT count(*) FROM catalog_variant))",
                [(movements_total - movements + 1) // 2 * 2],
            )
        conn.commit()
        return {
            "orders": _count(conn, "orders_order"),
            "movements": _count(conn, "catalog_stockmovement"),
        }


def _count(conn, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608  # nosec B608
    return int(row[0]) if row else 0


# How far back a copy goes: into the years before the seeded ones (a shop with
# ten times the orders has a longer history, not ten times the recent ones:
# the dashboard reads the last 30 days), a week apart per round.
_SHIFT = "(grow.round * interval '7 days' + (1 + grow.id % 9) * interval '51 weeks')"


def _grow_orders(conn, *, orders: int, wanted: int) -> None:
    order_cols = _columns(conn, "orders_order", leave=("id", "number", "created_at", "updated_at"))
    line_cols = _columns(conn, "orders_orderline", leave=("id", "order_id"))
    event_cols = _columns(conn, "orders_orderevent", leave=("id", "order_id", "created_at"))
    rounds = -(-(wanted - orders) // orders)
    conn.execute(
        "CREATE TEMP TABLE grow ON COMMIT DROP AS"
        " SELECT o.id AS source, g AS round,"
        " nextval(pg_get_serial_sequence('orders_order', 'id')) AS id"
        " FROM (SELECT id FROM orders_order ORDER BY id) o, generate_series(1, %s) g"
        " LIMIT %s",
        [rounds, wanted - orders],
    )
    # Numbers like seed_demo's (SR- and 10 characters), from the new id: unique.
    conn.execute(
        f"INSERT INTO orders_order (id, number, created_at, updated_at, {order_cols})"  # noqa: S608  # nosec B608
        " SELECT grow.id, 'SR-Z' || upper(lpad(to_hex(grow.id), 9, '0')),"
        f" o.created_at - {_SHIFT}, o.updated_at - {_SHIFT},"
        f" {', '.join('o.' + c for c in order_cols.split(', '))}"
        " FROM grow JOIN orders_order o ON o.id = grow.source"
    )
    conn.execute(
        f"INSERT INTO orders_orderline (order_id, {line_cols})"  # noqa: S608  # nosec B608
        f" SELECT grow.id, {', '.join('l.' + c for c in line_cols.split(', '))}"
        " FROM grow JOIN orders_orderline l ON l.order_id = grow.source"
    )
    conn.execute(
        f"INSERT INTO orders_orderevent (order_id, created_at, {event_cols})"  # noqa: S608  # nosec B608
        f" SELECT grow.id, e.created_at - {_SHIFT},"
        f" {', '.join('e.' + c for c in event_cols.split(', '))}"
        " FROM grow JOIN orders_orderevent e ON e.order_id = grow.source"
    )
    conn.execute(
        "INSERT INTO catalog_stockmovement"
        " (variant_id, kind, delta, reason, order_number, created_by_id, created_at)"
        " SELECT l.variant_id, 'order_placed', -l.quantity, '', n.number, n.user_id, n.created_at"
        " FROM grow JOIN orders_order n ON n.id = grow.id"
        " JOIN orders_orderline l ON l.order_id = grow.id"
    )
    conn.execute(
        "INSERT INTO catalog_stockmovement"
        " (variant_id, kind, delta, reason, order_number, created_at)"
        " SELECT l.variant_id, 'adjustment', sum(l.quantity),"
        " 'bench: restock for the copied order history', '', min(n.created_at)"
        " FROM grow JOIN orders_order n ON n.id = grow.id"
        " JOIN orders_orderline l ON l.order_id = grow.id GROUP BY l.variant_id"
    )


def collect_static(env: dict) -> None:
    """Collect the static files into the bench's own STATIC_ROOT (the admin pages need them)."""
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")


def has_seed_demo(env: dict) -> bool:
    return "seed_demo" in manage(env, "help", "--commands", capture=True).split()


# --- gunicorn ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-Forwarded-For": client_address(0)})  # noqa: S310  # nosec B310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310  # nosec B310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_post(url: str, body: dict, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "X-Forwarded-For": client_address(0),
            **(headers or {}),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310  # nosec B310
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Gunicorn:
    """gunicorn serving config.wsgi with production settings on a free loopback port."""

    env: dict
    log_path: Path
    port: int = 0
    process: subprocess.Popen | None = None
    uses_project_conf: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [str(Path(PYTHON).with_name("gunicorn"))]
        if GUNICORN_CONF.exists():
            self.uses_project_conf = True
            cmd += ["-c", str(GUNICORN_CONF)]
        else:
            # Until the project ships its gunicorn.conf.py: threaded workers,
            # sized for two cores.
            cmd += ["--worker-class", "gthread", "--workers", "3", "--threads", "4"]
        return [*cmd, "--bind", f"127.0.0.1:{self.port}", "config.wsgi:application"]

    def start(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        env = {**self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - the venv's gunicorn
            self.command(),
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start; see {self.log_path}")
            with contextlib.suppress(OSError):
                status, _ = http_get(self.base_url + "/healthz", timeout=2)
                if status == 200 and len(self.worker_pids()) >= 1:
                    return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"gunicorn did not answer /healthz in {timeout:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return children_of(self.process.pid)

    def settings(self) -> dict:
        """Workers and threads as the running server has them."""
        workers = len(self.worker_pids())
        threads = None
        if self.uses_project_conf:
            probe = subprocess.run(  # noqa: S603 - our interpreter, reading the project's conf
                [PYTHON, "-c", "import runpy,json;c=runpy.run_path('gunicorn.conf.py');"
                 "print(json.dumps({k:c.get(k) for k in ('worker_class','workers','threads',"
                 "'max_requests','keepalive')}))"],
                cwd=ROOT, env=self.env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            with contextlib.suppress(ValueError):
                conf = json.loads(probe.stdout)
                threads = conf.get("threads")
                return {**conf, "running_workers": workers, "conf": "gunicorn.conf.py"}
        return {"workers": workers, "threads": threads, "conf": "bench defaults"}


def children_of(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(p) for p in task.read_text().split()]
    return children


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class RssSampler:
    """Samples every worker's resident memory in a background thread."""

    server: Gunicorn
    interval: float = 0.25
    peak: float = 0.0
    # Worker pids seen during the sampling: more than the worker count means
    # gunicorn restarted workers (max_requests, timeouts, crashes) meanwhile.
    pids: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.server.worker_pids():
                self.pids.add(pid)
                value = rss_mb(pid)
                if value is not None and value > self.peak:
                    self.peak = value
            self._stop.wait(self.interval)

    @property
    def restarts(self) -> int:
        live = set(self.server.worker_pids())
        return len(self.pids | live) - len(live)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[RssSampler]:
        self.peak = 0.0
        self.pids = set(self.server.worker_pids())
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


def redis_flushdb(redis_url: str) -> None:
    """Empty the bench's own Redis database (never another one): no cache left from a past run."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
