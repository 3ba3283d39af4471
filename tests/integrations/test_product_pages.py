"""products/ as cursor pages by last change: every change a product's answers show moves it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Product
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.integrations.factories import key_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(make_integration):
    _, key = make_integration("Analyst")
    return key_client(key)


def _updated_at(product: Product):
    return Product.objects.values_list("updated_at", flat=True).get(pk=product.pk)


def _rest(client, url: str) -> list[dict]:
    seen: list[dict] = []
    while True:
        body = client.get(url).json()
        if not body["results"]:
            return seen
        seen += body["results"]
        url = body["next"]


def test_products_changed_while_paging_are_seen_at_their_new_place_never_skipped(reader):
    products = [VariantFactory(stock=2).product for _ in range(9)]
    first = reader.get("/api/v1/products/?ordering=updated_at&page_size=3").json()
    assert "count" not in first
    assert first["previous"] is None
    assert [p["slug"] for p in first["results"]] == [p.slug for p in products[:3]]

    # One already read and one not yet read change: a sale (stock only) and a rename.
    catalog_services.stock_adjust(variant=products[0].variants.get(), delta=-1, reason="sold")
    catalog_services.variant_update(variant=products[5].variants.get(), data={"name": "Renamed"})
    rest = _rest(reader, first["next"])

    seen = [p["slug"] for p in first["results"] + rest]
    assert set(seen) == {p.slug for p in products}
    assert seen.count(products[0].slug) == 2  # once at the old place, once at the new
    assert seen.count(products[5].slug) == 1  # never skipped, not repeated
    assert seen[-2:] == [products[0].slug, products[5].slug]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda p: catalog_services.stock_adjust(
                variant=p.variants.get(), delta=1, reason="count"
            ),
            id="stock",
        ),
        pytest.param(
            lambda p: catalog_services.variant_update(
                variant=p.variants.get(), data={"price": Decimal("12.50")}
            ),
            id="price",
        ),
        pytest.param(
            lambda p: catalog_services.variant_update(
                variant=p.variants.get(), data={"attributes": {"size": "L"}}
            ),
            id="attributes",
        ),
        pytest.param(
            lambda p: catalog_services.variant_create(
                product=p, sku="NEW-1", price=Decimal("3.00")
            ),
            id="variant added",
        ),
        pytest.param(
            lambda p: catalog_services.variant_delete(variant=p.variants.get()),
            id="variant removed",
        ),
        pytest.param(
            lambda p: catalog_services.category_update(
                category=p.category, data={"slug": "renamed-category"}
            ),
            id="category slug",
        ),
    ],
)
def test_a_products_updated_at_moves_with_every_change_its_page_shows(change):
    product = VariantFactory(stock=1).product
    before = _updated_at(product)

    change(product)

    assert _updated_at(product) > before


def test_a_change_its_answers_do_not_show_leaves_a_product_in_place():
    product = VariantFactory(stock=1).product
    before = _updated_at(product)

    catalog_services.variant_update(variant=product.variants.get(), data={"weight_grams": 900})
    catalog_services.category_update(category=product.category, data={"description": "New"})

    assert _updated_at(product) == before


def test_the_products_page_shows_the_time_its_variants_changed(reader):
    product = VariantFactory(stock=3).product
    before = reader.get(f"/api/v1/products/{product.slug}/").json()["updated_at"]

    catalog_services.stock_adjust(variant=product.variants.get(), delta=-1, reason="sold")
    page = reader.get(f"/api/v1/products/{product.slug}/").json()

    assert page["updated_at"] > before
    assert page["variants"][0]["stock"] == 2


def test_updated_after_and_the_list_filters_apply_to_product_pages(reader):
    shoes = CategoryFactory(slug="shoes")
    old = VariantFactory(product=ProductFactory(category=shoes), stock=1).product
    Product.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    in_stock = VariantFactory(product=ProductFactory(category=shoes), stock=1).product
    VariantFactory(product=ProductFactory(category=shoes), stock=0)
    VariantFactory(stock=1)  # another category
    since = (timezone.now() - timedelta(days=1)).isoformat()

    body = reader.get(
        "/api/v1/products/", {"updated_after": since, "category": "shoes", "in_stock": "true"}
    ).json()

    assert [p["slug"] for p in body["results"]] == [in_stock.slug]
    assert body["results"][0] == {
        "id": in_stock.pk,
        "slug": in_stock.slug,
        "name": in_stock.name,
        "category": "shoes",
        "price": "10.00",
        "currency": "EUR",
        "in_stock": True,
        "is_published": True,
        "tax_class": "standard",
    }


def test_the_public_sees_published_products_only_and_no_cached_page(api_client, reader):
    shown = VariantFactory(stock=1).product
    hidden = ProductFactory(is_published=False)
    # A cached numbered page of the same list must not answer a cursor request.
    assert api_client.get("/api/v1/products/").status_code == 200
    assert api_client.get("/api/v1/products/").headers["X-Cache"] == "HIT"

    public = api_client.get("/api/v1/products/?updated_after=2000-01-01T00:00:00Z")
    staff = reader.get("/api/v1/products/?ordering=updated_at").json()

    assert public.status_code == 200
    assert "X-Cache" not in public.headers
    assert "count" not in public.json()
    assert [p["slug"] for p in public.json()["results"]] == [shown.slug]
    assert "is_published" not in public.json()["results"][0]
    assert [p["slug"] for p in staff["results"]] == [shown.slug, hidden.slug]


def test_a_product_changed_after_a_readers_last_page_is_on_its_next(api_client):
    product = VariantFactory(stock=1).product
    first = api_client.get("/api/v1/products/?ordering=updated_at").json()
    assert [p["slug"] for p in first["results"]] == [product.slug]
    assert api_client.get(first["next"]).json()["results"] == []

    catalog_services.stock_adjust(variant=product.variants.get(), delta=-1, reason="sold")
    later = api_client.get(first["next"]).json()["results"]

    assert [(p["slug"], p["in_stock"]) for p in later] == [(product.slug, False)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ("cursor=garbage", "cursor"),
        ("ordering=price&updated_after=2026-01-01T00:00:00Z", "ordering"),
        ("ordering=updated_at&updated_after=yesterday", "updated_after"),
        ("ordering=updated_at&page_size=0", "page_size"),
        ("ordering=updated_at&min_price=cheap", "min_price"),
        ("ordering=updated_at&cursor=a&cursor=b", "cursor"),
    ],
)
def test_a_bad_product_page_parameter_is_a_400(api_client, params, field):
    response = api_client.get(f"/api/v1/products/?{params}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


def test_a_product_page_costs_a_fixed_number_of_queries(api_client, django_assert_max_num_queries):
    for _ in range(30):
        VariantFactory(stock=1, product=ProductFactory(category=CategoryFactory(slug="mugs")))

    # The open transactions' start, the category's subtree, the page.
    with django_assert_max_num_queries(3):
        body = api_client.get("/api/v1/products/?ordering=updated_at&category=mugs").json()

    assert len(body["results"]) == 30


@pytest.mark.django_db(transaction=True)
def test_a_product_change_committed_after_a_later_one_is_not_skipped(api_client):
    """The transaction that writes first commits last; the reader pages in between."""
    import threading

    from django.db import connection, transaction

    early, late = VariantFactory(stock=1), VariantFactory(stock=1)
    start = api_client.get("/api/v1/products/?ordering=updated_at").json()
    written, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                catalog_services.stock_adjust(variant=early, delta=-1, reason="slow")
                written.set()
                assert release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert written.wait(timeout=30)
        catalog_services.stock_adjust(variant=late, delta=-1, reason="fast")
        between = api_client.get(start["next"]).json()
    finally:
        release.set()
        thread.join(timeout=30)
    after = api_client.get(between["next"]).json()

    assert between["results"] == []
    seen = [(p["slug"], p["in_stock"]) for p in after["results"]]
    assert seen == [(early.product.slug, False), (late.product.slug, False)]
