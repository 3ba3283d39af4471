"""variants/: staff CRUD by SKU, stock adjustments and the ledger."""

from decimal import Decimal

import pytest

from catalog.models import StockMovement, Variant
from catalog.services import stock_take
from tests.catalog.conftest import grant
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/variants/"


def test_create_variant_has_no_stock(manager_client):
    ProductFactory(slug="tee")

    response = manager_client.post(
        URL,
        {
            "product": "tee",
            "sku": "TEE-M",
            "name": "M",
            "attributes": {"size": "M"},
            "price": "19.9",
        },
    )

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "product": "tee",
        "sku": "TEE-M",
        "name": "M",
        "attributes": {"size": "M"},
        "price": "19.90",
        "currency": "EUR",
        "stock": 0,
        "weight_grams": 0,
    }


def test_stock_in_the_body_is_ignored(manager_client):
    ProductFactory(slug="tee")

    response = manager_client.post(
        URL, {"product": "tee", "sku": "TEE-M", "price": "1.00", "stock": 50}
    )

    assert response.json()["stock"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": "0"}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": "1.999"}, "price"),
        ({"attributes": ["red"]}, "attributes"),
        ({"sku": "has space"}, "sku"),
        ({"sku": "TAKEN"}, "sku"),
        ({"product": "nope"}, "product"),
    ],
)
def test_create_variant_validation(manager_client, body, field):
    ProductFactory(slug="tee")
    VariantFactory(sku="TAKEN")

    response = manager_client.post(URL, {"product": "tee", "sku": "NEW-1", "price": "1.00", **body})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_get_patch_delete_by_sku(manager_client, django_assert_max_num_queries):
    VariantFactory(sku="TEE-M", product__slug="tee", price=Decimal("5.00"), stock=4)
    ProductFactory(slug="other")

    assert manager_client.get(f"{URL}TEE-M/").json()["stock"] == 4
    response = manager_client.patch(
        f"{URL}TEE-M/", {"price": "6.50", "name": "Medium", "product": "other", "stock": 99}
    )
    assert response.status_code == 200
    assert (response.json()["price"], response.json()["product"], response.json()["stock"]) == (
        "6.50",
        "other",
        4,
    )
    assert manager_client.delete(f"{URL}TEE-M/").status_code == 204
    assert manager_client.get(f"{URL}TEE-M/").status_code == 404


def test_ordered_variant_cannot_be_deleted(manager_client):
    variant = VariantFactory(sku="TEE-M", stock=4)
    stock_take(quantities={variant.pk: 1}, order_number="SR-9")

    response = manager_client.delete(f"{URL}TEE-M/")

    assert (response.status_code, response.json()["code"]) == (409, "protected")


def test_variants_are_staff_only_even_for_reads(api_client, staff_client):
    VariantFactory(sku="TEE-M")

    assert api_client.get(f"{URL}TEE-M/").status_code == 401
    assert staff_client.get(f"{URL}TEE-M/").status_code == 403


# --- stock adjustments ---------------------------------------------------------------


def test_adjustment_writes_the_ledger_and_returns_the_movement(manager_client, manager):
    variant = VariantFactory(sku="TEE-M", stock=5)

    response = manager_client.post(
        f"{URL}TEE-M/stock-adjustments/", {"delta": -3, "reason": "damaged"}
    )

    assert response.status_code == 201
    body = response.json()
    movement = StockMovement.objects.get(pk=body["movement"]["id"])
    assert body == {
        "sku": "TEE-M",
        "stock": 2,
        "movement": {
            "id": movement.pk,
            "kind": "adjustment",
            "delta": -3,
            "reason": "damaged",
            "order": None,
            "created_by": manager.email,
            "created_at": movement.created_at.isoformat().replace("+00:00", "Z"),
        },
    }
    variant.refresh_from_db()
    assert variant.stock == 2 == sum(variant.movements.values_list("delta", flat=True))


def test_adjustment_below_zero_is_409_and_changes_nothing(manager_client):
    variant = VariantFactory(sku="TEE-M", stock=2)

    response = manager_client.post(f"{URL}TEE-M/stock-adjustments/", {"delta": -3, "reason": "x"})

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_stock",
        "detail": "Not enough stock.",
        "shortages": [{"sku": "TEE-M", "requested": 3, "available": 2}],
    }
    variant.refresh_from_db()
    assert variant.stock == 2
    assert variant.movements.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 0, "reason": "x"},
        {"delta": "many", "reason": "x"},
        {"delta": 10_000_000, "reason": "x"},
        {"delta": 1},
        {"delta": 1, "reason": ""},
    ],
)
def test_adjustment_validation(manager_client, body):
    VariantFactory(sku="TEE-M")

    response = manager_client.post(f"{URL}TEE-M/stock-adjustments/", body)

    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_adjustment_unknown_sku_is_404(manager_client):
    response = manager_client.post(f"{URL}NOPE/stock-adjustments/", {"delta": 1, "reason": "x"})

    assert response.status_code == 404


def test_stock_endpoints_need_stockmovement_permissions(staff_user, api_client):
    VariantFactory(sku="TEE-M")
    client = token_client(staff_user)
    adjust = f"{URL}TEE-M/stock-adjustments/"
    ledger = f"{URL}TEE-M/stock-movements/"

    assert api_client.post(adjust, {"delta": 1, "reason": "x"}).status_code == 401
    assert api_client.get(ledger).status_code == 401
    assert client.post(adjust, {"delta": 1, "reason": "x"}).status_code == 403
    assert client.get(ledger).status_code == 403
    grant(staff_user, "view_stockmovement")
    assert client.get(ledger).status_code == 200
    assert client.post(adjust, {"delta": 1, "reason": "x"}).status_code == 403


def test_ledger_lists_every_change_newest_first(
    manager_client, manager, django_assert_max_num_queries
):
    variant = VariantFactory(sku="TEE-M", stock=10)
    stock_take(quantities={variant.pk: 2}, order_number="SR-7")
    manager_client.post(f"{URL}TEE-M/stock-adjustments/", {"delta": 4, "reason": "found"})

    # knox token (2), permissions (2), then the variant, the count and the page.
    with django_assert_max_num_queries(7):
        response = manager_client.get(f"{URL}TEE-M/stock-movements/")

    rows = [
        (m["kind"], m["delta"], m["reason"], m["order"], m["created_by"])
        for m in response.json()["results"]
    ]
    assert rows == [
        ("adjustment", 4, "found", None, manager.email),
        ("order_placed", -2, "", "SR-7", None),
        ("adjustment", 10, "initial stock", None, None),
    ]
    assert response.json()["count"] == 3
    assert Variant.objects.get(pk=variant.pk).stock == 12
