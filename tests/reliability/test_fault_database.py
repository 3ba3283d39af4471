"""Database connections cut at random points of requests under a mixed load.

While clients place orders (each with an Idempotency-Key, retried on a 503
or a 409 `idempotency_in_progress` until answered 201), read, adjust stock
(staff, keyed too) and browse the admin, the test terminates every backend
of the live gunicorn (found by its application_name, so no one else's) at
random moments: idle in the pool, before a request's first statement, inside
its transaction. A trigger also terminates some order transactions at their
COMMIT (tests/reliability/faults.py). Then: no 500 and no dropped connection
(every answer is a success or 503 `unavailable`), every key made exactly one
order or adjustment, each 201 names the order stored, stock equals the
ledger and is conserved.
"""

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from catalog.models import StockMovement
from orders.models import Order
from tests.accounts.factories import StaffFactory
from tests.reliability.faults import die_at_commit, terminate
from tests.reliability.live import Gunicorn, Load, call
from tests.reliability.shop import (
    Shop,
    assert_every_order_has_lines,
    assert_stock_conserved,
    assert_stock_equals_ledger,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUTS = 4
COMMIT_KILLS = 3
KEY_DEADLINE = 20.0


@dataclass
class Keyed:
    key: str
    statuses: list[int | None] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)
    replayed: bool = False


def _server_backends(server: Gunicorn) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            [connection.settings_dict["NAME"], server.application_name],
        )
        return [pid for (pid,) in cursor.fetchall()]


def _admin_session(server: Gunicorn) -> str:
    """A logged-in superuser's session, signed with the server's secret key."""
    staff = StaffFactory(is_superuser=True)
    with override_settings(SECRET_KEY=server.env["DJANGO_SECRET_KEY"]):
        session = SessionStore()
        session[SESSION_KEY] = str(staff.pk)
        session[BACKEND_SESSION_KEY] = "accounts.backends.ModelBackend"
        session[HASH_SESSION_KEY] = staff.get_session_auth_hash()
        session.create()
    assert session.session_key is not None
    return session.session_key


def test_backends_cut_under_mixed_load_cost_no_500_and_no_double(
    shop: Shop, log_dir: Path, live_static_root: Path
) -> None:
    server = Gunicorn(log_dir=log_dir, workers=2, threads=3, static_root=live_static_root).start()
    session_cookie = f"sessionid={_admin_session(server)}"
    keyed: list[Keyed] = []
    lock = threading.Lock()

    def with_retries(path: str, token: str, body: dict[str, object], key: str) -> int:
        """POST until 201 with one key, as a careful client does; returns the last status."""
        result = Keyed(key)
        started = time.monotonic()
        while time.monotonic() - started < KEY_DEADLINE:
            try:
                reply = call(
                    server, "POST", path, token=token, body=body,
                    headers={"Idempotency-Key": key}, timeout=15,
                )  # fmt: skip
            except OSError:
                result.statuses.append(None)
                break  # a dropped connection is a failure here: no worker is killed
            result.statuses.append(reply.status)
            if reply.status == 201:
                result.numbers.add(str(reply.json().get("number", "")))
                result.replayed = reply.headers.get("Idempotent-Replayed") == "true"
                break
            in_progress = reply.status == 409 and (
                reply.json().get("code") == "idempotency_in_progress"
            )
            if reply.status == 503:
                assert reply.json()["code"] == "unavailable", reply.body
                assert int(reply.headers["Retry-After"]) > 0
            elif not in_progress:
                break
            time.sleep(0.1)
        with lock:
            keyed.append(result)
        return result.statuses[-1] or 0

    def order(index: int):
        _user, token = shop.customers[index % len(shop.customers)]

        def step(n: int) -> int:
            key = f"cut-{index}-{n}-{uuid.uuid4().hex[:8]}"
            return with_retries("/api/v1/orders/", token, shop.order_body(note=key), key)

        return step

    quiet_sku = shop.variants[2].sku

    def adjust(n: int) -> int:
        body = {"delta": 1, "reason": f"adjust-{n}"}
        path = f"/api/v1/variants/{quiet_sku}/stock-adjustments/"
        return with_retries(path, shop.staff_token, body, f"adjust-{n}-{uuid.uuid4().hex[:8]}")

    def read(n: int) -> int:
        _user, token = shop.customers[n % len(shop.customers)]
        path = "/api/v1/orders/" if n % 2 else f"/api/v1/products/{shop.product.slug}/"
        return call(server, "GET", path, token=token).status

    def admin(n: int) -> int:
        path = "/admin/orders/order/" if n % 2 else "/admin/catalog/variant/"
        return call(server, "GET", path, headers={"Cookie": session_cookie}).status

    steps = [("order", order(i)) for i in range(3)]
    steps += [("adjust", adjust), ("read", read), ("admin", admin)]
    terminated = 0
    try:
        with (
            die_at_commit(
                table="orders_order", times=COMMIT_KILLS, application_name=server.application_name
            ) as killed_at_commit,
            Load(steps) as load,
        ):
            for _ in range(CUTS):
                load.wait_for(3, kind="order")
                time.sleep(random.uniform(0, 0.3))  # anywhere inside the requests in flight
                terminated += terminate(_server_backends(server))
            load.wait_for(3, kind="order")
            commit_kills = killed_at_commit()
        outcomes = load.snapshot()
    finally:
        server.stop()

    all_statuses = Counter(s for k in keyed for s in k.statuses)
    fails = [o for o in outcomes if o.status is None or o.status >= 500]
    assert [s for s in all_statuses if s is None or (s >= 500 and s != 503)] == [], (
        f"{all_statuses}\n{server.log()[-4000:]}"
    )
    assert all(o.status in (200, 201) for o in outcomes), (load.summary(), fails[:3])
    assert terminated > 0 and commit_kills == COMMIT_KILLS, (terminated, commit_kills)

    orders = [k for k in keyed if k.key.startswith("cut-")]
    per_key = dict(
        Order.objects.filter(note__in=[k.key for k in orders])
        .values("note")
        .annotate(n=Count("pk"))
        .values_list("note", "n")
    )
    assert all(per_key.get(k.key) == 1 for k in orders), "a key made no order, or two"
    for k in orders:
        assert k.numbers == {Order.objects.get(note=k.key).number}
    adjustments = [k for k in keyed if k.key.startswith("adjust-")]
    reasons = Counter(
        StockMovement.objects.filter(variant__sku=quiet_sku, kind="adjustment").values_list(
            "reason", flat=True
        )
    )
    assert all(count == 1 for count in reasons.values()), "an adjustment was applied twice"
    assert len(adjustments) >= 1
    assert_every_order_has_lines()
    assert_stock_equals_ledger()
    assert_stock_conserved(shop)

    retried_503 = [k for k in keyed if 503 in k.statuses]
    unkeyed = sum(o.kind in ("read", "admin") for o in outcomes)
    print(
        f"\nbackends cut: {len(outcomes)} client operations, "
        f"{sum(len(k.statuses) for k in keyed) + unkeyed} requests, "
        f"{terminated} backends terminated + {commit_kills} at commit, "
        f"{all_statuses[503]} answered 503, {sum(k.replayed for k in retried_503)} retries "
        f"replayed, {server.log().count('running the request again')} requests rerun by the "
        f"server, 500s: {sum(1 for s in all_statuses if s is not None and s >= 500 and s != 503)}"
    )
