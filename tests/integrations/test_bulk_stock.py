"""stock/bulk-adjustments/: counts and deltas for many SKUs, all or nothing, through the ledger."""

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from catalog.models import StockMovement, StockMovementKind, Variant
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.integrations.factories import key_client
from webhooks.models import Event

pytestmark = pytest.mark.django_db

URL = "/api/v1/stock/bulk-adjustments/"


@pytest.fixture
def erp(make_integration):
    _, key = make_integration("Catalog manager")
    return key_client(key)


def _ledger(variant: Variant) -> int:
    return StockMovement.objects.filter(variant=variant).aggregate(s=Sum("delta"))["s"] or 0


def test_set_to_writes_the_difference_as_a_count_and_nothing_when_already_there(erp):
    low, exact, high = VariantFactory(stock=3), VariantFactory(stock=5), VariantFactory(stock=9)
    body = {
        "items": [
            {"sku": low.sku, "set_to": 5},
            {"sku": exact.sku, "set_to": 5},
            {"sku": high.sku, "set_to": 5},
        ],
        "reason": "nightly count",
    }

    response = erp.post(URL, body, format="json")

    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["sku"], i["stock"]) for i in items] == [(low.sku, 5), (exact.sku, 5), (high.sku, 5)]
    assert items[1]["movement"] is None
    assert (items[0]["movement"]["kind"], items[0]["movement"]["delta"]) == ("count", 2)
    assert (items[2]["movement"]["kind"], items[2]["movement"]["delta"]) == ("count", -4)
    assert items[0]["movement"]["reason"] == "nightly count"
    for variant in (low, exact, high):
        variant.refresh_from_db()
        assert variant.stock == 5 == _ledger(variant)
    assert not StockMovement.objects.filter(variant=exact, kind=StockMovementKind.COUNT).exists()


def test_deltas_and_counts_mix_in_one_request(erp):
    a, b = VariantFactory(stock=3), VariantFactory(stock=3)
    body = {"items": [{"sku": a.sku, "delta": -2}, {"sku": b.sku, "set_to": 10}], "reason": "r"}

    items = erp.post(URL, body, format="json").json()["items"]

    assert [(i["stock"], i["movement"]["kind"]) for i in items] == [
        (1, "adjustment"),
        (10, "count"),
    ]


def test_an_unknown_sku_changes_nothing_and_names_its_item(erp):
    known = VariantFactory(stock=3)
    body = {"items": [{"sku": known.sku, "set_to": 8}, {"sku": "NOPE", "delta": 1}], "reason": "r"}

    response = erp.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"items.1.sku": ["Unknown SKU."]}
    known.refresh_from_db()
    assert known.stock == 3


def test_a_shortage_anywhere_changes_nothing(erp):
    a, b = VariantFactory(stock=3), VariantFactory(stock=1)
    body = {"items": [{"sku": a.sku, "set_to": 9}, {"sku": b.sku, "delta": -2}], "reason": "r"}

    response = erp.post(URL, body, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["shortages"] == [{"sku": b.sku, "requested": 2, "available": 1}]
    a.refresh_from_db()
    assert a.stock == 3 == _ledger(a)


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([], "items"),
        ([{"sku": "A", "delta": 1, "set_to": 2}], "items.0.non_field_errors"),
        ([{"sku": "A"}], "items.0.non_field_errors"),
        ([{"sku": "A", "delta": 0}], "items.0.delta"),
        ([{"sku": "A", "set_to": -1}], "items.0.set_to"),
        ([{"sku": "A", "set_to": 1}] * 1001, "items"),
    ],
)
def test_malformed_items_are_a_400(erp, items, field):
    response = erp.post(URL, {"items": items, "reason": "r"}, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_sku_listed_twice_is_a_400(erp):
    variant = VariantFactory(stock=1)
    body = {"items": [{"sku": variant.sku, "delta": 1}, {"sku": variant.sku, "set_to": 4}]}

    response = erp.post(URL, {**body, "reason": "r"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"items.1.sku": ["This SKU is already listed."]}


def test_a_retried_request_with_its_idempotency_key_applies_once(erp):
    variant = VariantFactory(stock=1)
    body = {"items": [{"sku": variant.sku, "delta": 5}], "reason": "delivery"}

    first = erp.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sync-42")
    again = erp.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="sync-42")

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    variant.refresh_from_db()
    assert variant.stock == 6


def test_a_thousand_items_cost_a_fixed_number_of_queries(erp):
    product = ProductFactory()
    variants = Variant.objects.bulk_create(
        [Variant(product=product, sku=f"BULK-{i:04d}", price="1.00") for i in range(1000)]
    )
    body = {
        "items": [
            {"sku": v.sku, "set_to": i % 7} if i % 2 else {"sku": v.sku, "delta": 3}
            for i, v in enumerate(variants)
        ],
        "reason": "full count",
    }

    with CaptureQueriesContext(connection) as queries:
        response = erp.post(URL, body, format="json")

    assert response.status_code == 200
    assert len(queries) <= 20
    changed = sum(1 for item in response.json()["items"] if item["movement"])
    assert changed == 500 + sum(1 for i in range(1, 1000, 2) if i % 7)
    assert StockMovement.objects.filter(variant__product=product).count() == changed
    assert Event.objects.filter(type="stock.changed").count() == changed


@pytest.mark.django_db(transaction=True)
def test_bulk_requests_over_the_same_two_products_never_deadlock(make_integration):
    """Each request's deltas touch one product and its counts the other, crosswise.

    Their variants differ, so nothing orders them but the product locks: taken
    per pass (deltas, then counts), one request would lock A then B and the
    other B then A.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    first, second = ProductFactory(), ProductFactory()
    a1, b1, a2, b2 = (VariantFactory(product=p, stock=100) for p in (first, second) * 2)
    _, key = make_integration("Catalog manager")
    bodies = [
        {"items": [{"sku": a2.sku, "delta": 1}, {"sku": b1.sku, "set_to": 50}], "reason": "x"},
        {"items": [{"sku": b2.sku, "delta": 1}, {"sku": a1.sku, "set_to": 50}], "reason": "y"},
    ]
    rounds = 15
    barrier = threading.Barrier(2)

    def send(body: dict) -> list[int]:
        try:
            client = key_client(key)
            statuses = []
            for n in range(rounds):
                barrier.wait(timeout=30)
                body["items"][1]["set_to"] = 50 + n
                statuses.append(client.post(URL, body, format="json").status_code)
            return statuses
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(send, bodies))

    assert results == [[200] * rounds] * 2
    for variant in (a1, b1, a2, b2):
        variant.refresh_from_db()
        assert variant.stock == _ledger(variant)
    assert (a2.stock, b2.stock, a1.stock, b1.stock) == (115, 115, 64, 64)
