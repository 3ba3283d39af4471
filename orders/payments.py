"""The payment provider's webhook: signature check and applying each event once."""

import hashlib
import hmac
import re
import time
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from catalog.exceptions import InsufficientStock
from orders.exceptions import InvalidSignature
from orders.fulfilment import refund_confirm
from orders.models import Order, OrderStatus, PaymentEvent
from orders.services import order_event_note, order_transition

SIGNATURE_TOLERANCE_SECONDS = 300


# Exactly `t=<unix seconds>,v1=<64 lowercase hex>` (also the schema's pattern): ASCII
# digits only (str.isdigit() takes "²", which int() refuses) and a bounded `t`
# (int() refuses thousands of digits).
SIGNATURE_PATTERN = r"^t=([0-9]{1,12}),v1=([0-9a-f]{64})$"
_SIGNATURE = re.compile(SIGNATURE_PATTERN)


def payment_signature_verify(
    *, header: str | None, body: bytes, secret: str, now: float | None = None
) -> None:
    """Check `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`; raise InvalidSignature.

    Any header that is not exactly that format (SIGNATURE_PATTERN: no spaces,
    one `t` of ASCII digits, one `v1` of 64 lowercase hex digits) is refused
    before anything is computed. The digest is compared in constant time; `t`
    must be within five minutes of now (either way), so a captured request
    cannot be replayed later.
    """
    if not header or not secret:
        raise InvalidSignature()
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        raise InvalidSignature()
    timestamp, candidate = match.groups()
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > SIGNATURE_TOLERANCE_SECONDS:
        raise InvalidSignature("The Payment-Signature timestamp is outside the tolerance.")
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), candidate.encode()):
        raise InvalidSignature()


def _storable(value: Any) -> Any:
    """`value` with NUL characters replaced: PostgreSQL's jsonb cannot store \\u0000."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def payment_event_apply(
    *,
    event_id: str,
    type: str,
    order_number: str,
    amount: Decimal,
    currency: str,
    payload: dict[str, Any],
    refund_id: int | None = None,
) -> str:
    """Apply one provider event exactly once; returns the outcome (also stored).

    The PaymentEvent row is inserted in the same transaction as the effect: a
    simultaneous duplicate waits on the unique index and then finds the id
    taken ("duplicate"), so an event never applies twice. `refund.*` events
    confirm the refund `refund_id` (orders.fulfilment.refund_confirm). The order row is
    locked (waiting for the expiry sweep if it holds it) before it is judged.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = PaymentEvent.objects.create(
                    event_id=event_id,
                    type=type,
                    order_number=order_number,
                    payload=_storable(payload),
                )
        except IntegrityError:
            return "duplicate"
        order = Order.objects.select_for_update().filter(number=order_number).first()
        if type.startswith("refund.") and order is not None:
            outcome = refund_confirm(
                order=order,
                refund_id=refund_id,
                amount=amount,
                currency=currency.upper(),
                succeeded=type == "refund.succeeded",
            )
        else:
            outcome = _apply(order=order, type=type, amount=amount, currency=currency.upper())
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    return outcome


def _apply(*, order: Order | None, type: str, amount: Decimal, currency: str) -> str:
    if order is None:
        return "unknown_order"
    received = f"{amount} {currency} (event)"
    if type == "payment.failed":
        order_event_note(order=order, type="payment_failed", note=f"Payment failed: {received}.")
        return "payment_failed"
    if amount != order.total or currency != order.currency:
        order_event_note(
            order=order,
            type="payment_mismatch",
            note=f"Received {received}, expected {order.total} {order.currency}.",
        )
        return "payment_mismatch"
    if order.status == OrderStatus.PENDING_PAYMENT:
        order_transition(order=order, action="mark-paid", user=None, note="Payment received.")
        return "paid"
    if order.status == OrderStatus.CANCELLED and not order.refund_due:
        try:
            order_transition(
                order=order,
                action="reallocate",
                user=None,
                note="Late payment: stock taken again.",
            )
        except InsufficientStock as exc:
            order_event_note(
                order=order,
                type="payment_unallocatable",
                note=f"Late payment of {received}; stock no longer available: "
                f"{', '.join(s['sku'] for s in exc.extra['shortages'])}. Refund due.",
                refund_due=True,
            )
            return "payment_unallocatable"
        return "reallocated"
    # Paid twice (or after a refund): nothing to change, but staff must see it.
    order_event_note(
        order=order,
        type="payment_duplicate",
        note=f"Another payment of {received} for an order that is {order.status}.",
    )
    return "payment_duplicate"
