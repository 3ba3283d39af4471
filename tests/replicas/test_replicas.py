"""Read replicas on real PostgreSQL streaming replication (core.replicas; the setup: conftest.py).

Which reads a replica serves is seen two ways: the queries each connection
ran, and rows the replica cannot have yet (its replay paused after a write
on the primary).
"""

import contextlib
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.signals import request_started
from django.db import connections, reset_queries, transaction
from django.test import override_settings
from rest_framework.test import APIClient

from catalog import cache as catalog_cache
from catalog.models import Category
from core import replicas, throttling
from tests.accounts.factories import StaffFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.conftest import token_client
from tests.foundation.test_health import dead_redis_caches
from tests.replicas.conftest import ALIAS

pytestmark = [
    pytest.mark.replicas,
    pytest.mark.django_db(transaction=True, databases=["default", ALIAS]),
]


class Captured:
    """The queries a connection ran (CaptureQueriesContext, without connecting first)."""

    def __init__(self, alias: str) -> None:
        self.connection = connections[alias]
        self.start = 0
        self.captured: list[dict[str, str]] = []

    def __len__(self) -> int:
        return len(self.captured)

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(self.captured)


@contextlib.contextmanager
def queries() -> Iterator[dict[str, Captured]]:
    """The queries run on the primary and on the replica inside the block."""
    ran = {alias: Captured(alias) for alias in ("default", ALIAS)}
    for capture in ran.values():
        capture.connection.force_debug_cursor = True
        capture.start = len(capture.connection.queries_log)
    request_started.disconnect(reset_queries)  # as CaptureQueriesContext does
    try:
        yield ran
    finally:
        request_started.connect(reset_queries)
        for capture in ran.values():
            capture.connection.force_debug_cursor = False
            capture.captured = list(capture.connection.queries_log)[capture.start :]


def paused(pair) -> None:
    pair.replica.execute("SELECT pg_wal_replay_pause()")


def resumed(pair) -> None:
    pair.replica.execute("SELECT pg_wal_replay_resume()")
    pair.wait_replayed()


def catalog_writes_forgotten() -> None:
    """As after REPLICA_PIN_SECONDS: the catalog's "just written" marks gone."""
    cache.delete_pattern("catalog:*written*")  # type: ignore[attr-defined]  # django-redis


def category_slugs(client: APIClient) -> list[str]:
    response = client.get("/api/v1/categories/?page_size=100")
    assert response.status_code == 200, response.content
    return [row["slug"] for row in response.json()["results"]]


@pytest.fixture
def hoodie(replica):
    product = ProductFactory(name="Replica hoodie", slug="replica-hoodie", category__slug="tops")
    VariantFactory(product=product, sku="RH-M", price=Decimal("30.00"), stock=4)
    replica.wait_replayed()
    catalog_writes_forgotten()
    return product


def test_public_catalog_reads_run_on_the_streaming_replica(replica, hoodie, api_client):
    for path in (
        "/api/v1/products/",
        "/api/v1/products/?search=hoodie",
        "/api/v1/products/replica-hoodie/",
        "/api/v1/categories/",
        "/api/v1/categories/tops/",
    ):
        with queries() as ran:
            response = api_client.get(path)
        assert response.status_code == 200, (path, response.content)
        assert len(ran[ALIAS]) > 0, path
        on_primary = [q["sql"] for q in ran["default"] if "pg_current_wal" not in q["sql"]]
        assert on_primary == [], path  # none but the replica check's own
    assert api_client.get("/api/v1/products/").json()["results"][0]["slug"] == "replica-hoodie"
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (True,)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone() == (False,)


def test_a_read_shows_the_replicas_rows(replica, api_client, settings):
    """Replay paused: a category created on the primary is not listed until replay resumes."""
    settings.REPLICA_MAX_LAG_SECONDS = 60  # the paused replica stays in use
    CategoryFactory(slug="older")
    replica.wait_replayed()
    paused(replica)
    CategoryFactory(slug="newer")
    assert category_slugs(api_client) == ["older"]
    resumed(replica)
    replicas.forget()
    assert sorted(category_slugs(api_client)) == ["newer", "older"]


def test_staff_lists_and_exports_read_the_replica(replica, hoodie, client):
    staff = StaffFactory(is_superuser=True)
    api = token_client(staff)
    for path, table in (("/api/v1/orders/", "orders_order"), ("/api/v1/returns/", "orders_return")):
        with queries() as ran:
            assert api.get(path).status_code == 200
        assert any(table in q["sql"] for q in ran[ALIAS]), path
        assert not any(table in q["sql"] for q in ran["default"]), path
    client.force_login(staff)
    with queries() as ran:
        page = client.get("/admin/catalog/product/")
    assert page.status_code == 200
    assert b"Replica hoodie" in page.content
    # The session and the user are read on the primary, the list on the replica.
    assert any("catalog_product" in q["sql"] for q in ran[ALIAS])
    assert not any("catalog_product" in q["sql"] for q in ran["default"])
    with queries() as ran:
        export = client.post(
            "/admin/catalog/product/",
            {"action": "export_csv", "_selected_action": [hoodie.pk]},
        )
        body = b"".join(export.streaming_content)
    assert export.status_code == 200
    assert b"replica-hoodie" in body
    assert any("catalog_product" in q["sql"] for q in ran[ALIAS])


def test_reads_in_a_transaction_locking_reads_and_reads_after_a_write_use_the_primary(replica, rf):
    CategoryFactory(slug="kept")
    replica.wait_replayed()
    request = rf.get("/")
    request.user = AnonymousUser()
    with replicas.reads_from_replica(request):
        assert replicas.read_alias() == ALIAS
        with transaction.atomic():
            assert replicas.read_alias() == "default"
            with queries() as ran:
                list(Category.objects.select_for_update().filter(slug="kept"))
                Category.objects.count()
            assert len(ran[ALIAS]) == 0
    with replicas.reads_from_replica(request):
        with queries() as ran:
            Category.objects.count()
            Category.objects.create(name="New", slug="new")
            Category.objects.count()
        assert [q["sql"].split()[0] for q in ran[ALIAS]] == ["SELECT"]
        assert replicas.read_alias() == "default"


def test_a_catalog_write_is_not_cached_from_a_replica_that_lacks_it(
    replica, hoodie, api_client, settings
):
    """Within the pin window after a catalog write, misses build on the primary."""
    settings.REPLICA_MAX_LAG_SECONDS = 60  # the paused replica stays in use
    staff = token_client(StaffFactory(is_superuser=True))
    replica.wait_replayed()
    paused(replica)
    created = staff.post(
        "/api/v1/products/",
        {"name": "Fresh cap", "slug": "fresh-cap", "category": "tops", "is_published": True},
        format="json",
    )
    assert created.status_code == 201, created.content
    listed = api_client.get("/api/v1/products/")
    assert listed["X-Cache"] == "MISS"
    assert "fresh-cap" in [row["slug"] for row in listed.json()["results"]]
    # Once the window is over (and the generation moved), the paused replica answers.
    catalog_writes_forgotten()
    catalog_cache.invalidate()
    catalog_writes_forgotten()
    stale = api_client.get("/api/v1/products/")
    assert "fresh-cap" not in [row["slug"] for row in stale.json()["results"]]


@pytest.fixture
def redis_commands(monkeypatch):
    """Every command sent to Redis (the real client, counted)."""
    commands: list[tuple[str, str]] = []
    connection_class = type(throttling._redis())
    execute = connection_class.execute_command

    def counting(self, *args, **kwargs):
        commands.append((args[0], str(args[1]) if len(args) > 1 else ""))
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "execute_command", counting)
    return commands


def test_a_writer_is_pinned_and_the_pin_rides_in_the_throttles_round_trip(
    replica, hoodie, redis_commands, settings
):
    settings.REPLICA_MAX_LAG_SECONDS = 60  # the paused replica stays in use
    writer = token_client(StaffFactory(is_superuser=True))
    other = token_client(StaffFactory(is_superuser=True))
    redis_commands.clear()
    with queries() as ran:
        assert writer.get("/api/v1/categories/").status_code == 200
    # The throttle's script read the pin: no round trip of its own.
    assert [name for name, _ in redis_commands] == ["EVALSHA"]
    assert len(ran[ALIAS]) > 0
    created = writer.post("/api/v1/categories/", {"name": "Caps", "slug": "caps"}, format="json")
    assert created.status_code == 201
    assert any(name == "SET" and replicas.PIN_PREFIX in key for name, key in redis_commands)
    paused(replica)  # the replica cannot show "caps" from now on
    with queries() as ran:
        assert "caps" in category_slugs(writer)
    assert len(ran[ALIAS]) == 0
    with queries() as ran:
        assert "caps" not in category_slugs(other)
    assert len(ran[ALIAS]) > 0


def test_a_paused_replica_is_detected_as_lagging_and_skipped(replica, api_client, client, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 0.5
    paused(replica)
    CategoryFactory(slug="after-pause")
    time.sleep(0.7)  # longer than REPLICA_MAX_LAG_SECONDS
    health = replicas.check_now()[ALIAS]
    assert health.state == "lagging"
    assert health.lag is not None and health.lag > 0.5
    with queries() as ran:
        assert "after-pause" in category_slugs(api_client)
    assert len(ran[ALIAS]) == 0
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["replicas"][ALIAS]["state"] == "lagging"
    resumed(replica)
    assert replicas.check_now()[ALIAS].state == "ok"
    with queries() as ran:
        assert "after-pause" in category_slugs(api_client)
    assert len(ran[ALIAS]) > 0


def test_a_stopped_replica_is_skipped_without_a_5xx(replica, api_client, client, settings):
    settings.REPLICA_CHECK_SECONDS = 60  # still "ok" when it stops: the failure finds it
    CategoryFactory(slug="always")
    replica.wait_replayed()
    with queries() as ran:
        assert category_slugs(api_client) == ["always"]
    assert len(ran[ALIAS]) > 0
    replica.stop_replica()
    assert category_slugs(api_client) == ["always"]  # the replica failed: run again, on the primary
    assert replicas.health_state(ALIAS) == "down"
    with queries() as ran:
        assert category_slugs(api_client) == ["always"]
    assert len(ran[ALIAS]) == 0
    settings.REPLICA_CHECK_SECONDS = 0.2
    replicas.forget()
    assert category_slugs(api_client) == ["always"]  # found down by the check itself
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}
    assert ready.json()["replicas"][ALIAS]["state"] == "down"


def test_with_the_cache_down_a_caller_who_may_have_written_reads_the_primary(replica, settings):
    """The pin cannot be read: it may be there, so the caller's reads stay on the primary."""
    customer = token_client(StaffFactory())
    CategoryFactory(slug="any")
    replica.wait_replayed()
    with override_settings(CACHES=dead_redis_caches(settings)), queries() as ran:
        assert category_slugs(customer) == ["any"]
    assert len(ran[ALIAS]) == 0
    with queries() as ran:
        assert category_slugs(customer) == ["any"]
    assert len(ran[ALIAS]) > 0


def test_with_the_cache_down_a_public_answer_is_built_on_the_primary(
    replica, hoodie, api_client, settings
):
    """Whether the catalog was just written is unknown then: the primary shows it either way."""
    with override_settings(CACHES=dead_redis_caches(settings)), queries() as ran:
        response = api_client.get("/api/v1/products/")
    assert response.status_code == 200
    assert response["X-Cache"] == "BYPASS"
    assert len(ran[ALIAS]) == 0


def test_a_stock_change_builds_that_products_page_on_the_primary(
    replica, hoodie, api_client, settings
):
    """Only its own page: a change that moves no list leaves the lists on the replica."""
    settings.REPLICA_MAX_LAG_SECONDS = 60  # the paused replica stays in use
    paused(replica)
    staff = token_client(StaffFactory(is_superuser=True))
    adjusted = staff.post(
        "/api/v1/variants/RH-M/stock-adjustments/", {"delta": 3, "reason": "count"}, format="json"
    )
    assert adjusted.status_code == 201, adjusted.content
    page = api_client.get("/api/v1/products/replica-hoodie/")
    assert page["X-Cache"] == "MISS"
    assert [v["stock"] for v in page.json()["variants"]] == [7]
    with queries() as ran:
        assert api_client.get("/api/v1/products/").status_code == 200
    assert len(ran[ALIAS]) > 0
