"""Database connections cut: every server connection is terminated mid-load, three times.

`pg_terminate_backend` on every connection of the live gunicorn (its pooled
connections, busy or idle, found by their application_name) while
clients place orders. At most the requests in flight at a cut may fail; every
request that starts after a cut succeeds; every order that was answered 201
exists with its lines, no order is left without lines, stock equals ledger.
"""

import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from orders.models import Order
from tests.reliability.live import Gunicorn, Load, call
from tests.reliability.shop import Shop, assert_every_order_has_lines, assert_stock_equals_ledger

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUTS = 3


def _terminate_server_connections(server: Gunicorn) -> int:
    """Terminate the server's connections (only its own: this process keeps its pool)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = %s",
            [connection.settings_dict["NAME"], server.application_name],
        )
        pids = [pid for pid, _ in cursor.fetchall()]
        # pg_terminate_backend only signals: a request starting "after the cut"
        # must not be handed a connection whose backend is still exiting.
        deadline = time.monotonic() + 10
        while True:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
            if cursor.fetchone()[0] == 0:
                return len(pids)
            assert time.monotonic() < deadline, "terminated backends did not exit"
            time.sleep(0.02)


def test_cut_connections_fail_only_requests_in_flight(shop: Shop, log_dir: Path) -> None:
    server = Gunicorn(log_dir=log_dir, workers=2, threads=4).start()
    numbers: list[str] = []
    lock = threading.Lock()

    def order(n: int, token: str) -> int:
        reply = call(server, "POST", "/api/v1/orders/", token=token, body=shop.order_body())
        if reply.status == 201:
            with lock:
                numbers.append(reply.json()["number"])
        return reply.status

    def client(index: int):
        _user, token = shop.customers[index % len(shop.customers)]
        return lambda n: order(n, token)

    cuts: list[tuple[float, float, int]] = []
    try:
        with Load([("order", client(i)) for i in range(6)]) as load:
            for _ in range(CUTS):
                load.wait_for(8, kind="order")
                started = time.monotonic()
                terminated = _terminate_server_connections(server)
                cuts.append((started, time.monotonic(), terminated))
            load.wait_for(12, kind="order")
        outcomes = load.snapshot()
    finally:
        server.stop()

    assert all(terminated > 0 for *_, terminated in cuts), cuts

    def in_flight(o) -> bool:
        return any(o.started <= end and o.ended >= start for start, end, _ in cuts)

    failed = [o for o in outcomes if o.status != 201]
    assert [o for o in failed if not in_flight(o)] == [], (
        f"requests that started after a cut failed: {load.summary()}\n{server.log()[-4000:]}"
    )
    assert len(failed) <= CUTS * 6  # at most every client's request at each cut
    assert all(o.status is None or o.status >= 500 for o in failed), load.summary()

    stored = set(Order.objects.values_list("number", flat=True))
    assert set(numbers) <= stored, "an order answered 201 is missing"
    # A request cut after its commit may have lost only its answer, never its order.
    assert len(stored - set(numbers)) <= len(failed)
    assert_every_order_has_lines()
    assert_stock_equals_ledger()
