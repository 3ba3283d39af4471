"""The OpenAPI schema says what the API validates: data it calls valid is accepted.

For every operation, schemathesis generates requests the schema calls valid
(its positive phase) and they are sent in-process, as a caller allowed to make
them, against seeded objects. An operation that refuses many of them with 400
`invalid` validates something (a pattern, an enum, a length, a range) that the
schema does not tell clients; its generated requests then mostly test the
refusal and client generators build requests the API refuses.

No schema can know which objects exist, so references in bodies and paths are
pointed at seeded ones; and a few operations check what only the server knows
(UNDESCRIBABLE): those are left out.
"""

import json
import re
from collections import Counter
from decimal import Decimal
from itertools import product as pairs
from string import ascii_uppercase
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.cache import cache
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from rest_framework import serializers
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.core import NotSet

from accounts.countries import COUNTRY_CODE_PATTERN, COUNTRY_CODES
from catalog.models import Product
from core import idempotency
from core.openapi import decimal_pattern
from tests.catalog.factories import CategoryFactory, VariantFactory
from tests.fuzz.seed import World, world_build

pytestmark = pytest.mark.django_db

EXAMPLES = 12
# At most this many of an operation's EXAMPLES may be refused as `invalid`:
# values a schema cannot exclude (a NUL character, a blank-after-trimming
# name, a too common password) still come up now and then.
REFUSED_AT_MOST = 3
UNDESCRIBABLE = {
    ("POST", "/api/v1/auth/login/"): "the credentials must be an account's",
    ("POST", "/api/v1/auth/password-reset/confirm/"): "the token must be one the server sent",
    ("POST", "/api/v1/me/password/"): "the current password must be the caller's",
    ("DELETE", "/api/v1/me/"): "the password must be the caller's",
    ("POST", "/api/v1/payments/webhook/"): "the signature must be the provider's, made just now",
    ("POST", "/api/v1/auth/logout/"): "ends the caller's session (nothing to validate)",
    ("POST", "/api/v1/auth/logoutall/"): "ends the caller's sessions (nothing to validate)",
    ("POST", "/api/v1/integrations/"): "the role must be an existing staff role",
    ("POST", "/api/v1/vouchers/"): "categories and products must exist",
}


PLACE_ORDER = ("POST", "/api/v1/orders/")
# The customer's own: addresses, an order and its quote (both may name an address of theirs).
CUSTOMER_OWN = {PLACE_ORDER, ("POST", "/api/v1/orders/quote/")}


class _Rollback(Exception):
    pass


def _cases(operation: Any) -> list[Any]:
    cases: list[Any] = []

    @settings(
        max_examples=EXAMPLES,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases


def _point_at_seeded_objects(
    body: Any, references: dict[str, str], skus: list[str], world: World
) -> None:
    if not isinstance(body, dict):
        return
    for name, value in references.items():
        if isinstance(body.get(name), str):
            body[name] = value
    if "address_id" in body:
        body["address_id"] = int(world.alice.owns["id"])
    # One SKU per line (lines of one SKU are merged, and their sum may pass the limit;
    # a bulk stock request lists each SKU once).
    for name in ("lines", "items"):
        lines = body.get(name)
        if not isinstance(lines, list):
            continue
        del lines[len(skus) :]
        for line, sku in zip(lines, skus, strict=False):
            if isinstance(line, dict) and "sku" in line:
                line["sku"] = sku


def _server_given(query: dict[str, Any]) -> None:
    """Leave out what a schema cannot describe in a query: a cursor is one the server gave,
    and cursor pages (asked for by `updated_after`) are ordered by last change only."""
    query.pop("cursor", None)
    if query.get("updated_after") and query.get("ordering") not in (None, "", "updated_at"):
        del query["ordering"]


def _send(client: APIClient, method: str, path: str, case: Any, schemas: dict[str, Any]) -> Any:
    # schemathesis draws header values from an alphabet of its own (a tab is
    # valid in HTTP) and may miss the header's pattern: such a value is left out.
    headers = {
        f"HTTP_{name.upper().replace('-', '_')}": value
        for name, value in (case.headers or {}).items()
        if name.lower() != "authorization"
        and Draft4Validator(schemas.get(name.lower(), {})).is_valid(value)
    }
    body = {}
    if not isinstance(case.body, NotSet):
        body = {"data": json.dumps(case.body), "content_type": "application/json"}
    query = f"?{urlencode(case.query, doseq=True)}" if case.query else ""
    # Each request leaves no trace, so that no case depends on another.
    cache.delete_pattern("*throttle*")  # type: ignore[attr-defined]  # django-redis
    try:
        with transaction.atomic():
            response = getattr(client, method.lower())(path + query, **body, **headers)
            raise _Rollback(response)
    except _Rollback as rollback:
        return rollback.args[0]


def test_requests_the_schema_calls_valid_are_not_refused_as_invalid():
    world = world_build()
    parent = CategoryFactory(slug="fuzz-parent")
    product = Product.objects.get(slug=world.public["slug"])
    skus = [
        VariantFactory(product=product, sku=f"FUZZ-LINE-{n}", stock=1_000_000).sku
        for n in range(20)
    ]
    staff, customer = APIClient(), APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {world.staff.token}")
    customer.credentials(HTTP_AUTHORIZATION=f"Token {world.alice.token}")
    document = json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))
    references = {
        "category": world.public["category"],
        "parent": parent.slug,
        "product": world.public["slug"],
        "shipping_method": "standard",
        "tax_class": "standard",
    }
    refused: dict[str, Counter[str]] = {}
    checked = 0
    for result in schemathesis.openapi.from_dict(document).get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # the schema loads (or raises)
        method, template = operation.method.upper(), operation.path
        if (method, template) in UNDESCRIBABLE:
            continue
        own = template.startswith("/api/v1/me/") or (method, template) in CUSTOMER_OWN
        client = customer if own else staff
        names = {
            **world.public,
            **(world.alice.owns if own else world.staff.owns),
            "number": world.alice.owns["number"],
        }
        if template.startswith("/api/v1/categories/"):
            names["slug"] = world.public["category"]
        path = template
        for name, value in names.items():
            path = path.replace(f"{{{name}}}", value)
        header_schemas = {
            parameter["name"].lower(): parameter.get("schema", {})
            for parameter in document["paths"][template][method.lower()].get("parameters", [])
            if parameter["in"] == "header"
        }
        errors: Counter[str] = Counter()
        for case in _cases(operation):
            _point_at_seeded_objects(case.body, references, skus, world)
            if case.query:
                _server_given(case.query)
            response = _send(client, method, path, case, header_schemas)
            if response.status_code == 400 and response.json()["code"] == "invalid":
                errors.update(list(response.json().get("errors", {})))
                errors["(requests)"] += 1
        checked += 1
        if errors["(requests)"] > REFUSED_AT_MOST:
            refused[f"{method} {template}"] = errors
    assert checked > 30
    assert refused == {}, f"refused of {EXAMPLES} (and the fields named): {refused}"


@pytest.mark.parametrize("low", [None, Decimal(0), Decimal("0.01")])
def test_every_string_the_decimal_pattern_allows_is_read_by_the_field(low):
    field = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=low)
    # ECMA-262's `$` is the end of the text; Python's `\Z` is.
    pattern = decimal_pattern(field).replace("$", r"\Z")

    @given(st.from_regex(pattern))
    @settings(max_examples=200, deadline=None, database=None)
    def read(text: str) -> None:
        field.run_validation(text)

    read()


@pytest.mark.parametrize(
    ("low", "refused"),
    [
        (None, ["", ".", "-", "1.234", "12345678901"]),
        (Decimal(0), ["-1", "-0.01"]),
        (Decimal("0.01"), ["0", "0.00", "-1", ".0"]),
    ],
)
def test_the_decimal_pattern_refuses_what_the_field_refuses(low, refused):
    field = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=low)
    pattern = decimal_pattern(field)
    for text in refused:
        assert not re.search(pattern.replace("$", r"\Z"), text), text
        with pytest.raises(serializers.ValidationError):
            field.run_validation(text)


def test_the_country_pattern_is_the_country_codes_in_either_case():
    pattern = re.compile(COUNTRY_CODE_PATTERN)
    for first, second in pairs(ascii_uppercase, repeat=2):
        code = first + second
        for spelling in (code, code.lower(), first + second.lower()):
            assert bool(pattern.match(spelling)) == (code in COUNTRY_CODES), spelling


@given(st.text(min_size=1, max_size=idempotency.KEY_MAX_LENGTH))
@settings(max_examples=300, deadline=None, database=None)
def test_the_idempotency_key_pattern_is_what_the_server_accepts(key):
    accepted = idempotency.key_error(key) is None
    assert bool(re.search(idempotency.KEY_PATTERN.replace("$", r"\Z"), key)) == accepted


def _rate_field() -> serializers.Field:
    from pricing.api.serializers import TaxRateSerializer

    return TaxRateSerializer().fields["rate"]


def test_every_rate_the_percent_pattern_allows_is_read_by_the_field():
    from pricing.api.serializers import PercentAtMostHundred

    field = _rate_field()
    pattern = PercentAtMostHundred.openapi_schema["pattern"].replace("$", r"\Z")

    @given(st.from_regex(pattern))
    @settings(max_examples=300, deadline=None, database=None)
    def read(text: str) -> None:
        field.run_validation(text)

    read()
    for text in ("100.01", "101", "431.53", "-1", "1.234", "", "."):
        assert not re.search(pattern, text), text
        with pytest.raises(serializers.ValidationError):
            field.run_validation(text)
