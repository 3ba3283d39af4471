"""Redis gone: the cache and broker server dies under load, then comes back.

The server's cache AND Celery broker are a redis-server this test starts on a
port of its own (nobody else's Redis is touched). It is SIGKILLed while
clients browse, log in and place orders: nothing may answer 5xx, reads stay
correct (served uncached from PostgreSQL), the login lockout still holds
(its counters are PostgreSQL rows), and once Redis is back the cache is used
again and /readyz turns green.
"""

import time
from pathlib import Path

import pytest
import redis
from django.contrib.auth.hashers import make_password

from accounts.models import User
from orders.models import Order
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.reliability.live import Gunicorn, Load, RedisServer, call
from tests.reliability.shop import (
    Shop,
    assert_every_order_has_lines,
    assert_stock_conserved,
    assert_stock_equals_ledger,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _stock_shown(server: Gunicorn, shop: Shop, sku: str) -> int:
    reply = call(server, "GET", f"/api/v1/products/{shop.product.slug}/")
    assert reply.status == 200, reply.body
    (variant,) = [v for v in reply.json()["variants"] if v["sku"] == sku]
    return int(variant["stock"])


def _adjust(server: Gunicorn, shop: Shop, sku: str, delta: int) -> int:
    reply = call(
        server,
        "POST",
        f"/api/v1/variants/{sku}/stock-adjustments/",
        token=shop.staff_token,
        body={"delta": delta, "reason": "fault test"},
    )
    assert reply.status == 201, reply.body
    return int(reply.json()["stock"])


def _check_reads_follow_writes(server: Gunicorn, shop: Shop, sku: str) -> None:
    """A staff adjustment is visible at once, also on the second (cacheable) read."""
    stock = _adjust(server, shop, sku, +3)
    assert _stock_shown(server, shop, sku) == stock
    assert _stock_shown(server, shop, sku) == stock


def _production_user() -> User:
    """A user whose password hash the production hashers read (tests hash with MD5)."""
    user = UserFactory()
    user.password = make_password(DEFAULT_PASSWORD, hasher="argon2")
    user.save(update_fields=["password"])
    return user


def _cached_keys(port: int, prefix: str) -> list[bytes]:
    client = redis.Redis(port=port, socket_connect_timeout=1)
    try:
        return list(client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()


def test_redis_killed_under_load_costs_no_5xx_and_no_lockout(shop: Shop, log_dir: Path) -> None:
    cache = RedisServer(log_dir=log_dir).start()
    server = Gunicorn(
        log_dir=log_dir,
        workers=2,
        threads=4,
        REDIS_URL=cache.url,
        CELERY_TASK_ALWAYS_EAGER="false",  # the broker (db 2 of that server) dies too
    ).start()
    victim, *loggers_in = [_production_user() for _ in range(3)]
    quiet_sku = shop.variants[2].sku  # only the test adjusts it; orders take the other two
    product_path = f"/api/v1/products/{shop.product.slug}/"
    try:
        assert _stock_shown(server, shop, quiet_sku) == 100_000
        assert _cached_keys(cache.port, server.env["CACHE_KEY_PREFIX"]), "nothing was cached"

        def read(n: int) -> int:
            path = product_path if n % 2 else "/api/v1/products/?search=hoodie"
            return call(server, "GET", path).status

        def login(n: int) -> int:
            user = loggers_in[n % len(loggers_in)]
            body = {"email": user.email, "password": DEFAULT_PASSWORD}
            return call(server, "POST", "/api/v1/auth/login/", body=body).status

        def order(n: int) -> int:
            _user, token = shop.customers[n % len(shop.customers)]
            return call(
                server, "POST", "/api/v1/orders/", token=token, body=shop.order_body()
            ).status

        load = Load([("read", read), ("read", read), ("login", login), ("order", order)])
        with load:
            load.wait_for(3, kind="order")
            cache.kill()
            killed_at = time.monotonic()

            for kind in ("read", "login", "order"):
                load.wait_for(2, kind=kind)
            ready = call(server, "GET", "/readyz")
            assert ready.status == 503
            assert "cache" in ready.json()["failing"]

            # The lockout is PostgreSQL rows: five failures lock the email, even
            # for the right password, with Redis (and so the throttles) gone.
            wrong = {"email": victim.email, "password": "not-the-password"}
            for _ in range(5):
                reply = call(server, "POST", "/api/v1/auth/login/", body=wrong)
                assert reply.status == 400
                assert reply.json()["code"] == "invalid_credentials"
            right = {"email": victim.email, "password": DEFAULT_PASSWORD}
            locked = call(server, "POST", "/api/v1/auth/login/", body=right)
            assert locked.status == 429, locked.body
            assert int(locked.headers["Retry-After"]) > 0

            _check_reads_follow_writes(server, shop, quiet_sku)

            cache.restart()
            restarted_at = time.monotonic()
            deadline = time.monotonic() + 20
            while call(server, "GET", "/readyz").status != 200:
                assert time.monotonic() < deadline, "readyz did not recover with Redis"
                time.sleep(0.2)

            for kind in ("read", "login", "order"):
                load.wait_for(2, kind=kind)
            _check_reads_follow_writes(server, shop, quiet_sku)
            assert _cached_keys(cache.port, server.env["CACHE_KEY_PREFIX"]), "cache not used again"

        outcomes = load.snapshot()
    finally:
        server.stop()
        cache.kill()

    during = [o for o in outcomes if killed_at <= o.started <= restarted_at]
    assert {o.kind for o in during} == {"read", "login", "order"}
    failed = [o for o in outcomes if o.status is None or o.status >= 500]
    assert failed == [], f"{failed[:5]}\n{server.log()[-3000:]}"
    expected = {"read": 200, "login": 200, "order": 201}
    unexpected = [o for o in outcomes if o.status != expected[o.kind]]
    assert unexpected == [], load.summary()
    placed = sum(o.kind == "order" for o in outcomes)
    assert Order.objects.count() == placed
    assert_every_order_has_lines()
    assert_stock_equals_ledger()
    assert_stock_conserved(shop)
