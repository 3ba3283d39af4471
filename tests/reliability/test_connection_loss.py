"""A connection cut under a request: run again on a fresh one, or 503 `unavailable`, never 500.

In process (Django's test client), with the backend terminated by
PostgreSQL at a chosen point: before the request's first statement, inside
its transaction, and at its commit (tests/reliability/faults.py).
"""

from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from psycopg_pool import PoolTimeout

from catalog.models import Variant
from core.database import database_unavailable
from orders.models import Order
from tests.catalog.factories import VariantFactory
from tests.orders.factories import ADDRESS
from tests.reliability.faults import cut_before, die_at_commit, terminate
from tests.reliability.shop import assert_stock_equals_ledger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _answers_not_exceptions(request):
    """The test client re-raises what the handler for uncaught errors saw: look at the answer."""
    for name in ("customer_client", "admin_client"):
        if name in request.fixturenames:
            request.getfixturevalue(name).raise_request_exception = False


URL = "/api/v1/orders/"


def _body(variant, quantity=1):
    return {"lines": [{"sku": variant.sku, "quantity": quantity}], "shipping_address": ADDRESS}


def _any(sql: str) -> bool:
    return True


def _stock_update(sql: str) -> bool:
    return sql.startswith("UPDATE") and "catalog_variant" in sql


def test_cut_before_the_first_statement_runs_the_read_again(customer_client):
    VariantFactory(stock=5)
    with cut_before(_any) as cut:
        response = customer_client.get(URL)
    assert cut, "the fault never struck"
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_cut_inside_the_transaction_places_the_order_once(customer_client):
    variant = VariantFactory(stock=5)
    with cut_before(_stock_update) as cut:
        response = customer_client.post(URL, _body(variant), format="json")
    assert cut, "the fault never struck"
    assert response.status_code == 201, response.content
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 4
    assert_stock_equals_ledger()


def test_cut_inside_a_keyed_request_places_the_order_once(customer_client):
    variant = VariantFactory(stock=5)
    with cut_before(_stock_update) as cut:
        response = customer_client.post(
            URL, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="cut-inside"
        )
    assert cut, "the fault never struck"
    assert response.status_code == 201, response.content
    replay = customer_client.post(
        URL, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="cut-inside"
    )
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == response.json()
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 4


def test_a_second_cut_answers_503_unavailable_with_retry_after(customer_client):
    variant = VariantFactory(stock=5)
    with cut_before(_stock_update, times=2) as cut:
        response = customer_client.post(URL, _body(variant), format="json")
    assert len(cut) == 2
    assert response.status_code == 503
    assert response.json() == {
        "code": "unavailable",
        "detail": "The database is unavailable. Retry shortly.",
    }
    assert int(response["Retry-After"]) > 0
    assert Order.objects.count() == 0
    assert Variant.objects.get(pk=variant.pk).stock == 5


def test_cut_at_commit_answers_503_and_the_keyed_retry_places_the_order(customer_client):
    variant = VariantFactory(stock=5)
    with die_at_commit(table="orders_order") as killed:
        response = customer_client.post(
            URL, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="cut-at-commit"
        )
        assert killed() == 1
    # The outcome of that commit is unknown to the server: not retried, 503.
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "unavailable"
    assert Order.objects.count() == 0  # the trigger killed it before the commit record
    retry = customer_client.post(
        URL, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="cut-at-commit"
    )
    assert retry.status_code == 201, retry.content
    assert not retry.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 4
    assert_stock_equals_ledger()


def test_answer_lost_after_commit_answers_503_and_the_keyed_retry_replays(
    customer_client, monkeypatch
):
    """The commit reached PostgreSQL, the connection died before its answer came back."""
    variant = VariantFactory(stock=5)
    backend: Any = type(connections["default"])
    real_commit = backend._commit
    lost: list[int] = []

    def commit_then_lose_the_answer(self):
        real_commit(self)
        if not lost:
            pid = self.connection.info.backend_pid
            lost.append(pid)
            terminate([pid])
            with self.wrap_database_errors:
                self.connection.execute("SELECT 1")

    monkeypatch.setattr(backend, "_commit", commit_then_lose_the_answer)
    response = customer_client.post(
        URL, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="answer-lost"
    )
    monkeypatch.undo()
    assert lost, "the fault never struck"
    assert response.status_code == 503, response.content
    (order,) = Order.objects.all()
    retry = customer_client.post(
        URL, _body(variant), format="json", HTTP_IDEMPOTENCY_KEY="answer-lost"
    )
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["number"] == order.number
    assert Order.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 4


def test_cut_admin_page_is_run_again(admin_client):
    with cut_before(_any) as cut:
        response = admin_client.get("/admin/orders/order/")
    assert cut
    assert response.status_code == 200


def test_only_connection_failures_count_as_unavailable():
    def wrapped(cause: Exception, kind: type[DatabaseError] = OperationalError) -> DatabaseError:
        error = kind(str(cause))
        error.__cause__ = cause
        return error

    assert database_unavailable(wrapped(psycopg.errors.AdminShutdown("terminating")))
    assert database_unavailable(wrapped(psycopg.OperationalError("server closed the connection")))
    assert database_unavailable(wrapped(PoolTimeout("couldn't get a connection after 2 sec")))
    assert database_unavailable(InterfaceError("connection already closed"))
    assert not database_unavailable(wrapped(psycopg.errors.LockNotAvailable("nowait")))
    assert not database_unavailable(wrapped(psycopg.errors.DeadlockDetected("deadlock")))
    assert not database_unavailable(wrapped(psycopg.errors.QueryCanceled("statement timeout")))
    assert not database_unavailable(ValueError("not a database error"))


def test_a_task_whose_connection_breaks_runs_again_and_has_its_effect_once(customer):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import OrderEvent
    from orders.tasks import cancel_expired_orders
    from tests.orders.factories import order_place

    variant = VariantFactory(stock=5)
    order = order_place(user=customer, variant=variant, quantity=2)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=2))

    def cancel_update(sql: str) -> bool:
        return sql.startswith("UPDATE") and "orders_order" in sql

    with cut_before(cancel_update) as cut:
        # As a worker runs it, in this process: a retry runs the task again at once.
        result = cancel_expired_orders.apply(throw=False)
    assert cut, "the fault never struck"
    assert result.state == "SUCCESS", result.traceback
    assert result.result == 1
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert OrderEvent.objects.filter(order=order, type="cancelled").count() == 1
    assert Variant.objects.get(pk=variant.pk).stock == 5
    assert_stock_equals_ledger()


def test_the_pool_checks_each_checkout_with_connection_check():
    from core.postgresql.base import connection_check

    pool: Any = getattr(connections["default"], "pool", None)
    assert pool is not None, "the tests run with the pool, as production does"
    assert pool._check is connection_check


def test_an_idle_pooled_connection_cut_is_replaced_at_checkout():
    """The pool finds it with connection_check and hands out a fresh one: nothing fails."""
    from psycopg_pool import ConnectionPool

    from core.postgresql.base import connection_check
    from tests.reliability.faults import _conninfo

    with ConnectionPool(
        _conninfo(), min_size=1, max_size=1, check=connection_check, kwargs={"autocommit": True}
    ) as pool:
        with pool.connection() as conn:
            cut = conn.info.backend_pid
        terminate([cut])
        with pool.connection(timeout=10) as conn:
            assert conn.info.backend_pid != cut
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert pool.get_stats().get("connections_lost", 0) >= 1


def test_the_checkout_check_costs_a_round_trip_only_when_the_socket_has_something(monkeypatch):
    import psycopg_pool

    from core.postgresql.base import connection_check
    from tests.reliability.faults import _conninfo

    full_checks: list[object] = []
    real = psycopg_pool.ConnectionPool.check_connection

    def counted(conn: Any) -> None:
        full_checks.append(conn)
        real(conn)

    monkeypatch.setattr(psycopg_pool.ConnectionPool, "check_connection", staticmethod(counted))
    with psycopg.connect(_conninfo(), autocommit=True) as healthy:
        connection_check(healthy)
        assert full_checks == []
    with psycopg.connect(_conninfo(), autocommit=True) as cut:
        terminate([cut.info.backend_pid])
        with pytest.raises(psycopg.OperationalError):
            connection_check(cut)
        assert full_checks == [cut]
