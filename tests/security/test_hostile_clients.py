"""Hostile clients (OWASP API Top 10, 2023), generated from the OpenAPI schema.

API1 broken object level authorization: every operation on an object path,
called by a customer with another customer's object, is a 404 that shows none
of their data and changes nothing. API5 broken function level authorization:
every staff operation is a 403 for a customer and a 401 anonymously; every
customer operation a 401 anonymously. API3 broken object property level
authorization (mass assignment): fields that are not writable never change.
The operations come from the schema and `tests/security/access.py` says who
may call each; a new operation fails the completeness test until classified.
"""

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.accounts.factories import DEFAULT_PASSWORD
from tests.security.access import ACCESS
from tests.security.conftest import World, fill, operations, path_for, send

pytestmark = pytest.mark.django_db

ADDRESS = {
    "full_name": "Mallory Attacker",
    "line1": "1 Evil Street",
    "line2": "",
    "city": "Hackney",
    "postal_code": "E8 1AA",
    "country": "GB",
    "phone": "+44 20 7946 0001",
}
# A body the operation accepts, so that only authorization stands in the way.
VALID_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/register/"): {
        "email": "mallory@example.com",
        "password": "a-Long-unusual-passphrase-42",
        "first_name": "Mallory",
    },
    ("PATCH", "/api/v1/me/"): {"first_name": "Changed"},
    ("POST", "/api/v1/me/password/"): {
        "current_password": DEFAULT_PASSWORD,
        "new_password": "another-Long-passphrase-43",
    },
    ("POST", "/api/v1/me/addresses/"): ADDRESS,
    ("PUT", "/api/v1/me/addresses/{id}/"): ADDRESS,
    ("PATCH", "/api/v1/me/addresses/{id}/"): {"city": "Hacked City"},
    ("POST", "/api/v1/categories/"): {"name": "Mass Category"},
    ("PATCH", "/api/v1/categories/{slug}/"): {"description": "changed"},
    ("POST", "/api/v1/products/"): {"name": "Mass Product", "category": "{category}"},
    ("PATCH", "/api/v1/products/{slug}/"): {"description": "changed"},
    ("POST", "/api/v1/variants/"): {
        "product": "{product}",
        "sku": "MASS-1",
        "name": "m",
        "attributes": {},
        "price": "5.00",
    },
    ("PATCH", "/api/v1/variants/{sku}/"): {"name": "changed"},
    ("POST", "/api/v1/variants/{sku}/stock-adjustments/"): {"delta": 5, "reason": "count"},
    ("POST", "/api/v1/orders/"): {
        "lines": [{"sku": "{sku}", "quantity": 1}],
        "shipping_address": ADDRESS,
    },
    ("POST", "/api/v1/orders/quote/"): {
        "lines": [{"sku": "{sku}", "quantity": 1}],
        "shipping_address": ADDRESS,
        "voucher_code": "NOPE",
    },
    ("POST", "/api/v1/orders/{number}/cancel/"): {"reason": "changed my mind"},
    ("POST", "/api/v1/orders/{number}/mark-paid/"): {},
    ("POST", "/api/v1/orders/{number}/ship/"): {"tracking_number": "TRACK-1"},
    ("POST", "/api/v1/orders/{number}/deliver/"): {},
    ("POST", "/api/v1/orders/{number}/refund/"): {"restock": True, "reason": "broken"},
    ("POST", "/api/v1/orders/{number}/shipments/"): {"tracking_number": "TRACK-2"},
    ("POST", "/api/v1/orders/{number}/returns/"): {
        "lines": [{"sku": "{alice_sku}", "quantity": 1}],
        "reason": "too big",
    },
    ("POST", "/api/v1/orders/{number}/refunds/"): {"amount": "1.00", "reason": "late"},
    ("POST", "/api/v1/orders/{number}/notes/"): {"text": "Call before delivery."},
    ("POST", "/api/v1/returns/{id}/approve/"): {"reason": "fine"},
    ("POST", "/api/v1/returns/{id}/reject/"): {"reason": "worn"},
    ("POST", "/api/v1/returns/{id}/receive/"): {},
    ("POST", "/api/v1/webhooks/"): {"url": "https://hooks.example.com/in", "event_types": ["*"]},
    ("PATCH", "/api/v1/webhooks/{id}/"): {"description": "changed"},
    ("POST", "/api/v1/tax-classes/"): {"code": "mass", "name": "Mass"},
    ("PATCH", "/api/v1/tax-classes/{code}/"): {"name": "changed"},
    ("POST", "/api/v1/tax-rates/"): {"country": "DE", "tax_class": "standard", "rate": "19.00"},
    ("PATCH", "/api/v1/tax-rates/{id}/"): {"rate": "20.00"},
    ("POST", "/api/v1/shipping-methods/"): {
        "code": "mass-ship",
        "name": "Mass",
        "price_rule": {"kind": "flat", "price": "1.00"},
        "countries": ["DE"],
    },
    ("PATCH", "/api/v1/shipping-methods/{code}/"): {"name": "changed"},
    ("POST", "/api/v1/vouchers/"): {"code": "MASS", "kind": "percentage", "value": "10.00"},
    ("PATCH", "/api/v1/vouchers/{id}/"): {"active": False},
    ("POST", "/api/v1/promotions/"): {"name": "Mass", "kind": "percentage", "value": "5.00"},
    ("PATCH", "/api/v1/promotions/{id}/"): {"name": "changed"},
    ("POST", "/api/v1/webhooks/{id}/replay/"): {"since": "2020-01-01T00:00:00Z"},
    ("POST", "/api/v1/integrations/"): {"name": "Mass Integration", "role": "Support"},
    ("PATCH", "/api/v1/integrations/{id}/"): {"name": "changed"},
    ("POST", "/api/v1/integrations/{integration_id}/keys/"): {},
    ("POST", "/api/v1/stock/bulk-adjustments/"): {
        "items": [{"sku": "{sku}", "set_to": 7}],
        "reason": "count",
    },
}
# Writes that change no resource of the caller's through the body (credentials, the provider).
NOT_RESOURCE_WRITES = {
    ("POST", "/api/v1/auth/login/"),
    ("POST", "/api/v1/auth/logout/"),
    ("POST", "/api/v1/auth/logout-all/"),
    ("POST", "/api/v1/auth/password-reset/"),
    ("POST", "/api/v1/auth/password-reset/confirm/"),
    ("POST", "/api/v1/payments/webhook/"),
}
# Fields no client may ever set, whatever the endpoint says about them.
ALWAYS_PROTECTED = {
    "id": 987654,
    "is_staff": True,
    "is_superuser": True,
    "is_active": False,
    "date_joined": "2001-01-01T00:00:00Z",
    "last_login": "2001-01-01T00:00:00Z",
    "created_at": "2001-01-01T00:00:00Z",
    "updated_at": "2001-01-01T00:00:00Z",
    "user": 987654,
    "groups": [1],
    "user_permissions": [1],
    "password": "hacked-password-123",
    "stock": 987654,
    "status": "hacked",
    "number": "SR-HACKED",
    "total": "0.01",
    "subtotal": "0.01",
    "email": "hacked@example.com",
}


def _ops(openapi, access):
    return sorted(op for op in operations(openapi) if ACCESS.get(op) == access)


def test_every_operation_is_classified(openapi):
    assert sorted(set(operations(openapi)) - set(ACCESS)) == [], "classify in access.py"
    assert sorted(set(ACCESS) - set(operations(openapi))) == [], "gone from the schema"


def test_every_write_has_a_valid_body_or_is_not_a_resource_write(openapi):
    writes = {op for op in operations(openapi) if op[0] in {"POST", "PUT", "PATCH"}}
    assert sorted(writes - set(VALID_BODIES) - NOT_RESOURCE_WRITES) == []


# --- API5: function level authorization --------------------------------------


def test_anonymous_callers_get_401_on_every_customer_and_staff_operation(openapi, world: World):
    guarded = _ops(openapi, "user") + _ops(openapi, "staff")
    assert len(guarded) > 30
    for method, path in guarded:
        url = path_for(path, owner=world.alice, world=world)
        response = send(world.anonymous, method, url, fill(VALID_BODIES.get((method, path)), world))
        assert response.status_code == 401, (method, path, response.content)
        assert response.json()["code"] == "not_authenticated", (method, path)


def test_customers_get_403_on_every_staff_operation(openapi, world: World):
    staff_ops = _ops(openapi, "staff")
    assert len(staff_ops) > 15
    for method, path in staff_ops:
        # The customer's own order: a 404 for someone else's would hide the 403.
        url = path_for(path, owner=world.alice, world=world)
        body = fill(VALID_BODIES.get((method, path)), world)
        response = send(world.alice.client, method, url, body)
        assert response.status_code == 403, (method, path, response.content)
        assert response.json()["code"] == "permission_denied", (method, path)


def test_public_operations_answer_anonymous_callers_without_401_or_403(openapi, world: World):
    for method, path in _ops(openapi, "public"):
        url = path_for(path, owner=world.alice, world=world)
        response = send(world.anonymous, method, url, fill(VALID_BODIES.get((method, path)), world))
        assert response.status_code not in {401, 403}, (method, path, response.content)
        assert response.status_code < 500, (method, path)


# --- API1: object level authorization ----------------------------------------


def _object_ops(openapi):
    return [(m, p) for m, p in _ops(openapi, "user") if "{" in p]


def test_another_customers_object_is_404_with_none_of_their_data(openapi, world: World):
    object_ops = _object_ops(openapi)
    assert {p for _, p in object_ops} >= {"/api/v1/me/addresses/{id}/", "/api/v1/orders/{number}/"}
    for method, path in object_ops:
        url = path_for(path, owner=world.bob, world=world)
        body = fill(VALID_BODIES.get((method, path)), world)
        response = send(world.alice.client, method, url, body)
        assert response.status_code == 404, (method, path, response.content)
        assert response.json() == {"code": "not_found", "detail": "Not found."}, (method, path)

    bob = world.bob
    assert bob.user.addresses.get(pk=bob.owns["id"]).city == "bobville"
    assert bob.user.orders.get(number=bob.owns["number"]).status == "pending_payment"


def test_lists_and_exports_never_show_another_customers_data(openapi, world: World):
    reads = [(m, p) for m, p in _ops(openapi, "user") if m == "GET" and "{" not in p]
    assert len(reads) >= 4
    for method, path in reads:
        response = send(world.alice.client, method, path)
        assert response.status_code == 200, (method, path)
        text = response.content.decode()
        leaked = [secret for secret in world.bob.secrets if secret in text]
        assert leaked == [], (method, path)
        assert world.alice.owns["number"] in text or path != "/api/v1/orders/"


# --- API3: mass assignment ----------------------------------------------------


def _response_schema(openapi, method: str, path: str) -> dict[str, Any]:
    responses = openapi["paths"][path][method.lower()]["responses"]
    for code in ("200", "201"):
        content = responses.get(code, {}).get("content", {}).get("application/json")
        if content:
            schema = content["schema"]
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[-1]
                return openapi["components"]["schemas"][name]
            return schema
    return {}


def _request_fields(openapi, method: str, path: str) -> set[str]:
    body = openapi["paths"][path][method.lower()].get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return {name for name, prop in schema.get("properties", {}).items() if not prop.get("readOnly")}


def _bogus(prop: dict[str, Any]) -> Any:
    if prop.get("type") == "integer":
        return 987654
    if prop.get("format") == "date-time":
        return "2001-01-01T00:00:00Z"
    if prop.get("type") == "array":
        return ["hacked"]
    if prop.get("type") == "object":
        return {"hacked": "yes"}
    if prop.get("type") == "boolean":
        return None  # nothing to compare a flag against; users' flags are checked in the DB
    return "hacked-value"


MASS_ASSIGNMENT_OPS = sorted(VALID_BODIES)
# Operations that need the order (or return) in another state first: steps taken by
# staff, as paths under /api/v1/ with the owner's `{number}` and `{return}`.
BEFORE: dict[str, list[tuple[str, dict[str, str]]]] = {
    "/api/v1/orders/{number}/ship/": [("orders/{number}/mark-paid/", {})],
    "/api/v1/orders/{number}/deliver/": [
        ("orders/{number}/mark-paid/", {}),
        ("orders/{number}/ship/", {"tracking_number": "T"}),
    ],
    "/api/v1/orders/{number}/refund/": [("orders/{number}/mark-paid/", {})],
    "/api/v1/orders/{number}/shipments/": [("orders/{number}/mark-paid/", {})],
    "/api/v1/orders/{number}/refunds/": [("orders/{number}/mark-paid/", {})],
    "/api/v1/orders/{number}/returns/": [
        ("orders/{number}/mark-paid/", {}),
        ("orders/{number}/ship/", {"tracking_number": "T"}),
    ],
    "/api/v1/returns/{id}/receive/": [("returns/{return}/approve/", {})],
}


@pytest.mark.parametrize(
    ("method", "path"), MASS_ASSIGNMENT_OPS, ids=[" ".join(op) for op in MASS_ASSIGNMENT_OPS]
)
def test_fields_that_are_not_writable_never_change(openapi, world: World, method, path):
    access = ACCESS[(method, path)]
    caller = {"public": None, "user": world.alice, "staff": world.staff}[access]
    response_schema = _response_schema(openapi, method, path)
    writable = _request_fields(openapi, method, path)
    injected = {
        name: _bogus(prop)
        for name, prop in response_schema.get("properties", {}).items()
        if prop.get("readOnly") and name not in writable
    }
    injected |= {k: v for k, v in ALWAYS_PROTECTED.items() if k not in writable}
    injected = {k: v for k, v in injected.items() if v is not None}
    body = fill(VALID_BODIES[(method, path)], world) | injected

    client = caller.client if caller else world.anonymous
    for step, arguments in BEFORE.get(path, []):
        step_url = "/api/v1/" + step.format(**world.alice.owns)
        assert send(world.staff.client, "POST", step_url, arguments).status_code == 200
    url = path_for(path, owner=world.alice, world=world)
    response = send(client, method, url, body)

    assert response.status_code < 500, (method, path, response.content)
    assert response.status_code in {200, 201, 202, 204}, (method, path, response.content)
    if response.status_code in {200, 201}:
        data = response.json()
        changed = {k: data[k] for k, v in injected.items() if k in data and data[k] == v}
        assert changed == {}, (method, path)
    User = get_user_model()
    assert not User.objects.filter(is_superuser=True).exclude(pk=world.staff.user.pk).exists()
    # Integrations' service accounts are staff by design, each made with its integration.
    other_staff = User.objects.filter(is_staff=True).exclude(pk=world.staff.user.pk)
    assert not other_staff.filter(integration__isnull=True).exists()
    assert not User.objects.filter(email="hacked@example.com").exists()
    assert User.objects.get(pk=world.alice.user.pk).check_password(
        "another-Long-passphrase-43" if path == "/api/v1/me/password/" else DEFAULT_PASSWORD
    )


def test_mass_assignment_requests_mostly_succeed(openapi, world: World):
    """The check above means something only if the valid bodies are accepted."""
    accepted = []
    for method, path in MASS_ASSIGNMENT_OPS:
        caller = {"public": None, "user": world.alice, "staff": world.staff}[ACCESS[(method, path)]]
        client = caller.client if caller else world.anonymous
        url = path_for(path, owner=world.alice, world=world)
        body = fill(VALID_BODIES[(method, path)], world)
        if send(client, method, url, body).status_code in {200, 201, 202, 204}:
            accepted.append((method, path))
    # They run one after another on the same order and return: only those that need
    # another state first (BEFORE: ship needs paid) or that an earlier one moved past
    # (cancel runs before mark-paid, approve before reject) may refuse.
    moved_past = {
        ("POST", "/api/v1/orders/{number}/mark-paid/"),
        ("POST", "/api/v1/returns/{id}/reject/"),
    }
    refused = set(MASS_ASSIGNMENT_OPS) - set(accepted)
    assert refused <= {("POST", path) for path in BEFORE} | moved_past, sorted(refused)
