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


def _money(description: str = "Decimal.") -> dict[str, Any]:
    return {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": description}


_PRICED_LINE: dict[str, Any] = {
    "type": "object",
    "required": ["sku", "quantity", "unit_price", "discount", "tax_rate", "tax", "line_total"],
    "properties": {
        "sku": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1},
        "unit_price": _money("As in the catalog when the order was placed."),
        "discount": _money("Promotion and voucher, for the whole line."),
        "tax_rate": _money("Percent."),
        "tax": _money(),
        "line_total": _money("What the customer pays for the line."),
    },
    "additionalProperties": True,
}
_ORDER: dict[str, Any] = {
    "type": "object",
    "required": [
        "number",
        "status",
        "currency",
        "subtotal",
        "discount_total",
        "shipping_method",
        "shipping_total",
        "tax_total",
        "total",
        "prices_include_tax",
        "voucher_code",
        "refund_due",
        "tracking_number",
    ],
    "properties": {
        "number": {"type": "string", "description": "The order number."},
        "status": {"type": "string", "enum": ORDER_STATUSES, "description": "After the event."},
        "currency": {"type": "string", "description": "ISO 4217."},
        "subtotal": _money("The lines before discounts."),
        "discount_total": _money(),
        "shipping_method": {
            "type": "string",
            "nullable": True,
            "description": "The shipping method's code.",
        },
        "shipping_total": _money(),
        "tax_total": _money("Included in the amounts, or added to them (prices_include_tax)."),
        "total": _money(),
        "prices_include_tax": {"type": "boolean"},
        "voucher_code": {"type": "string", "nullable": True},
        "refund_due": {"type": "boolean"},
        "tracking_number": {"type": "string"},
        "lines": {
            "type": "array",
            "items": _PRICED_LINE,
            "description": "`order.placed` only: the lines as priced.",
        },
    },
    "additionalProperties": True,
}
_RECORD_LINES: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["sku", "quantity"],
        "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 0}},
        "additionalProperties": True,
    },
}
_REFUND: dict[str, Any] = {
    "type": "object",
    "required": ["id", "status", "amount", "tax", "include_shipping", "lines"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
        "amount": _money("What the customer gets back, tax included."),
        "tax": _money("The tax inside `amount`."),
        "include_shipping": {"type": "boolean"},
        "lines": {
            **_RECORD_LINES,
            "items": {
                **_RECORD_LINES["items"],
                "required": ["sku", "quantity", "amount", "tax"],
                "properties": {
                    **_RECORD_LINES["items"]["properties"],
                    "amount": _money("What these units were paid, tax included."),
                    "tax": _money("The tax inside `amount`."),
                },
            },
        },
    },
    "additionalProperties": True,
}


def _order_with(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """An order event's data that also carries a fulfilment record under `name`."""
    return {
        **_ORDER,
        "required": [*_ORDER["required"], name],
        "properties": {**_ORDER["properties"], name: record},
    }


_RECORD: dict[str, Any] = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "integer"}, "lines": _RECORD_LINES},
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
    "order.partially_shipped": ("Part of an order was shipped.", _ORDER),
    "order.shipment_created": ("A shipment of an order.", _order_with("shipment", _RECORD)),
    "order.return_requested": ("A return was requested.", _order_with("return", _RECORD)),
    "order.return_approved": ("A return was approved.", _order_with("return", _RECORD)),
    "order.return_rejected": ("A return was rejected.", _order_with("return", _RECORD)),
    "order.return_received": ("A return was received.", _order_with("return", _RECORD)),
    "order.refund_created": ("A refund is pending.", _order_with("refund", _REFUND)),
    "order.refund_succeeded": ("A refund was paid out.", _order_with("refund", _REFUND)),
    "order.refund_failed": ("A refund failed.", _order_with("refund", _REFUND)),
    "order.refund_mismatch": (
        "A refund confirmation did not match a pending refund (nothing changed).",
        _ORDER_NOTE,
    ),
    "order.note_added": ("Staff added a note to an order.", _ORDER_NOTE),
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
