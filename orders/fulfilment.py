"""Every write of fulfilment: shipments, returns, refunds, their confirmations, notes.

Each service locks the order row first (then reads its lines: nothing else
writes them without that lock), checks every quantity and amount under that
lock, writes the counters on the lines and the order in guarded statements
that CHECK constraints back up, derives the order's status from those
counters, records an OrderEvent and an outbox event, and sends customer
emails after the commit.
"""

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When

from catalog.models import StockMovementKind
from catalog.services import stock_return
from core.errors import FieldInvalid
from emails.models import EmailKind
from emails.services import email_queue
from orders.exceptions import (
    InvalidTransition,
    OverFulfilment,
    OverRefund,
    OverReturn,
    ReturnWindowClosed,
    TransitionForbidden,
)
from orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Refund,
    RefundLine,
    RefundStatus,
    Return,
    ReturnLine,
    ReturnStatus,
    Shipment,
    ShipmentLine,
)
from orders.refund_amounts import refund_data, refund_price
from orders.services import _actor_kind, _email_record, order_event_note, order_payload
from orders.transitions import FULFILMENT_ACTIONS, return_window_open, transition_may_take
from webhooks.services import event_record

ZERO = Decimal("0.00")
# Statuses whose value follows from the quantities and amounts (the others do not).
FULFILMENT_STATUSES = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.REFUNDED,
    }
)
STAFF_ONLY_EVENTS = frozenset({"note_added", "refund_mismatch"})

Requested = Sequence[Mapping[str, Any]] | None


def _order_lock(*, order: Order, action: str, user: Any) -> Order:
    """Lock the order row and check the action's table entry for `user`."""
    entry = FULFILMENT_ACTIONS[action]
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if not transition_may_take(transition=entry, order=locked, user=user):
        raise TransitionForbidden()
    if locked.status not in entry.sources:
        raise InvalidTransition(
            f"Cannot {action} on an order that is {locked.status}.",
            status=locked.status,
            action=action,
        )
    return locked


def _lines(order: Order) -> list[OrderLine]:
    """The order's lines by primary key; the caller holds the order's lock."""
    return list(OrderLine.objects.filter(order=order).order_by("pk"))


def _quantities(
    *,
    requested: Requested,
    lines: list[OrderLine],
    available: Callable[[OrderLine], int],
    error: type[OverFulfilment | OverReturn | OverRefund],
    verb: str,
) -> dict[int, int]:
    """`{line pk: quantity}` for `requested` (`[{sku, quantity}]`; None: all available).

    Unknown SKUs are FieldInvalid; more than `available(line)` is `error`,
    both with errors keyed `lines.N.…` (the same SKU twice is merged).
    """
    by_sku = {line.sku: line for line in lines}
    if requested is None:
        return {line.pk: available(line) for line in lines if available(line) > 0}
    quantities: dict[int, int] = {}
    first_index: dict[int, int] = {}
    unknown: dict[str, list[str]] = {}
    for index, item in enumerate(requested):
        line = by_sku.get(str(item["sku"]))
        if line is None:
            unknown[f"lines.{index}.sku"] = [f"No line with SKU {item['sku']!r} in this order."]
            continue
        first_index.setdefault(line.pk, index)
        quantities[line.pk] = quantities.get(line.pk, 0) + int(item["quantity"])
    if unknown:
        raise FieldInvalid(errors=unknown)
    over = {
        f"lines.{first_index[line.pk]}.quantity": [
            f"Only {available(line)} of {line.sku} may be {verb}."
        ]
        for line in lines
        if quantities.get(line.pk, 0) > available(line)
    }
    if over:
        raise error(errors=over)
    return {pk: quantity for pk, quantity in quantities.items() if quantity > 0}


def _counter_add(*, lines: list[OrderLine], field: str, deltas: Mapping[int, int]) -> None:
    """Add signed `deltas` to one counter of the lines, in one UPDATE (CHECKs hold the limits)."""
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    if not deltas:
        return
    OrderLine.objects.filter(pk__in=sorted(deltas)).update(
        **{
            field: Case(
                *[When(pk=pk, then=F(field) + Value(delta)) for pk, delta in deltas.items()],
                output_field=IntegerField(),
            )
        }
    )
    for line in lines:
        if line.pk in deltas:
            setattr(line, field, getattr(line, field) + deltas[line.pk])


def order_status_derived(*, order: Order, lines: Sequence[OrderLine]) -> str:
    """The status that `order`'s amounts and line quantities imply.

    Only for an order that was paid and not cancelled: fully refunded (pending
    and succeeded) is `refunded`; otherwise everything shipped (or taken off
    before shipping) is `shipped`, `delivered` once delivered; some shipped
    is `partially_shipped`; none is `paid`.
    """
    if order.paid_total > 0 and order.refunded_total >= order.paid_total:
        return OrderStatus.REFUNDED
    shipped = sum(line.quantity_shipped for line in lines)
    settled = sum(line.quantity_shipped + line.quantity_cancelled for line in lines)
    if shipped and settled == sum(line.quantity for line in lines):
        return OrderStatus.DELIVERED if order.delivered_at else OrderStatus.SHIPPED
    if shipped:
        return OrderStatus.PARTIALLY_SHIPPED
    return OrderStatus.PAID


def _status_follow(
    *, order: Order, lines: Sequence[OrderLine], user: Any, fields: list[str], note: str = ""
) -> None:
    """Move the locked `order` to its derived status, saving `fields` too, with its events.

    A pending or cancelled order keeps its status (a refund of a cancelled
    order may still be confirmed or fail).
    """
    if order.status in FULFILMENT_STATUSES:
        target = order_status_derived(order=order, lines=lines)
    else:
        target = order.status
    source = order.status
    if target != source:
        order.status = target
        fields = [*fields, "status"]
    order.save(update_fields=[*fields, "updated_at"])
    if target == source:
        return
    OrderEvent.objects.create(
        order=order,
        type=target,
        from_status=source,
        to_status=target,
        actor_kind=_actor_kind(user, order),
        actor=user,
        note=note,
    )
    event_record(type=f"order.{target}", data=order_payload(order))
    if target == OrderStatus.REFUNDED:
        _email_record(order=order, kind="refunded")


def _fact(*, order: Order, type: str, user: Any, note: str, data: dict[str, Any]) -> None:
    """Record a fulfilment step: an OrderEvent and its outgoing `order.<type>` event."""
    OrderEvent.objects.create(
        order=order,
        type=type,
        from_status=order.status,
        to_status=order.status,
        actor_kind=_actor_kind(user, order),
        actor=user,
        note=note,
    )
    event_record(type=f"order.{type}", data={**order_payload(order), **data})


def _email(*, order: Order, kind: str, object_id: int) -> None:
    """The customer's email about `kind`, in the outbox with this transaction."""
    email_queue(kind=EmailKind(f"order_{kind}"), order=order, record_id=object_id)


def _lines_text(lines: Sequence[OrderLine], quantities: Mapping[int, int]) -> str:
    return ", ".join(
        f"{quantities[line.pk]} x {line.sku}" for line in lines if line.pk in quantities
    )


def _lines_data(lines: Sequence[OrderLine], quantities: Mapping[int, int]) -> list[dict[str, Any]]:
    return [
        {"sku": line.sku, "quantity": quantities[line.pk]}
        for line in lines
        if line.pk in quantities
    ]


# --- Shipments --------------------------------------------------------------------------------


def shipment_create(
    *,
    order: Order,
    user: Any,
    tracking_number: str,
    carrier: str = "",
    lines: Requested = None,
) -> Shipment:
    """Ship `lines` (`[{sku, quantity}]`; None: everything not yet shipped) of `order`.

    Locks the order row. Raises TransitionForbidden, InvalidTransition (not
    `paid` or `partially_shipped`), FieldInvalid (unknown SKU) and
    OverFulfilment (more than remains, nothing changes). The order becomes
    `partially_shipped` or `shipped`. Returns the shipment, its lines loaded.
    """
    with transaction.atomic():
        locked = _order_lock(order=order, action="create-shipment", user=user)
        order_lines = _lines(locked)
        quantities = _quantities(
            requested=lines,
            lines=order_lines,
            available=lambda line: line.quantity - line.quantity_shipped - line.quantity_cancelled,
            error=OverFulfilment,
            verb="shipped",
        )
        if not quantities:
            raise OverFulfilment("Nothing remains to be shipped.")
        shipment = Shipment.objects.create(
            order=locked, tracking_number=tracking_number, carrier=carrier, created_by=user
        )
        ShipmentLine.objects.bulk_create(
            [
                ShipmentLine(shipment=shipment, order_line=line, quantity=quantities[line.pk])
                for line in order_lines
                if line.pk in quantities
            ]
        )
        _counter_add(lines=order_lines, field="quantity_shipped", deltas=quantities)
        locked.tracking_number = tracking_number
        _fact(
            order=locked,
            type="shipment_created",
            user=user,
            note=f"Shipment {shipment.pk}: {_lines_text(order_lines, quantities)}; "
            f"tracking {tracking_number}{f' ({carrier})' if carrier else ''}.",
            data={
                "shipment": {
                    "id": shipment.pk,
                    "lines": _lines_data(order_lines, quantities),
                    "tracking_number": tracking_number,
                    "carrier": carrier,
                }
            },
        )
        _status_follow(order=locked, lines=order_lines, user=user, fields=["tracking_number"])
        _email(order=locked, kind="shipment_created", object_id=shipment.pk)
    return shipment


# --- Returns ----------------------------------------------------------------------------------


def return_request(
    *, order: Order, user: Any, lines: Sequence[Mapping[str, Any]], reason: str = ""
) -> Return:
    """Open a return of shipped `lines` (`[{sku, quantity}]`) of `order`, status `requested`.

    Locks the order row. The owner may ask within the return window
    (ReturnWindowClosed after it), staff at any time. More than shipped,
    counting returns still open, is OverReturn (nothing changes).
    """
    with transaction.atomic():
        locked = _order_lock(order=order, action="request-return", user=user)
        if not return_window_open(order=locked, user=user):
            raise ReturnWindowClosed()
        order_lines = _lines(locked)
        quantities = _quantities(
            requested=lines,
            lines=order_lines,
            available=lambda line: line.quantity_shipped - line.quantity_return_claimed,
            error=OverReturn,
            verb="returned",
        )
        if not quantities:
            raise OverReturn("A return needs at least one unit.")
        order_return = Return.objects.create(order=locked, reason=reason, created_by=user)
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(order_return=order_return, order_line=line, quantity=quantities[line.pk])
                for line in order_lines
                if line.pk in quantities
            ]
        )
        _counter_add(lines=order_lines, field="quantity_return_claimed", deltas=quantities)
        _fact(
            order=locked,
            type="return_requested",
            user=user,
            note=f"Return {order_return.pk}: {_lines_text(order_lines, quantities)}. {reason}",
            data={"return": {"id": order_return.pk, "lines": _lines_data(order_lines, quantities)}},
        )
    return order_return


def _return_lock(*, order_return: Return, user: Any, expected: str) -> tuple[Order, Return]:
    """Lock the return's order (then the return) and check staff and the return's status."""
    locked = Order.objects.select_for_update().get(pk=order_return.order_id)
    permission = FULFILMENT_ACTIONS["request-return"].permission
    if user is not None and not (permission and user.has_perm(permission)):
        raise TransitionForbidden()
    current = Return.objects.select_for_update().get(pk=order_return.pk)
    if current.status != expected:
        raise InvalidTransition(
            f"The return is {current.status}, not {expected}.", status=current.status
        )
    return locked, current


def return_decide(*, order_return: Return, user: Any, approve: bool, reason: str = "") -> Return:
    """Approve or reject a `requested` return (staff); a rejection frees its units.

    Locks the order row, then the return. Raises TransitionForbidden and
    InvalidTransition (not `requested`). Emails the customer the decision.
    """
    with transaction.atomic():
        locked, current = _return_lock(
            order_return=order_return, user=user, expected=ReturnStatus.REQUESTED
        )
        current.status = ReturnStatus.APPROVED if approve else ReturnStatus.REJECTED
        current.decision_reason = reason
        current.save(update_fields=["status", "decision_reason", "updated_at"])
        if not approve:
            order_lines = _lines(locked)
            claims = {rl.order_line_id: -rl.quantity for rl in current.lines.all()}
            _counter_add(lines=order_lines, field="quantity_return_claimed", deltas=claims)
        kind = f"return_{current.status}"
        _fact(
            order=locked,
            type=kind,
            user=user,
            note=f"Return {current.pk} {current.status}. {reason}".strip(),
            data={"return": {"id": current.pk, "decision_reason": reason}},
        )
        _email(order=locked, kind=kind, object_id=current.pk)
    return current


def return_receive(
    *, order_return: Return, user: Any, lines: Sequence[Mapping[str, Any]] | None = None
) -> Return:
    """Receive an `approved` return: `lines` `[{sku, quantity, restock}]` (None: all, restocked).

    Locks the order row, then the return. Units not received are freed (they
    may be returned again); restocked units go back to stock with ledger
    movements of kind `return_restock`. Raises TransitionForbidden,
    InvalidTransition (not `approved`), FieldInvalid (a SKU not in the
    return) and OverReturn (more than the return holds).
    """
    with transaction.atomic():
        locked, current = _return_lock(
            order_return=order_return, user=user, expected=ReturnStatus.APPROVED
        )
        order_lines = _lines(locked)
        by_pk = {line.pk: line for line in order_lines}
        return_lines = list(current.lines.order_by("pk"))
        received: dict[int, tuple[int, bool]] = {}
        if lines is None:
            received = {rl.order_line_id: (rl.quantity, True) for rl in return_lines}
        else:
            in_return = {by_pk[rl.order_line_id].sku: rl for rl in return_lines}
            errors: dict[str, list[str]] = {}
            over: dict[str, list[str]] = {}
            for index, item in enumerate(lines):
                rl = in_return.get(str(item["sku"]))
                if rl is None:
                    errors[f"lines.{index}.sku"] = [f"{item['sku']!r} is not in this return."]
                    continue
                quantity = received.get(rl.order_line_id, (0, False))[0] + int(item["quantity"])
                if quantity > rl.quantity:
                    over[f"lines.{index}.quantity"] = [f"The return holds {rl.quantity}."]
                received[rl.order_line_id] = (quantity, bool(item.get("restock", True)))
            if errors:
                raise FieldInvalid(errors=errors)
            if over:
                raise OverReturn(errors=over)
        for rl in return_lines:
            quantity, restock = received.get(rl.order_line_id, (0, False))
            rl.quantity_received = quantity
            rl.quantity_restocked = quantity if restock else 0
        ReturnLine.objects.bulk_update(return_lines, ["quantity_received", "quantity_restocked"])
        _counter_add(
            lines=order_lines,
            field="quantity_return_claimed",
            deltas={rl.order_line_id: rl.quantity_received - rl.quantity for rl in return_lines},
        )
        _counter_add(
            lines=order_lines,
            field="quantity_returned",
            deltas={rl.order_line_id: rl.quantity_received for rl in return_lines},
        )
        restocked = {
            by_pk[rl.order_line_id].variant_id: rl.quantity_restocked
            for rl in return_lines
            if rl.quantity_restocked
        }
        if restocked:
            stock_return(
                quantities=restocked,
                kind=StockMovementKind.RETURN_RESTOCK,
                order_number=locked.number,
                reason=f"Return {current.pk}",
                user=user,
            )
        current.status = ReturnStatus.RECEIVED
        current.save(update_fields=["status", "updated_at"])
        _fact(
            order=locked,
            type="return_received",
            user=user,
            note=f"Return {current.pk} received: "
            + ", ".join(
                f"{rl.quantity_received} x {by_pk[rl.order_line_id].sku}"
                f"{' restocked' if rl.quantity_restocked else ''}"
                for rl in return_lines
            )
            + ".",
            data={
                "return": {
                    "id": current.pk,
                    "lines": [
                        {
                            "sku": by_pk[rl.order_line_id].sku,
                            "quantity": rl.quantity_received,
                            "restocked": rl.quantity_restocked,
                        }
                        for rl in return_lines
                    ],
                }
            },
        )
    return current


# --- Refunds ----------------------------------------------------------------------------------


def refund_create(
    *,
    order: Order,
    user: Any,
    amount: Decimal | None = None,
    lines: Requested = None,
    include_shipping: bool = False,
    return_id: int | None = None,
    restock: bool = False,
    reason: str = "",
    everything: bool = False,
) -> Refund:
    """Record a `pending` refund of `amount`, or of `lines` (plus shipping), for `order`.

    `everything`: all that was paid and not yet refunded, with every line's
    unrefunded units (the `refund` action). `restock` puts back units not
    shipped (they will not be shipped). Locks the order row; pending and
    succeeded refunds never exceed `paid_total` (OverRefund, nothing changes;
    the CHECK `order_refunded_lte_paid` holds it too). The order becomes
    `refunded` when they reach it. Raises TransitionForbidden,
    InvalidTransition, FieldInvalid (unknown SKU or return).
    """
    with transaction.atomic():
        locked = _order_lock(order=order, action="create-refund", user=user)
        order_lines = _lines(locked)
        remaining = locked.paid_total - locked.refunded_total
        order_return = None
        if return_id is not None:
            order_return = Return.objects.filter(pk=return_id, order=locked).first()
            if order_return is None:
                raise FieldInvalid(errors={"return_id": ["No such return for this order."]})
        quantities: dict[int, int] = {}
        if everything or amount is None:
            quantities = _quantities(
                requested=None if everything else lines or [],
                lines=order_lines,
                available=lambda line: line.quantity - line.quantity_refunded,
                error=OverRefund,
                verb="refunded",
            )
        priced = refund_price(
            order=locked,
            lines=order_lines,
            quantities=quantities,
            amount=remaining if everything else amount,
            everything=everything,
            include_shipping=include_shipping,
        )
        amount, include_shipping = priced.amount, priced.include_shipping
        if amount <= 0:
            raise OverRefund("Nothing remains to be refunded.", available=str(remaining))
        if amount > remaining:
            raise OverRefund(
                f"At most {remaining} {locked.currency} remains to be refunded.",
                available=str(remaining),
            )
        refund = Refund.objects.create(
            order=locked,
            order_return=order_return,
            amount=amount,
            tax=priced.tax,
            include_shipping=include_shipping,
            reason=reason,
            created_by=user,
        )
        refund_lines = RefundLine.objects.bulk_create(
            [
                RefundLine(
                    refund=refund,
                    order_line=line,
                    quantity=quantities[line.pk],
                    amount=priced.parts[line.pk][0],
                    tax=priced.parts[line.pk][1],
                )
                for line in order_lines
                if line.pk in quantities
            ]
        )
        _counter_add(lines=order_lines, field="quantity_refunded", deltas=quantities)
        if restock:
            unshipped = {
                line.pk: min(
                    quantities.get(line.pk, 0),
                    line.quantity - line.quantity_shipped - line.quantity_cancelled,
                )
                for line in order_lines
            }
            _counter_add(lines=order_lines, field="quantity_cancelled", deltas=unshipped)
            put_back = {
                line.variant_id: unshipped[line.pk] for line in order_lines if unshipped[line.pk]
            }
            if put_back:
                stock_return(
                    quantities=put_back,
                    kind=StockMovementKind.REFUND_RESTOCK,
                    order_number=locked.number,
                    reason=reason,
                    user=user,
                )
        locked.refunded_total = locked.refunded_total + amount
        _fact(
            order=locked,
            type="refund_created",
            user=user,
            note=f"Refund {refund.pk} of {amount} {locked.currency} pending. {reason}".strip(),
            data={"refund": refund_data(refund, refund_lines, order_lines)},
        )
        _status_follow(order=locked, lines=order_lines, user=user, fields=["refunded_total"])
    return refund


def refund_confirm(
    *, order: Order, refund_id: int | None, amount: Decimal, currency: str, succeeded: bool
) -> str:
    """Apply the provider's `refund.succeeded` / `refund.failed` to a pending refund.

    The caller holds the order's lock, in its transaction (the payments
    webhook). An unknown refund, one no longer pending or another amount or
    currency records a `refund_mismatch` event and changes nothing else. A
    failed refund stops counting against what may be refunded (the order
    leaves `refunded` if it no longer is). Returns the outcome.
    """
    refund = (
        Refund.objects.select_for_update().filter(pk=refund_id, order=order).first()
        if refund_id is not None
        else None
    )
    received = f"{amount} {currency}"
    if refund is None or refund.status != RefundStatus.PENDING:
        state = "unknown" if refund is None else refund.status
        order_event_note(
            order=order,
            type="refund_mismatch",
            note=f"Refund event of {received} for refund {refund_id} ({state}).",
        )
        return "refund_mismatch"
    if amount != refund.amount or currency != order.currency:
        order_event_note(
            order=order,
            type="refund_mismatch",
            note=f"Refund {refund.pk}: received {received}, "
            f"expected {refund.amount} {order.currency}.",
        )
        return "refund_mismatch"
    refund.status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
    refund.save(update_fields=["status", "updated_at"])
    order_lines = _lines(order)
    refund_lines = list(refund.lines.all())
    quantities = {rl.order_line_id: rl.quantity for rl in refund_lines}
    if not succeeded:
        _counter_add(
            lines=order_lines,
            field="quantity_refunded",
            deltas={pk: -q for pk, q in quantities.items()},
        )
        order.refunded_total = order.refunded_total - refund.amount
        _status_follow(order=order, lines=order_lines, user=None, fields=["refunded_total"])
    kind = f"refund_{refund.status}"
    _fact(
        order=order,
        type=kind,
        user=None,
        note=f"Refund {refund.pk} of {refund.amount} {order.currency} {refund.status}.",
        data={"refund": refund_data(refund, refund_lines, order_lines)},
    )
    if succeeded:
        _email(order=order, kind=kind, object_id=refund.pk)
    return kind


# --- Notes ------------------------------------------------------------------------------------


def note_add(*, order: Order, user: Any, text: str) -> OrderEvent:
    """Add a staff note to `order`: a `note_added` event that customers never see.

    Locks the order row (so the note sits in order with the changes around
    it). Raises TransitionForbidden for callers without the permission.
    """
    permission = FULFILMENT_ACTIONS["create-refund"].permission
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if permission is None or not user.has_perm(permission):
            raise TransitionForbidden()
        return order_event_note(order=locked, type="note_added", note=text, user=user)
