"""The soak's verdict: each kind of loss it promises to catch is reported (no server needed)."""

import pytest

from catalog.models import Variant
from orders.models import PaymentEvent
from tests.orders.factories import order_place
from tests.reliability.soak import Shared, Stats, _check

pytestmark = pytest.mark.django_db


def _answered(order) -> dict[str, object]:
    return {
        "number": order.number,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in order.lines.all()],
    }


def test_a_clean_run_has_no_problems() -> None:
    order = order_place(quantity=2)
    PaymentEvent.objects.create(event_id="evt_ok", type="payment.succeeded")
    shared, stats = Shared(), Stats()
    shared.orders[order.number] = _answered(order)
    shared.paid_events.append("evt_ok")
    stats.record("order", "201", 0.1)
    stats.record("ship", "409 invalid_transition", 0.1)

    assert _check(shared, stats) == []


def test_every_kind_of_loss_is_reported() -> None:
    order = order_place(quantity=2)
    other = order_place(quantity=1)
    shared, stats = Shared(), Stats()
    shared.orders["SR-LOST000000"] = {
        "number": "SR-LOST000000",
        "lines": [{"sku": "X", "quantity": 1}],
    }
    wrong = _answered(other)
    wrong["lines"] = [{"sku": other.lines.get().sku, "quantity": 5}]
    shared.orders[other.number] = wrong
    shared.orders[order.number] = _answered(order)
    shared.paid_events.append("evt_never_recorded")
    Variant.objects.filter(pk=order.lines.get().variant_id).update(stock=99)  # off the ledger
    stats.record("browse", "502", 0.1)
    stats.record("order", "connection ConnectionResetError", 0.1)

    problems = _check(shared, stats)

    assert len(problems) == 6, problems
    assert "order SR-LOST000000 answered 201 is missing" in problems
    assert any(p.startswith(f"order {other.number} has lines") for p in problems)
    assert "payment evt_never_recorded answered 200 is not recorded" in problems
    assert any(p.startswith("variant ") and "stock 99" in p for p in problems)
    assert "1 x browse answered 502" in problems
    assert "1 x order answered connection ConnectionResetError" in problems
