"""The back office's searches find what staff type, say so on the page, and read indexes.

Each change list is searched for an email fragment, a name word, a SKU prefix
and an order number (whichever it holds): the right rows come back and no
others. EXPLAIN, with sequential scans switched off, proves an index can
serve every search of a big table; the query count does not grow with the
number of words.
"""

from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.db.models import Model
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from accounts.models import User
from catalog import services as catalog_services
from catalog.models import Product, StockMovement, Variant
from orders.models import Order
from tests.accounts.factories import UserFactory
from tests.admin.plans import plan_with_indexes_only, whole_table_reads
from tests.catalog.factories import ProductFactory, VariantFactory
from tests.orders.factories import order_place
from webhooks.models import Delivery, Endpoint, Event

pytestmark = pytest.mark.django_db

PROJECT_APPS = {"accounts", "catalog", "orders", "webhooks"}
BIG = {m._meta.db_table for m in (User, Product, Variant, StockMovement, Order, Event, Delivery)}


@pytest.fixture
def shop(db) -> dict[str, Any]:
    hood = VariantFactory(
        product=ProductFactory(name="Hooded Sweatshirt"), sku="HOOD-RED-M", stock=10
    )
    tote = VariantFactory(product=ProductFactory(name="Canvas Tote"), sku="TOTE-NAT-1", stock=10)
    marguerite = UserFactory(
        email="marguerite.oakes@ateliers.test", first_name="Marguerite", last_name="Oakes"
    )
    bertrand = UserFactory(
        email="bertrand.quill@papeterie.test", first_name="Bertrand", last_name="Quill"
    )
    # The factory stocks a variant through the ledger: one adjustment each.
    hood_stocked, tote_stocked = (StockMovement.objects.get(variant=v) for v in (hood, tote))
    hood_order = order_place(user=marguerite, variant=hood)
    tote_order = order_place(user=bertrand, variant=tote)
    recount = catalog_services.stock_adjust(
        variant=tote, delta=5, reason="Recount after flood damage"
    )
    return {
        "hood": hood,
        "tote": tote,
        "marguerite": marguerite,
        "bertrand": bertrand,
        "hood_order": hood_order,
        "tote_order": tote_order,
        "recount": recount,
        "hood_stocked": hood_stocked,
        "tote_stocked": tote_stocked,
        "hood_sold": StockMovement.objects.get(variant=hood, order_number=hood_order.number),
        "tote_sold": StockMovement.objects.get(variant=tote, order_number=tote_order.number),
    }


def _found(client: Client, model: type[Model], term: str) -> set[Any]:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


# (model, term or a callable of the shop giving it, names of the rows it must find)
CASES = [
    # Orders: email fragments (with and without @), name words, SKU prefixes, numbers.
    (Order, "oakes@atel", {"hood_order"}),
    (Order, "ateliers", {"hood_order"}),
    (Order, "PAPETERIE.TEST", {"tote_order"}),
    (Order, "bertrand", {"tote_order"}),
    (Order, "Quill", {"tote_order"}),
    (Order, "hood-r", {"hood_order"}),
    (Order, "TOTE", {"tote_order"}),
    (Order, lambda shop: shop["tote_order"].number, {"tote_order"}),
    (Order, lambda shop: shop["tote_order"].number[:8].lower(), {"tote_order"}),
    (Order, lambda shop: shop["tote_order"].number[3:], {"tote_order"}),
    (Order, "marguerite hood", {"hood_order"}),
    (Order, "marguerite tote", set()),
    (Order, "RED-M", set()),  # a SKU matches from its start
    # Products: name words (or parts of one), SKU prefixes.
    (Product, "sweat", {"hood_product"}),
    (Product, "HOODED", {"hood_product"}),
    (Product, "tote-n", {"tote_product"}),
    (Product, "canvas tote", {"tote_product"}),
    (Product, "canvas hood", set()),
    # Variants: SKU prefixes, product name words.
    (Variant, "hood-red", {"hood"}),
    (Variant, "canvas", {"tote"}),
    (Variant, "NAT-1", set()),
    # The stock ledger: SKU prefixes, order numbers, reason words.
    (StockMovement, "hood-red", {"hood_stocked", "hood_sold"}),
    (StockMovement, "tote", {"tote_stocked", "tote_sold", "recount"}),
    (StockMovement, "flood", {"recount"}),
    (StockMovement, lambda shop: shop["hood_order"].number, {"hood_sold"}),
    (StockMovement, lambda shop: shop["hood_order"].number[:8], {"hood_sold"}),
    (StockMovement, "tote flood", {"recount"}),
    # People: email fragments, name words.
    (User, "ateliers", {"marguerite"}),
    (User, "quill@pap", {"bertrand"}),
    (User, "OAKES", {"marguerite"}),
    (User, "marguerite oakes", {"marguerite"}),
    (User, "bertrand oakes", set()),
]


@pytest.mark.parametrize(
    ("model", "term", "expected"),
    CASES,
    ids=[f"{m.__name__}-{t if isinstance(t, str) else 'number'}" for m, t, _ in CASES],
)
def test_search_finds_the_right_rows_and_no_others(admin_client_super, shop, model, term, expected):
    shop = {**shop, "hood_product": shop["hood"].product, "tote_product": shop["tote"].product}
    term = term(shop) if callable(term) else term
    assert _found(admin_client_super, model, term) == {shop[name] for name in expected}


@pytest.fixture
def events(db) -> dict[str, Any]:
    endpoint = Endpoint.objects.create(url="https://hooks.test/in", secret="s" * 32)
    paid = Event.objects.create(type="order.paid")
    changed = Event.objects.create(type="stock.changed")
    return {
        "paid": paid,
        "changed": changed,
        "paid_delivery": Delivery.objects.create(event=paid, endpoint=endpoint),
        "changed_delivery": Delivery.objects.create(event=changed, endpoint=endpoint),
    }


def test_events_and_deliveries_are_found_by_event_id_type_prefix_and_number(
    admin_client_super, events
):
    paid, changed = events["paid"], events["changed"]
    assert _found(admin_client_super, Event, "order.pa") == {paid}
    assert _found(admin_client_super, Event, str(changed.id)) == {changed}
    assert _found(admin_client_super, Event, "paid") == set()  # a type matches from its start
    assert _found(admin_client_super, Delivery, "stock") == {events["changed_delivery"]}
    assert _found(admin_client_super, Delivery, str(paid.id)) == {events["paid_delivery"]}
    number = str(events["changed_delivery"].pk)
    assert events["changed_delivery"] in _found(admin_client_super, Delivery, number)


def _searchable() -> list[admin.ModelAdmin]:
    return [
        model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS and model_admin.search_fields
    ]


@pytest.mark.parametrize("model_admin", _searchable(), ids=lambda a: a.model.__name__)
def test_every_search_says_what_it_matches_on_the_page(admin_client_super, model_admin):
    assert model_admin.search_help_text, f"{model_admin.model.__name__}: no search_help_text"
    opts = model_admin.model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    html = admin_client_super.get(url).content.decode()
    assert escape(model_admin.search_help_text) in html


# (model, term, the index its plan must read)
PLANS = [
    (Order, "ateliers", "user_search_trgm_idx"),
    (Order, "hood-r", "orderline_sku_upper_prefix_idx"),
    (Order, "SR-7KQ", "orders_order_number_"),
    (Product, "sweat", "product_name_upper_trgm_idx"),
    (Product, "hood-r", "variant_sku_upper_prefix_idx"),
    (Variant, "hood-r", "variant_sku_upper_prefix_idx"),
    (Variant, "canvas", "product_name_upper_trgm_idx"),
    (StockMovement, "flood", "movement_reason_trgm_idx"),
    (StockMovement, "hood-r", "variant_sku_upper_prefix_idx"),
    (StockMovement, "SR-7KQ", "catalog_stockmovement_order_number_"),
    (User, "ateliers", "user_search_trgm_idx"),
    (Event, "order.pa", "webhooks_event_type_"),
    (Delivery, "order.pa", "webhooks_event_type_"),
]


def _search_queryset(model: type[Model], term: str, superuser: User) -> Any:
    model_admin = admin.site._registry[model]
    request: Any = RequestFactory().get("/", {"q": term})
    request.user = superuser
    queryset, use_distinct = model_admin.get_search_results(
        request, model_admin.get_queryset(request), term
    )
    assert not use_distinct
    return queryset


@pytest.mark.parametrize(
    ("model", "term", "index"), PLANS, ids=[f"{m.__name__}-{t}" for m, t, _ in PLANS]
)
def test_each_search_can_be_served_by_its_index(superuser, shop, model, term, index):
    queryset = _search_queryset(model, term, superuser)
    plan = plan_with_indexes_only(queryset)
    assert index in plan, plan
    assert not whole_table_reads(plan, BIG), plan


def test_product_search_by_sku_needs_no_distinct(admin_client_super, shop):
    with CaptureQueriesContext(connection) as queries:
        assert _found(admin_client_super, Product, "HOOD-RED-M") == {shop["hood"].product}
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"]]


@pytest.mark.parametrize("model", [Order, Product, Variant, StockMovement, User])
def test_more_words_add_no_queries(admin_client_super, shop, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as one_word:
        admin_client_super.get(url, {"q": "tote"})
    with CaptureQueriesContext(connection) as four_words:
        admin_client_super.get(url, {"q": "tote canvas nat bertrand"})
    # Fewer may be found, and the order list's date hierarchy then probes fewer periods.
    assert len(four_words) <= len(one_word) <= 14


@pytest.mark.parametrize("model", [Order, Product, Variant, StockMovement, User, Event, Delivery])
@pytest.mark.parametrize("term", ["x" * 5000, "\u00b2", '"unclosed', "50%_off \\"])
def test_odd_input_is_a_search_not_an_error(admin_client_super, shop, model, term):
    assert _found(admin_client_super, model, term) == set()


def test_the_product_autocomplete_uses_the_same_search(admin_client_super, shop):
    response = admin_client_super.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "catalog",
            "model_name": "variant",
            "field_name": "product",
            "term": "tote-n",
        },
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["Canvas Tote"]
