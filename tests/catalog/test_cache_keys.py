"""A cached answer is the one the view computes for the same request, whatever its query string.

Generated query strings over the list's parameters (repeated, empty, unknown,
other spellings of one value, other cases of a name, any order) are each
answered once on a cold cache; then all of them again, in another order and
by anonymous callers (the fast path) and customers (the view) in turn, so an
entry stored for one query string is offered to every other. Every answer
must be byte for byte the cold one, and current ones must come from the cache.
"""

from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalog import cache as catalog_cache
from core.throttling import ClientRateThrottle
from tests.accounts.factories import UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"
VALUES = {
    "in_stock": ["true", "True", "TRUE", "1", "yes", "on", "false", "0", "no", "", "null", "x"],
    "page": ["1", "2", "02", "3", "", "last", "0", "-1", "x", " 2", "+2", "9" * 30],
    "page_size": ["1", "2", "02", "3", "", "200", "0", "x"],
    "search": ["", "alpha", "Alpha", " alpha ", "beta", "ALPHA-1", "alpha -gamma", "zzz"],
    "category": ["", "shirts", "tees", "mugs", "Shirts", "nope", " shirts", "not a slug"],
    "min_price": ["", "5", "5.0", "5.00", "05", "1e1", "10", "-1", "x", "7.5"],
    "max_price": ["", "9", "9.00", "20", "1e1", "x"],
    "ordering": ["", "price", "-price", "name", "-name", "created_at", "Price", "bogus"],
}
NAMES = [*VALUES, "In_stock", "PAGE", "Search", "utm_source", "format", "foo"]
ALL_VALUES = [value for values in VALUES.values() for value in values]


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(NAMES),
                st.one_of(st.sampled_from(ALL_VALUES), st.text(max_size=4)),
                st.sampled_from(["=", "=", ""]),
            ),
            max_size=6,
        )
    )
    parts = []
    for name, value, separator in pairs:
        if name == "format":  # DRF's format override: only JSON is cached
            value = "json"
        if name in VALUES and draw(st.booleans()):
            value = draw(st.sampled_from(VALUES[name]))
        parts.append(f"{name}{separator}{quote(value) if separator else ''}")
    return "&".join(parts)


@st.composite
def related_query_strings(draw: st.DrawFn) -> list[str]:
    """A query string and others near it: a parameter repeated (maybe empty), another
    spelling of a value, an unknown parameter, the parameters in another order."""
    base = draw(query_strings())
    related = [base]
    for _ in range(draw(st.integers(1, 4))):
        parts = [part for part in related[-1].split("&") if part]
        name = draw(st.sampled_from(list(VALUES)))
        change = draw(st.integers(0, 4))
        if change == 0 and parts:  # a parameter given again, empty or not
            again = draw(st.sampled_from(parts)).partition("=")[0]
            parts.append(f"{again}={draw(st.sampled_from(['', *VALUES.get(again, ['1'])]))}")
        elif change == 4:  # a parameter added, maybe empty
            parts.append(f"{name}={quote(draw(st.sampled_from(['', *VALUES[name]])))}")
        elif change == 1:  # another value, or another spelling of it
            parts = [p for p in parts if not p.startswith(f"{name}=")]
            parts.append(f"{name}={quote(draw(st.sampled_from(VALUES[name])))}")
        elif change == 2:  # an unknown parameter, or a known name in another case
            parts.append(f"{draw(st.sampled_from(NAMES[len(VALUES) :]))}=1")
        else:
            parts = draw(st.permutations(parts))
        related.append("&".join(parts))
    return list(dict.fromkeys(related))


@pytest.fixture
def catalog(monkeypatch):
    monkeypatch.setattr(
        ClientRateThrottle, "THROTTLE_RATES", {"anon": "1000000/min", "user": "1000000/min"}
    )
    shirts = CategoryFactory(slug="shirts")
    tees = CategoryFactory(slug="tees", parent=shirts)
    mugs = CategoryFactory(slug="mugs")
    specs = [
        ("alpha-tee", "Alpha Tee", tees, "ALPHA-1", "5.00", 3),
        ("alpha-shirt", "Alpha Gamma Shirt", shirts, "ALPHA-2", "9.00", 0),
        ("beta-mug", "Beta Mug", mugs, "BETA-1", "7.50", 1),
        ("gamma-mug", "Gamma Mug", mugs, "GAMMA-1", "12.00", 0),
        ("delta-tee", "Delta Tee", tees, "DELTA-1", "20.00", 2),
    ]
    for slug, name, category, sku, price, stock in specs:
        product = ProductFactory(slug=slug, name=name, category=category)
        VariantFactory(product=product, sku=sku, price=Decimal(price), stock=stock)
    ProductFactory(slug="hidden", name="Alpha Hidden", category=tees, is_published=False)
    ProductFactory(slug="no-variant", name="Epsilon", category=mugs)
    catalog_cache.invalidate()


SETTINGS = hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _answer(response) -> tuple[int, bytes]:
    return response.status_code, response.content


@SETTINGS
@given(
    queries=st.one_of(
        related_query_strings(), st.lists(query_strings(), min_size=2, max_size=6, unique=True)
    ),
    data=st.data(),
)
def test_a_list_from_the_cache_is_the_list_the_view_computes(api_client, catalog, queries, data):
    customer = token_client(UserFactory())
    cold = {}
    for query in queries:
        catalog_cache.invalidate()
        response = api_client.get(f"{LIST}?{query}")
        assert response.get("X-Cache") == "MISS" or response.status_code != 200
        cold[query] = _answer(response)
    catalog_cache.invalidate()
    warm_order = data.draw(st.permutations(queries + queries))
    seen: set[str] = set()
    for query in warm_order:
        client = data.draw(st.sampled_from([api_client, customer]), label="caller")
        response = client.get(f"{LIST}?{query}")
        assert _answer(response) == cold[query], query
        if query in seen and response.status_code == 200:
            assert response["X-Cache"] == "HIT"
        seen.add(query)


DETAILS = ["alpha-tee", "beta-mug", "hidden", "missing", "ALPHA-TEE", "no-variant"]


@SETTINGS
@given(
    requests=st.lists(st.tuples(st.sampled_from(DETAILS), query_strings()), min_size=2, max_size=6),
    data=st.data(),
)
def test_a_product_page_from_the_cache_is_the_one_the_view_computes(
    api_client, catalog, requests, data
):
    customer = token_client(UserFactory())
    urls = [f"{LIST}{slug}/?{query}" for slug, query in requests]
    cold = {}
    for url in urls:
        catalog_cache.invalidate()
        cold[url] = _answer(api_client.get(url))
    catalog_cache.invalidate()
    for url in data.draw(st.permutations(urls + urls)):
        client = data.draw(st.sampled_from([api_client, customer]), label="caller")
        assert _answer(client.get(url)) == cold[url], url


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("in_stock=true", "in_stock=true&in_stock="),
        ("in_stock=true", "in_stock=false"),
        ("page_size=2&page=2", "page_size=2&page=2&page="),
        ("search=alpha", "search=alpha&search="),
        ("page_size=2", "page_size=2&page=2"),
    ],
)
def test_the_reported_poisonings_are_not_served(api_client, catalog, first, second):
    cold = _answer(api_client.get(f"{LIST}?{second}"))
    catalog_cache.invalidate()
    api_client.get(f"{LIST}?{first}")
    assert _answer(api_client.get(f"{LIST}?{second}")) == cold


@pytest.mark.parametrize("name", ["in_stock", "page", "page_size", "search", "ordering"])
def test_a_repeated_parameter_is_400_invalid_naming_it(api_client, catalog, name):
    response = api_client.get(f"{LIST}?{name}=1&{name}=2")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == [name]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("in_stock=True", "in_stock=1"),
        ("page_size=2&page=02", "page=2&page_size=2&utm_source=x"),
        ("min_price=5", "min_price=5.00"),
        ("search=%20alpha%20", "search=alpha"),
    ],
)
def test_spellings_of_one_request_share_one_entry(api_client, catalog, one, other):
    first = api_client.get(f"{LIST}?{one}")
    again = api_client.get(f"{LIST}?{other}")
    assert (first["X-Cache"], again["X-Cache"]) == ("MISS", "HIT")
    assert again.content == first.content


def test_page_links_carry_the_parsed_query_not_the_raw_one(api_client, catalog):
    body = api_client.get(f"{LIST}?utm_source=x&in_stock=True&page_size=02&search=").json()
    assert body["next"] == "http://testserver/api/v1/products/?in_stock=true&page=2&page_size=2"
    second = api_client.get(body["next"]).json()
    assert second["previous"] == "http://testserver/api/v1/products/?in_stock=true&page_size=2"
