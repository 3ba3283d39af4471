"""What one order placement costs in SQL, through the whole request as production runs it.

Real transactions (`transaction=True`): the idempotency middleware's transaction
is the outermost one, as under gunicorn, so BEGIN, COMMIT and every SAVEPOINT
show. Only the statements up to the request's COMMIT are counted: the tasks
queued on commit run inline in tests and are not part of the request.
"""

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import StockMovement
from core.models import IdempotencyKey
from orders import services
from orders.models import Order
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.conftest import token_client
from tests.orders.factories import ADDRESS

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/orders/"
# knox (the request's token), the key row, BEGIN, its lock, the
# placement's savepoint, variants (read and locked at once), the destination's
# tax rates, its shipping methods, the promotions in force, order, the
# products' locks (their updated_at follows the stock), stock, ledger, stock
# events, lines, order event, order.placed event, the customer email
# (outbox), RELEASE, the caller's permissions (allowed_transitions), the
# stored response, COMMIT.
PLACEMENT_STATEMENTS = 22


def _until_commit(captured: list[dict[str, str]]) -> list[str]:
    sql = [query["sql"] for query in captured]
    return sql[: sql.index("COMMIT") + 1]


@pytest.mark.parametrize("line_count", [1, 3])
def test_placing_an_order_costs_the_same_statements_whatever_its_lines(line_count):
    client = token_client(UserFactory())
    variants = [VariantFactory(price=Decimal("3.00"), stock=10) for _ in range(line_count)]
    body = {
        "lines": [{"sku": v.sku, "quantity": 1} for v in variants],
        "shipping_address": ADDRESS,
    }
    with CaptureQueriesContext(connection) as captured:
        response = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid4()))
    assert response.status_code == 201, response.content
    statements = _until_commit(captured.captured_queries)
    assert len(statements) == PLACEMENT_STATEMENTS, "\n".join(s[:120] for s in statements)
    # The key row is locked by the transaction's first statement (a NOWAIT conflict
    # then rolls back nothing of value) and written once, with the response.
    assert statements[3].startswith('SELECT "orders_idempotencykey"')
    assert statements[3].endswith("FOR UPDATE NOWAIT")
    key_writes = [s for s in statements if s.startswith('UPDATE "orders_idempotencykey"')]
    assert len(key_writes) == 1
    # One savepoint: the placement's own (it is retried whole on an order number clash).
    assert sum(s.startswith("SAVEPOINT") for s in statements) == 1


def test_a_clashing_order_number_outside_any_transaction_is_drawn_again(monkeypatch):
    """At the top level the whole placement is retried in a new transaction, once."""
    user = UserFactory()
    variant = VariantFactory(stock=5)
    lines = [{"sku": variant.sku, "quantity": 2}]
    first = services.order_place(user=user, lines=lines, shipping_address=ADDRESS)
    draws = iter([first.number, "SR-FRESHNUMBER"])
    monkeypatch.setattr(services, "order_number_generate", lambda: next(draws))

    second = services.order_place(user=user, lines=lines, shipping_address=ADDRESS)

    assert second.number == "SR-FRESHNUMBER"
    assert Order.objects.count() == 2
    variant.refresh_from_db()
    assert variant.stock == 1
    assert StockMovement.objects.filter(order_number="SR-FRESHNUMBER").count() == 1
    assert StockMovement.objects.filter(order_number=first.number).count() == 1


def test_an_expired_key_is_taken_over_by_another_body_which_is_then_replayed():
    """The key row is written once, at the end: with the new run's fingerprint and time."""
    client = token_client(UserFactory())
    variant = VariantFactory(stock=5)

    def body(quantity):
        return {"lines": [{"sku": variant.sku, "quantity": quantity}], "shipping_address": ADDRESS}

    client.post(URL, body(1), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    started = timezone.now()

    taken_over = client.post(URL, body(2), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    replayed = client.post(URL, body(2), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    old_body = client.post(URL, body(1), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert taken_over.status_code == 201
    assert not taken_over.has_header("Idempotent-Replayed")
    assert replayed.status_code == 201
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == taken_over.json()
    assert old_body.status_code == 422
    assert IdempotencyKey.objects.get(key="k-1").created_at >= started
    assert Order.objects.count() == 2
