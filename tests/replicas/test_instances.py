"""Read-your-writes across instances: the pin one instance writes, another one reads.

The test process is instance A (Django's test client); instance B is a
gunicorn of its own with the replica configured, sharing the primary, the
replica and Redis. The replica's replay is paused, so it cannot show the
order A just placed: B lists it all the same (the caller is pinned), and
lists without it once the pin is gone (B really reads the replica).
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache

from core import replicas
from tests.reliability.live import Gunicorn, call
from tests.reliability.shop import make_shop
from tests.replicas.conftest import ALIAS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.replicas,
    pytest.mark.django_db(transaction=True, databases=["default", ALIAS]),
]


def test_a_customer_who_ordered_sees_the_order_on_another_instance(
    replica, api_client, log_dir: Path
) -> None:
    shop = make_shop(customers=1)
    user, token = shop.customers[0]
    replica.wait_replayed()
    server = Gunicorn(
        log_dir=log_dir,
        workers=1,
        threads=2,
        DATABASE_REPLICA_URLS=replica.replica_url,
        # A paused replica stays in use here: only the pin keeps B's reads on the primary.
        REPLICA_MAX_LAG_SECONDS="3600",
        REPLICA_PIN_SECONDS="3601",
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
    ).start()
    try:
        replica.replica.execute("SELECT pg_wal_replay_pause()")
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        placed = api_client.post("/api/v1/orders/", shop.order_body(), format="json")
        assert placed.status_code == 201, placed.content
        number = placed.json()["number"]
        assert cache.get(replicas.pin_key(f"user:{user.pk}")) is not None

        listed = call(server, "GET", "/api/v1/orders/", token=token)
        assert listed.status == 200, listed.body
        assert [o["number"] for o in listed.json()["results"]] == [number]

        cache.delete(replicas.pin_key(f"user:{user.pk}"))
        unpinned = call(server, "GET", "/api/v1/orders/", token=token)
        assert unpinned.status == 200, unpinned.body
        assert unpinned.json()["results"] == []  # the paused replica's answer

        ready = call(server, "GET", "/readyz")
        assert ready.status == 200
        assert ready.json()["replicas"]["replica1"]["state"] == "ok"
    finally:
        server.stop()
