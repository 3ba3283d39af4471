"""Hostile inputs, generated: cache keys, signature headers and idempotency keys.

- Public cache poisoning: the product list's query parameters, as the schema
  declares them, in every spelling, repeated, empty, unknown; whatever a first
  caller sends, a second caller gets the answer the view computes for them.
- Signature headers: every `Payment-Signature` value that is not exactly the
  documented format is a 400 `invalid_signature` that uses nothing up, also
  over the wire (gunicorn hands non-ASCII header bytes to Django as latin-1).
- Idempotency keys: any key is either used or refused with a 400 `invalid`,
  never a 500, and a refused one stores nothing.
"""

import json
import string
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalog import cache as catalog_cache
from core.idempotency import KEY_MAX_LENGTH, applies_to, key_error
from core.models import IdempotencyKey
from core.throttling import ClientRateThrottle
from orders.models import PaymentEvent
from tests.accounts.factories import UserFactory
from tests.catalog.factories import CategoryFactory, ProductFactory, VariantFactory
from tests.conftest import token_client
from tests.fuzz.live import LiveServer, call
from tests.security.conftest import operations
from tests.security.strategies import idempotency_keys

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"
HYPOTHESIS = hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _spellings(name: str, schema: dict[str, Any]) -> list[str]:
    """Values for a query parameter of this schema: valid ones in several spellings, and not."""
    if "enum" in schema:
        values = [v for v in schema["enum"] if isinstance(v, str)]
        return [*values, *(v.upper() for v in values), f" {values[0]}", "bogus"]
    kind = schema.get("type")
    if kind == "boolean":
        return ["true", "True", "1", "yes", "on", "false", "False", "0", "no", "null", "maybe"]
    if kind == "integer":
        return ["1", "2", "02", "3", "+2", " 2", "0", "-1", "last", "x", "9" * 25]
    if kind == "number" or schema.get("format") == "decimal":
        return ["5", "5.0", "5.00", "05", "1e1", "7.5", "-1", "x", "9" * 13]
    return ["alpha", "Alpha", " alpha ", "tees", "shirts", "ALPHA-1", "a b", "zzz", "x" * 201]


@pytest.fixture(scope="module")
def list_parameters(openapi) -> dict[str, list[str]]:
    operation = openapi["paths"][LIST]["get"]
    return {
        p["name"]: _spellings(p["name"], p.get("schema", {}))
        for p in operation["parameters"]
        if p["in"] == "query"
    }


@pytest.fixture
def shop(monkeypatch):
    monkeypatch.setattr(
        ClientRateThrottle, "THROTTLE_RATES", {"anon": "1000000/min", "user": "1000000/min"}
    )
    shirts = CategoryFactory(slug="shirts")
    tees = CategoryFactory(slug="tees", parent=shirts)
    for slug, name, category, sku, price, stock in [
        ("alpha-tee", "Alpha Tee", tees, "ALPHA-1", "5.00", 3),
        ("alpha-shirt", "Alpha Shirt", shirts, "ALPHA-2", "9.00", 0),
        ("beta-tee", "Beta Tee", tees, "BETA-1", "7.50", 1),
    ]:
        product = ProductFactory(slug=slug, name=name, category=category)
        VariantFactory(product=product, sku=sku, price=Decimal(price), stock=stock)
    catalog_cache.invalidate()


@st.composite
def _list_queries(draw: st.DrawFn, parameters: dict[str, list[str]]) -> str:
    names = [*parameters, "utm_source", *(name.upper() for name in parameters)]
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(names),
                st.one_of(
                    st.just(""), st.sampled_from([v for vs in parameters.values() for v in vs])
                ),
            ),
            max_size=5,
        )
    )
    spelled: list[tuple[str, str]] = []
    for name, value in pairs:
        if name in parameters and draw(st.booleans()):  # a value that fits the name
            value = draw(st.sampled_from(parameters[name]))
        spelled.append((name, value))
    repeat: bool = draw(st.booleans())
    if spelled and repeat:  # the same parameter again, empty
        spelled.append((spelled[0][0], ""))
    return "&".join(f"{name}={quote(value)}" for name, value in spelled)


@HYPOTHESIS
@given(data=st.data())
def test_no_query_string_makes_the_cache_answer_another_request(
    api_client, shop, list_parameters, data
):
    """Query strings over the parameters the schema declares, each answered cold, then all
    answered again from a cache any of them may have filled: always the cold answer."""
    queries = data.draw(st.lists(_list_queries(list_parameters), min_size=2, max_size=5))
    customer = token_client(UserFactory())
    cold = {}
    for query in queries:
        catalog_cache.invalidate()
        response = api_client.get(f"{LIST}?{query}")
        cold[query] = (response.status_code, response.content)
    catalog_cache.invalidate()
    for query in data.draw(st.permutations(queries + queries)):
        client = data.draw(st.sampled_from([api_client, customer]))
        response = client.get(f"{LIST}?{query}")
        assert (response.status_code, response.content) == cold[query], query
        assert response.status_code < 500


def test_every_idempotent_post_declares_the_key_header_and_its_errors(openapi):
    for method, path in operations(openapi):
        operation = openapi["paths"][path][method.lower()]
        headers = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}
        if not applies_to(method=method, path=path):
            assert "Idempotency-Key" not in headers, (method, path)
            continue
        schema = headers["Idempotency-Key"]["schema"]
        assert (schema["minLength"], schema["maxLength"]) == (1, KEY_MAX_LENGTH), path
        assert {"400", "409", "422"} <= set(operation["responses"]), path


ADDRESS = {
    "full_name": "Key Tester",
    "line1": "1 Test Street",
    "city": "Leeds",
    "postal_code": "LS1 1AA",
    "country": "GB",
}
HOSTILE_KEYS = st.one_of(
    idempotency_keys(),
    st.text(max_size=20),  # control characters, NUL and lone surrogates included
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "\t", "k" * 256, "é" * 255]),
)


@HYPOTHESIS
@given(key=HOSTILE_KEYS)
def test_any_idempotency_key_is_used_or_refused_with_400(key):
    client = token_client(UserFactory())
    response = client.post(
        "/api/v1/me/addresses/", ADDRESS, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    if key_error(key) is None:
        assert response.status_code == 201, response.content
        assert IdempotencyKey.objects.filter(key=key).exists()
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert list(response.json()["errors"]) == ["Idempotency-Key"]
        assert not client.get("/api/v1/me/addresses/").json()["results"]


def test_a_key_with_a_nul_or_a_surrogate_is_400_not_500(user_client):
    for key in ["a\x00b", "\ud800"]:
        response = user_client.post(
            "/api/v1/me/addresses/", ADDRESS, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert not IdempotencyKey.objects.exists()


# Over the wire: urllib sends these as latin-1 bytes, gunicorn hands them to Django as such.
WIRE_SIGNATURES = {
    "superscript_t": "t=\u00b9700000000,v1=" + "a" * 64,
    "huge_t": "t=" + "1" * 5000 + ",v1=" + "a" * 64,
    "latin1_v1": "t=1700000000,v1=" + "\u00e9" * 64,
    "duplicate": "t=1700000000,v1=" + "a" * 64 + ",v1=" + "b" * 64,
    "digits_only": string.digits * 3,
    "empty_parts": ",,,",
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("header", WIRE_SIGNATURES.values(), ids=WIRE_SIGNATURES.keys())
def test_hostile_signature_bytes_over_the_wire_are_400_invalid_signature(
    server: LiveServer, header
):
    body = json.dumps({"id": "evt_wire", "type": "payment.failed", "data": {}}).encode()
    reply = call(
        server,
        "/api/v1/payments/webhook/",
        method="POST",
        data=body,
        headers={"Content-Type": "application/json", "Payment-Signature": header},
    )
    assert reply.status == 400
    assert reply.json()["code"] == "invalid_signature"
    assert not PaymentEvent.objects.exists()
