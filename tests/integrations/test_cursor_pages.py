"""Cursor pages by (updated_at, id): rows changed while a reader pages are never skipped."""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Variant
from tests.accounts.factories import StaffFactory, UserFactory
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.integrations.factories import key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(make_integration):
    _, key = make_integration("Analyst")
    return key_client(key)


def _pages(client, url: str):
    while True:
        body = client.get(url).json()
        yield body
        if not body["results"]:
            return
        url = body["next"]


def test_variants_changed_while_paging_are_seen_at_their_new_place(reader):
    product = ProductFactory()
    variants = [VariantFactory(product=product) for _ in range(9)]
    seen: list[str] = []
    pages = _pages(reader, "/api/v1/variants/?page_size=3")

    seen += [v["sku"] for v in next(pages)["results"]]
    # One already read and one not yet read change (a stock change and a rename).
    catalog_services.stock_adjust(variant=variants[0], delta=4, reason="found")
    catalog_services.variant_update(variant=variants[5], data={"name": "Renamed"})
    for page in pages:
        seen += [v["sku"] for v in page["results"]]

    skus = [v.sku for v in variants]
    assert set(seen) == set(skus)
    assert seen.count(variants[0].sku) == 2  # once at the old place, once at the new
    assert seen.count(variants[5].sku) == 1  # never skipped, not repeated
    assert seen[-2:] == [variants[0].sku, variants[5].sku]


def test_a_reader_resuming_from_its_last_next_gets_only_later_changes(reader):
    variants = [VariantFactory(stock=1) for _ in range(3)]
    first = reader.get("/api/v1/variants/?page_size=500").json()
    assert len(first["results"]) == 3
    assert reader.get(first["next"]).json()["results"] == []

    catalog_services.stock_adjust(variant=variants[1], delta=-1, reason="sold")

    later = reader.get(first["next"]).json()["results"]
    assert [(v["sku"], v["stock"]) for v in later] == [(variants[1].sku, 0)]


def test_updated_after_and_product_filter_variants(reader):
    old = VariantFactory(weight_grams=350)
    Variant.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    new = VariantFactory()
    since = (timezone.now() - timedelta(days=1)).isoformat()

    body = reader.get("/api/v1/variants/", {"updated_after": since}).json()
    assert [v["sku"] for v in body["results"]] == [new.sku]
    body = reader.get("/api/v1/variants/", {"product": old.product.slug}).json()
    assert [v["sku"] for v in body["results"]] == [old.sku]
    assert set(body["results"][0]) == {
        "sku", "product", "name", "attributes", "price", "currency", "stock",
        "weight_grams", "updated_at",
    }  # fmt: skip
    assert body["results"][0]["weight_grams"] == 350
    assert body["previous"] is None
    assert "count" not in body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "WyJ4IiwgMV0"}, "cursor"),
        ({"updated_after": "yesterday"}, "updated_after"),
        ({"updated_after": "2026-01-01T00:00:00"}, "updated_after"),
        ({"page_size": "0"}, "page_size"),
        ({"updated_after": "9999-12-31T23:59:59-05:00"}, "updated_after"),
        ({"product": "a\x00b"}, "product"),
    ],
)
def test_a_bad_cursor_time_or_size_is_a_400(reader, params, field):
    response = reader.get("/api/v1/variants/", params)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_page_size_is_capped_at_500(reader):
    product = ProductFactory()
    Variant.objects.bulk_create(
        [Variant(product=product, sku=f"CAP-{i:03d}", price="1.00") for i in range(501)]
    )

    assert len(reader.get("/api/v1/variants/?page_size=900").json()["results"]) == 500


def test_customers_are_listed_without_secrets_and_bumped_by_any_change(reader):
    customers = [UserFactory() for _ in range(3)]
    StaffFactory()
    first = reader.get("/api/v1/customers/?page_size=2").json()
    assert [c["id"] for c in first["results"]] == [c.pk for c in customers[:2]]
    assert set(first["results"][0]) == {
        "id", "email", "first_name", "last_name", "date_joined", "updated_at"
    }  # fmt: skip

    # A save with update_fields that leaves updated_at out still moves the row.
    customers[0].first_name = "Changed"
    customers[0].save(update_fields=["first_name"])
    rest = reader.get(first["next"]).json()["results"]

    assert [c["id"] for c in rest] == [customers[2].pk, customers[0].pk]
    assert rest[1]["first_name"] == "Changed"
    assert reader.get(f"/api/v1/customers/{customers[1].pk}/").json()["email"] == customers[1].email


def test_a_staff_account_is_not_a_customer(reader):
    staff = StaffFactory()

    assert reader.get(f"/api/v1/customers/{staff.pk}/").status_code == 404


def test_updated_after_takes_any_iso_offset(reader):
    response = reader.get("/api/v1/variants/", {"updated_after": "2026-01-01T00:00:00+23:59"})

    assert response.status_code == 200


def test_orders_whose_status_changes_while_paging_are_seen_again_never_skipped(make_integration):
    from orders.services import order_transition
    from tests.orders.factories import order_place

    _, key = make_integration("Order manager")
    client = key_client(key)
    orders = [order_place() for _ in range(4)]

    first = client.get("/api/v1/orders/?ordering=updated_at&page_size=2").json()
    assert "count" not in first
    assert [o["number"] for o in first["results"]] == [o.number for o in orders[:2]]
    order_transition(order=orders[0], action="cancel", user=None)
    order_transition(order=orders[3], action="cancel", user=None)
    rest = client.get(first["next"]).json()["results"]
    rest += client.get(client.get(first["next"]).json()["next"]).json()["results"]

    assert [(o["number"], o["status"]) for o in rest] == [
        (orders[2].number, "pending_payment"),
        (orders[0].number, "cancelled"),
        (orders[3].number, "cancelled"),
    ]


def test_the_numbered_order_list_is_unchanged_without_cursor_parameters(make_integration):
    from tests.orders.factories import order_place

    _, key = make_integration("Order manager")
    order_place()

    body = key_client(key).get("/api/v1/orders/").json()

    assert body["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_after_a_later_one_is_not_skipped_by_a_reader_in_between(
    make_integration,
):
    """The transaction that writes first commits last; the reader pages in between."""
    import threading

    from django.db import connection, transaction

    _, key = make_integration("Analyst")
    reader = key_client(key)
    early, late = VariantFactory(stock=1), VariantFactory(stock=1)
    start = reader.get("/api/v1/variants/?page_size=500").json()
    written, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                catalog_services.stock_adjust(variant=early, delta=5, reason="slow")
                written.set()
                assert release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert written.wait(timeout=30)
        catalog_services.stock_adjust(variant=late, delta=1, reason="fast")
        between = reader.get(start["next"]).json()
    finally:
        release.set()
        thread.join(timeout=30)
    after = reader.get(between["next"]).json()

    seen = between["results"] + after["results"]
    assert [(v["sku"], v["stock"]) for v in seen] == [(early.sku, 6), (late.sku, 2)]
    assert between["results"] == []


@pytest.mark.parametrize("params", ["ordering=-created_at", "ordering=updated_at&page=-1"])
def test_an_unknown_ordering_or_a_bad_page_is_a_400_on_the_order_list(make_integration, params):
    _, key = make_integration("Order manager")

    response = key_client(key).get(f"/api/v1/orders/?{params}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
