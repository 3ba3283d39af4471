"""Every event type Stockroom sends, with the JSON schema of its `data`.

`webhooks/event-types/` serves this list and the OpenAPI document carries the
same schemas (components `EventData<Type>`), so a receiver can validate what
it gets. The schemas are OpenAPI 3.0 schema objects (JSON Schema with
`nullable` for a value that may be null).
"""

import re
from typing import Any

# What an endpoint may subscribe to: an event type (`order.paid`) or `*` for all.
EVENT_TYPE_RE = re.compile(r"^(?:\*|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)\Z")

ORDER_STATUSES = [
    "pending_payment",
    "paid",
    "partially_shipped",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
]

_ORDER: dict[str, Any] = {
    "type": "object",
    "required": ["number", "status", "currency", "total", "refund_due", "tracking_number"],
    "properties": {
        "number": {"type": "string", "description": "The order number."},
        "status": {"type": "string", "enum": ORDER_STATUSES, "description": "After the event."},
        "currency": {"type": "string", "description": "ISO 4217."},
        "total": {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": "Decimal."},
        "refund_due": {"type": "boolean"},
        "tracking_number": {"type": "string"},
    },
    "additionalProperties": True,
}
_ORDER_NOTE: dict[str, Any] = {
    **_ORDER,
    "required": [*_ORDER["required"], "note"],
    "properties": {**_ORDER["properties"], "note": {"type": "string"}},
}
_STOCK: dict[str, Any] = {
    "type": "object",
    "required": ["sku", "stock", "delta", "kind", "order"],
    "properties": {
        "sku": {"type": "string"},
        "stock": {"type": "integer", "minimum": 0, "description": "After the change."},
        "delta": {"type": "integer", "description": "Signed change."},
        "kind": {"type": "string", "description": "The stock movement kind."},
        "order": {"type": "string", "nullable": True, "description": "The order number, if any."},
    },
    "additionalProperties": True,
}
_KEY: dict[str, Any] = {
    "type": "object",
    "required": ["integration", "key", "prefix"],
    "properties": {
        "integration": {"type": "integer"},
        "key": {"type": "integer", "description": "The API key's id (never the key)."},
        "prefix": {"type": "string"},
        "expires_at": {"type": "string", "nullable": True, "format": "date-time"},
    },
    "additionalProperties": True,
}

EVENT_TYPES: dict[str, tuple[str, dict[str, Any]]] = {
    "order.placed": ("An order was placed (status pending).", _ORDER),
    "order.paid": ("An order was paid.", _ORDER),
    "order.cancelled": ("An order was cancelled; its stock returned.", _ORDER),
    "order.shipped": ("An order was shipped.", _ORDER),
    "order.delivered": ("An order was delivered.", _ORDER),
    "order.refunded": ("An order was refunded.", _ORDER),
    "order.payment_failed": ("A payment for an order failed.", _ORDER_NOTE),
    "order.payment_mismatch": ("A payment did not match the order's total.", _ORDER_NOTE),
    "order.payment_unallocatable": (
        "A late payment for a cancelled order whose stock is gone: refund due.",
        _ORDER_NOTE,
    ),
    "order.payment_duplicate": ("A second payment for a paid order.", _ORDER_NOTE),
    "stock.changed": ("A variant's stock changed (one event per ledger row).", _STOCK),
    "integration.key_created": ("An API key was created for an integration.", _KEY),
    "integration.key_revoked": ("An integration's API key was revoked.", _KEY),
}


def event_types() -> list[dict[str, Any]]:
    return [
        {"type": name, "description": description, "data_schema": schema}
        for name, (description, schema) in EVENT_TYPES.items()
    ]


def component_name(event_type: str) -> str:
    return "EventData" + "".join(p.capitalize() for p in event_type.replace(".", "_").split("_"))


def schema_add_event_types(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: one component per event type's `data`."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, (description, schema) in EVENT_TYPES.items():
        schemas[component_name(name)] = {**schema, "description": f"`{name}`: {description}"}
    return result
