"""PostgreSQL stopped under load for 10 seconds, then started again.

The server's database is a PostgreSQL cluster of this test's own (a copy of
the seeded test database), so stopping it touches no one else. While it is
down every request answers 503 `unavailable` (a pool timeout, DB_POOL_TIMEOUT
seconds), never a 500 and never a hang; /readyz answers 503 naming the
database and /healthz 200; the workers keep running. Once it is back, the
same workers serve again by themselves, and clients that retried their
orders with one Idempotency-Key got exactly one order each.
"""

import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.reliability.live import Gunicorn, Load, PostgresServer, call, current_database_url
from tests.reliability.shop import Shop

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POOL_TIMEOUT = 2
DOWN_FOR = 10.0


def test_postgres_stopped_answers_503_then_recovers_by_itself(shop: Shop, log_dir: Path) -> None:
    database = PostgresServer(log_dir=log_dir).init()
    server: Gunicorn | None = None
    keys: list[str] = []
    created: dict[str, set[str]] = {}
    lock = threading.Lock()
    try:
        database.copy_from(current_database_url())
        server = Gunicorn(
            log_dir=log_dir,
            workers=2,
            threads=3,
            DATABASE_URL=database.url,
            DB_POOL_TIMEOUT=str(POOL_TIMEOUT),
            DB_CONNECT_TIMEOUT="2",
        ).start()
        client_timeout = 2 * POOL_TIMEOUT + 5  # a hung request fails as a connection failure

        def order(token: str, index: int):
            current: dict[str, str] = {}

            def step(n: int) -> int:
                # One key until it is answered 201: a 503 is retried with the same key.
                key = current.setdefault("key", f"down-{index}-{uuid.uuid4().hex[:8]}")
                reply = call(
                    server, "POST", "/api/v1/orders/", token=token,
                    body=shop.order_body(note=key), headers={"Idempotency-Key": key},
                    timeout=client_timeout,
                )  # fmt: skip
                if reply.status == 503:
                    assert reply.json()["code"] == "unavailable", reply.body
                    assert int(reply.headers["Retry-After"]) > 0
                    time.sleep(0.2)
                elif reply.status == 201:
                    with lock:
                        keys.append(key)
                        created.setdefault(key, set()).add(reply.json()["number"])
                    current.clear()
                return reply.status

            return step

        def read(n: int) -> int:
            _user, token = shop.customers[0]
            path = "/api/v1/orders/"
            return call(server, "GET", path, token=token, timeout=client_timeout).status

        workers_before = sorted(server.worker_pids())
        steps = [("order", order(shop.customers[i][1], i)) for i in range(3)] + [("read", read)]
        with Load(steps) as load:
            load.wait_for(4, kind="order")
            database.stop()
            stopped_at = time.monotonic()
            healthz = call(server, "GET", "/healthz")
            probe_started = time.monotonic()
            readyz = call(server, "GET", "/readyz", timeout=client_timeout)
            readyz_seconds = time.monotonic() - probe_started
            while time.monotonic() - stopped_at < DOWN_FOR:
                load.raise_errors()
                time.sleep(0.2)
            database.start()
            started_at = time.monotonic()
            ok_after = len([o for o in load.snapshot() if o.status == 201])
            deadline = time.monotonic() + 30
            while len([o for o in load.snapshot() if o.status == 201]) < ok_after + 3:
                load.raise_errors()
                assert time.monotonic() < deadline, f"never recovered: {load.summary()}"
                time.sleep(0.1)
            recovered_in = time.monotonic() - started_at
            load.wait_for(3, kind="read")
        outcomes = load.snapshot()
        workers_after = sorted(server.worker_pids())
    finally:
        if server is not None:
            server.stop()
        log = server.log() if server is not None else ""

    assert healthz.status == 200
    assert readyz.status == 503, readyz.body
    assert readyz.json()["failing"] == ["database"]
    assert workers_after == workers_before, "a worker was restarted"
    down = [o for o in outcomes if stopped_at <= o.started <= started_at]
    assert down and all(o.status == 503 for o in down if o.ended < started_at), load.summary()
    failed = [o for o in outcomes if o.status is None or (o.status >= 500 and o.status != 503)]
    assert failed == [], f"{failed[:5]}\n{log[-3000:]}"
    assert all(len(numbers) == 1 for numbers in created.values())

    try:
        with psycopg.connect(database.url) as conn:
            per_key: dict[str, int] = dict(
                conn.execute(
                    "SELECT note, count(*) FROM orders_order "
                    "WHERE note LIKE 'down-%%' GROUP BY note"
                ).fetchall()
            )
            drifted = conn.execute(
                "SELECT v.sku FROM catalog_variant v LEFT JOIN catalog_stockmovement m "
                "ON m.variant_id = v.id GROUP BY v.id HAVING v.stock <> coalesce(sum(m.delta), 0)"
            ).fetchall()
    finally:
        database.destroy()
    assert all(count == 1 for count in per_key.values()), "a key placed two orders"
    assert set(keys) <= set(per_key), "an order answered 201 is missing"
    assert drifted == [], "stock differs from its ledger"
    slowest = max(o.ended - o.started for o in down)
    print(
        f"\nPostgreSQL down {DOWN_FOR:.0f} s: {len(down)} requests, "
        f"{sum(o.status == 503 for o in outcomes)} answered 503, slowest {slowest:.2f} s "
        f"(DB_POOL_TIMEOUT {POOL_TIMEOUT} s), readyz in {readyz_seconds:.2f} s, "
        f"recovered {recovered_in:.2f} s after the start"
    )
