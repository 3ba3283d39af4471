"""`previous` on cursor pages: the rows just before a page, the way back to where it started."""

import pytest

from catalog import services as catalog_services
from tests.accounts.factories import UserFactory
from tests.catalog.factories import VariantFactory
from tests.integrations.factories import key_client
from webhooks.services import events_record

pytestmark = pytest.mark.django_db


def _variants() -> list[str]:
    return [VariantFactory().sku for _ in range(9)]


def _products() -> list[str]:
    return [VariantFactory().product.slug for _ in range(9)]


def _customers() -> list[int]:
    return [UserFactory().pk for _ in range(9)]


def _orders() -> list[str]:
    from tests.orders.factories import order_place

    return [order_place().number for _ in range(9)]


def _events() -> list[int]:
    events_record(events=[("stock.changed", {"n": n}) for n in range(9)])
    return list(range(9))


LISTS = {
    "variants": ("/api/v1/variants/?page_size=3", "sku", _variants),
    "products": ("/api/v1/products/?ordering=updated_at&page_size=3", "slug", _products),
    "customers": ("/api/v1/customers/?page_size=3", "id", _customers),
    "orders": ("/api/v1/orders/?ordering=updated_at&page_size=3", "number", _orders),
    "events": ("/api/v1/events/?page_size=3", "data", _events),
}


@pytest.fixture
def superuser_key(make_integration, superuser):
    from integrations import services

    integration = services.integration_create(name="Everything", role="Analyst")
    integration.user.is_superuser = True
    integration.user.save(update_fields=["is_superuser"])
    return key_client(services.api_key_create(integration=integration).key)


def _key(row: dict, field: str):
    return row[field]["n"] if field == "data" else row[field]


def _end(client, url: str) -> dict:
    """The page after the last row there is now (an empty one)."""
    while True:
        page = client.get(url).json()
        if not page["results"]:
            return page
        url = page["next"]


@pytest.mark.parametrize("name", list(LISTS))
def test_previous_walks_back_over_the_same_rows_next_walked(superuser_key, name):
    url, field, make = LISTS[name]
    client = superuser_key
    assert client.get(url).json()["previous"] is None  # a first page
    start = _end(client, url)["next"]  # past what the setup wrote
    rows = make()

    first = client.get(start).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    end = client.get(third["next"]).json()

    walked = [_key(r, field) for page in (first, second, third) for r in page["results"]]
    assert walked == rows
    assert end["results"] == []
    # Back from the end: the last page again, then the middle, then the first.
    back_third = client.get(end["previous"]).json()
    back_second = client.get(back_third["previous"]).json()
    back_first = client.get(back_second["previous"]).json()
    assert back_third["results"] == third["results"]
    assert back_second["results"] == second["results"]
    assert back_first["results"] == first["results"]
    # And forward again from a page reached backwards.
    assert client.get(back_first["next"]).json()["results"] == second["results"]


def test_an_empty_page_before_the_first_row_leads_back_to_the_start(superuser_key):
    skus = _variants()
    first = superuser_key.get("/api/v1/variants/?page_size=3").json()
    second = superuser_key.get(first["next"]).json()
    back = superuser_key.get(second["previous"]).json()
    assert back["previous"] is None

    catalog_services.variant_update(
        variant=catalog_services.Variant.objects.get(sku=skus[0]), data={"name": "Moved"}
    )
    emptied = superuser_key.get(back["next"]).json()

    assert [v["sku"] for v in emptied["results"]] == skus[3:6]
