"""Every write to orders: placing, the one transition service, notes, expiry.

Each service owns its transaction. Stock moves only through catalog.services
(variants locked in primary-key order there); an order row is locked before
its status changes. Every change records its outbox event and its customer
email (emails app) in the same transaction.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ADDRESS_FIELDS, Address
from catalog.models import StockMovementKind
from catalog.services import stock_return, stock_take, variants_lock
from core.errors import FieldInvalid
from emails.models import EmailKind
from emails.services import email_queue
from orders.exceptions import InvalidTransition, TransitionForbidden
from orders.models import (
    ActorKind,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    order_number_generate,
)
from orders.transitions import TRANSITIONS, StockEffect, transition_may_take
from pricing.exceptions import PriceChanged, VoucherInvalid
from pricing.services import OrderPrice, order_price, quote_data, voucher_redeem, voucher_release
from webhooks.services import event_record

CENT = Decimal("0.01")
LINE_QUANTITY_MAX = 1000
NUMBER_ATTEMPTS = 5
EMAIL_KINDS = frozenset({"placed", "paid", "shipped", "cancelled", "refunded"})
ORDER_NUMBER_CONSTRAINT = "orders_order_number_key"  # Django's name for unique=True


def _actor_kind(user: Any, order: Order) -> str:
    """Who acted, as the history shows it: the owner is a customer even if also staff."""
    if user is None:
        return ActorKind.SYSTEM
    if order.user_id == user.pk or not user.is_staff:
        return ActorKind.CUSTOMER
    return ActorKind.STAFF


def order_payload(order: Order, *, lines: Sequence[OrderLine] = ()) -> dict[str, Any]:
    """The `data` of an outgoing order event: status and totals, and `lines` when given."""
    payload: dict[str, Any] = {
        "number": order.number,
        "status": order.status,
        "currency": order.currency,
        "subtotal": str(order.subtotal),
        "discount_total": str(order.discount_total),
        "shipping_method": order.shipping_method_code or None,
        "shipping_total": str(order.shipping_total),
        "tax_total": str(order.tax_total),
        "total": str(order.total),
        "prices_include_tax": order.prices_include_tax,
        "voucher_code": order.voucher_code or None,
        "refund_due": order.refund_due,
        "tracking_number": order.tracking_number,
    }
    if lines:
        payload["lines"] = [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "tax_rate": str(line.tax_rate),
                "tax": str(line.tax),
                "line_total": str(line.line_total),
            }
            for line in lines
        ]
    return payload


def _email_record(*, order: Order, kind: str) -> None:
    """Put the customer's email about `kind` in the outbox, if there is one for it."""
    if kind in EMAIL_KINDS:
        email_queue(kind=EmailKind(f"order_{kind}"), order=order)


def _lines_merge(lines: Sequence[Mapping[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Merge lines of the same SKU: ({sku: quantity}, {sku: index of its first line})."""
    quantities: dict[str, int] = {}
    first_index: dict[str, int] = {}
    for index, line in enumerate(lines):
        sku = str(line["sku"])
        first_index.setdefault(sku, index)
        quantities[sku] = quantities.get(sku, 0) + int(line["quantity"])
    return quantities, first_index


def _number_clash(exc: IntegrityError) -> bool:
    """Whether `exc` is an order number drawn twice (rare: 50 random bits)."""
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint is not None:
        return bool(constraint == ORDER_NUMBER_CONSTRAINT)
    return "number" in str(exc)


def order_place(
    *,
    user: Any,
    lines: Sequence[Mapping[str, Any]],
    shipping_address: Mapping[str, str] | None = None,
    address_id: int | None = None,
    note: str = "",
    shipping_method: str | None = None,
    voucher_code: str | None = None,
    expected_total: Decimal | None = None,
) -> Order:
    """Place an order for `user`: take all stock or nothing, price it, copy prices and address.

    `lines` are `{"sku", "quantity"}` (the same SKU is merged); exactly one of
    `shipping_address` (address fields) and `address_id` (one of the user's
    addresses). Priced by pricing.services.order_price, as the quote is.
    Raises FieldInvalid (unknown or unpublished SKU, foreign address,
    merged quantity over the cap, no shipping method), VoucherInvalid,
    PriceChanged (the total is not `expected_total`) and catalog's
    InsufficientStock; each takes and counts nothing. Returns the order with its
    `line_list` (its lines in id order, as orders.selectors.order_list loads them).
    """
    quantities, first_index, errors, address = order_input(
        user=user, lines=lines, shipping_address=shipping_address, address_id=address_id
    )

    # A clashing order number undoes the whole attempt (its savepoint, or its
    # transaction at the top level) and draws again: cheaper than a savepoint
    # around every order INSERT for a clash that almost never happens.
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        try:
            return _order_place_attempt(
                user=user,
                quantities=quantities,
                first_index=first_index,
                errors=dict(errors),
                address=address,
                note=note,
                shipping_method=shipping_method,
                voucher_code=voucher_code,
                expected_total=expected_total,
            )
        except IntegrityError as exc:
            if attempt == NUMBER_ATTEMPTS or not _number_clash(exc):
                raise
    raise AssertionError("unreachable")


def order_input(
    *,
    user: Any,
    lines: Sequence[Mapping[str, Any]],
    shipping_address: Mapping[str, str] | None = None,
    address_id: int | None = None,
) -> tuple[dict[str, int], dict[str, int], dict[str, list[str]], dict[str, str]]:
    """The order body judged: (quantities by SKU, first index of each SKU, errors, address)."""
    quantities, first_index = _lines_merge(lines)
    errors: dict[str, list[str]] = {}
    if not quantities:
        errors["lines"] = ["An order needs at least one line."]
    if len(quantities) > settings.ORDER_MAX_LINES:
        errors["lines"] = [f"At most {settings.ORDER_MAX_LINES} lines per order."]
    for sku, quantity in quantities.items():
        if not 1 <= quantity <= LINE_QUANTITY_MAX:
            errors[f"lines.{first_index[sku]}.quantity"] = [
                f"The quantity of {sku} must be between 1 and {LINE_QUANTITY_MAX}."
            ]

    address: dict[str, str]
    if address_id is not None:
        saved = Address.objects.filter(pk=address_id, user=user).first()
        if saved is None:
            errors["address_id"] = ["No such address among yours."]
            address = {}
        else:
            address = {field: getattr(saved, field) for field in ADDRESS_FIELDS}
    elif shipping_address is not None:
        address = {field: str(shipping_address.get(field) or "") for field in ADDRESS_FIELDS}
    else:
        errors["shipping_address"] = ["Give shipping_address or address_id."]
        address = {}
    return quantities, first_index, errors, address


def order_price_check(*, price: OrderPrice, expected_total: Decimal | None = None) -> None:
    """Raise what placing an order at `price` must refuse (no method, voucher, total)."""
    priced = price.priced
    if priced.shipping_unknown or priced.shipping_method is None:
        message = (
            "This shipping method does not serve this order."
            if priced.shipping_unknown
            else "No shipping method serves this destination."
        )
        raise FieldInvalid(errors={"shipping_method": [message]})
    state = price.voucher_state
    if state is not None and not state["valid"]:
        raise VoucherInvalid(state["reason"])
    if expected_total is not None and priced.total != expected_total:
        raise PriceChanged(quote=quote_data(price=price))


@transaction.atomic
def _order_place_attempt(
    *,
    user: Any,
    quantities: dict[str, int],
    first_index: dict[str, int],
    errors: dict[str, list[str]],
    address: dict[str, str],
    note: str,
    shipping_method: str | None,
    voucher_code: str | None,
    expected_total: Decimal | None,
) -> Order:
    # Locked now (primary-key order), not re-read when the stock is taken: the
    # rows stay locked one INSERT longer, one query fewer.
    variants = {v.sku: v for v in variants_lock(skus=quantities)}
    for sku, index in first_index.items():
        if sku not in variants:
            errors[f"lines.{index}.sku"] = [f"Unknown or unavailable SKU {sku!r}."]
    if errors:
        raise FieldInvalid(errors=errors)

    price = order_price(
        user=user,
        variants=variants,
        quantities=quantities,
        country=address["country"],
        shipping_method=shipping_method,
        voucher_code=voucher_code,
    )
    order_price_check(price=price, expected_total=expected_total)
    priced = price.priced
    method = priced.shipping_method
    assert method is not None  # order_price_check refused an order without one
    order_lines = [
        OrderLine(
            variant=variants[p.line.sku],
            sku=p.line.sku,
            product_name=variants[p.line.sku].product.name,
            variant_name=variants[p.line.sku].name,
            unit_price=p.line.unit_price,
            quantity=p.line.quantity,
            promotion_discount=p.promotion_discount,
            voucher_discount=p.voucher_discount,
            tax_rate=p.tax_rate,
            tax=p.tax,
            line_total=p.line_total,
        )
        for p in priced.lines
    ]
    order = Order.objects.create(
        number=order_number_generate(),
        user=user,
        status=OrderStatus.PENDING_PAYMENT,
        currency=settings.STORE_CURRENCY,
        subtotal=priced.subtotal,
        discount_total=priced.discount_total,
        shipping_method_code=method.code,
        shipping_method_name=method.name,
        shipping_total=priced.shipping_total,
        tax_total=priced.tax_total,
        total=priced.total,
        prices_include_tax=priced.prices_include_tax,
        voucher_code=priced.voucher_code or "",
        note=note,
        **{f"shipping_{field}": value for field, value in address.items()},
    )
    if price.voucher is not None:
        voucher_redeem(voucher=price.voucher, order=order, user=user)
    stock_take(
        quantities={variants[sku].pk: quantity for sku, quantity in quantities.items()},
        order_number=order.number,
        kind=StockMovementKind.ORDER_PLACED,
        user=user,
        locked=variants.values(),
    )
    for line in order_lines:
        line.order = order
    OrderLine.objects.bulk_create(order_lines)
    # As orders.selectors.order_list leaves it: the caller renders the new order
    # from the objects in hand instead of reading the order and its lines back.
    order.line_list = sorted(order_lines, key=lambda line: line.pk)  # type: ignore[attr-defined]
    OrderEvent.objects.create(
        order=order,
        type="placed",
        to_status=order.status,
        actor_kind=_actor_kind(user, order),
        actor=user,
    )
    event_record(type="order.placed", data=order_payload(order, lines=order_lines))
    _email_record(order=order, kind="placed")
    return order


def order_transition(
    *,
    order: Order,
    action: str,
    user: Any,
    note: str = "",
    tracking_number: str = "",
    restock: bool = False,
) -> Order:
    """Take `action` (a key of TRANSITIONS) on `order` as `user` (None: the system).

    Locks the order row, checks the table and who may act (TransitionForbidden:
    never allowed for this caller; InvalidTransition: not from this status),
    writes with update_fields, moves stock as the transition says, records an
    OrderEvent, an outbox event and the customer email (sent after the commit).
    A `take` transition may raise InsufficientStock (and changes nothing).
    `ship` and `refund` ship or refund everything left through
    orders.fulfilment (a shipment or a pending refund record; OverFulfilment
    or OverRefund when nothing is left). Returns the locked, updated order.
    """
    transition = TRANSITIONS[action]
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if not transition_may_take(transition=transition, order=locked, user=user):
            raise TransitionForbidden()
        if locked.status not in transition.sources:
            raise InvalidTransition(
                f"Cannot {action} an order that is {locked.status}.",
                status=locked.status,
                action=action,
            )
        if action in {"ship", "refund"}:
            # Everything not yet shipped / refunded, through the fulfilment records.
            from orders.fulfilment import refund_create, shipment_create

            if action == "ship":
                shipment_create(order=locked, user=user, tracking_number=tracking_number)
            else:
                refund_create(
                    order=locked, user=user, everything=True, restock=restock, reason=note
                )
            locked.refresh_from_db()
            return locked
        from_status = locked.status
        locked.status = transition.target
        fields = ["status", "updated_at"]
        if transition.target == OrderStatus.PAID:
            locked.paid_total = locked.total
            fields.append("paid_total")
        if action == "deliver":
            locked.delivered_at = timezone.now()
            fields.append("delivered_at")
        if action == "cancel" and from_status == OrderStatus.PAID:
            locked.refund_due = True
            fields.append("refund_due")

        # Units refunded and restocked before shipping are already back in stock.
        stock = {
            line.variant_id: line.quantity - line.quantity_cancelled
            for line in locked.lines.all()
            if line.quantity > line.quantity_cancelled
        }
        if transition.stock is StockEffect.RETURN:
            stock_return(
                quantities=stock,
                kind=StockMovementKind.ORDER_CANCELLED,
                order_number=locked.number,
                user=user,
            )
        elif transition.stock is StockEffect.TAKE:
            stock_take(
                quantities=stock,
                kind=StockMovementKind.PAYMENT_REALLOCATED,
                order_number=locked.number,
            )

        if action == "cancel" and from_status == OrderStatus.PENDING_PAYMENT:
            voucher_release(order=locked)

        locked.save(update_fields=fields)
        OrderEvent.objects.create(
            order=locked,
            type=transition.event_type,
            from_status=from_status,
            to_status=locked.status,
            actor_kind=_actor_kind(user, locked),
            actor=user,
            note=note,
        )
        event_record(type=f"order.{transition.event_type}", data=order_payload(locked))
        _email_record(order=locked, kind=transition.event_type)
    return locked


def order_event_note(
    *, order: Order, type: str, note: str = "", user: Any = None, refund_due: bool = False
) -> OrderEvent:
    """Record a fact about `order` that changes no status (payment_failed, ...).

    The caller must hold the order's row lock (it runs inside the caller's
    transaction); `refund_due=True` also flags the order for a refund.
    """
    with transaction.atomic():
        if refund_due and not order.refund_due:
            order.refund_due = True
            order.save(update_fields=["refund_due", "updated_at"])
        event = OrderEvent.objects.create(
            order=order,
            type=type,
            from_status=order.status,
            to_status=order.status,
            actor_kind=_actor_kind(user, order),
            actor=user,
            note=note,
        )
        event_record(type=f"order.{type}", data={**order_payload(order), "note": note})
    return event


def orders_cancel_expired(*, now: datetime | None = None, batch_size: int = 100) -> int:
    """Cancel pending orders older than ORDER_PAYMENT_TIMEOUT, returning their stock.

    Safe to run concurrently with itself and with payments: each batch locks
    its rows with SKIP LOCKED (rows another process holds are left to it), and
    each order goes through order_transition as the system. Returns how many
    orders were cancelled.
    """
    cutoff = (now or timezone.now()) - settings.ORDER_PAYMENT_TIMEOUT
    cancelled = 0
    while True:
        with transaction.atomic():
            batch = list(
                Order.objects.expired(before=cutoff)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .only("pk")[:batch_size]
            )
            for order in batch:
                order_transition(order=order, action="cancel", user=None, note="Payment timeout.")
        cancelled += len(batch)
        if len(batch) < batch_size:
            return cancelled
