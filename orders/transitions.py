"""The order state machine: ONE declared table, read by the service and the API.

    pending_payment -> paid -> shipped -> delivered
    paid -> partially_shipped -> shipped  (shipments: orders.fulfilment)
    pending_payment | paid -> cancelled
    paid | partially_shipped | shipped | delivered -> refunded
    cancelled -> paid            (system only: a late payment re-takes the stock)

Who may take a transition: the system always; a user holding `permission`;
the order's owner where `owner_may` is set.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.utils import timezone

from orders.models import Order, OrderStatus


class StockEffect(StrEnum):
    NONE = "none"
    RETURN = "return"  # put the order's quantities back
    RETURN_IF_RESTOCK = "return_if_restock"
    TAKE = "take"  # take the order's quantities again


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    event_type: str
    permission: str | None  # None: only the system may take it
    owner_may: bool = False
    stock: StockEffect = StockEffect.NONE
    public: bool = True  # an API action name, listed in allowed_transitions


_S = OrderStatus
TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition(
            action="cancel",
            sources=frozenset({_S.PENDING_PAYMENT, _S.PAID}),
            target=_S.CANCELLED,
            event_type="cancelled",
            permission="orders.cancel_order",
            owner_may=True,
            stock=StockEffect.RETURN,
        ),
        Transition(
            action="mark-paid",
            sources=frozenset({_S.PENDING_PAYMENT}),
            target=_S.PAID,
            event_type="paid",
            permission="orders.transition_order",
        ),
        Transition(
            action="ship",
            sources=frozenset({_S.PAID, _S.PARTIALLY_SHIPPED}),
            target=_S.SHIPPED,
            event_type="shipped",
            permission="orders.transition_order",
        ),
        Transition(
            action="deliver",
            sources=frozenset({_S.SHIPPED}),
            target=_S.DELIVERED,
            event_type="delivered",
            permission="orders.transition_order",
        ),
        Transition(
            action="refund",
            sources=frozenset({_S.PAID, _S.PARTIALLY_SHIPPED, _S.SHIPPED, _S.DELIVERED}),
            target=_S.REFUNDED,
            event_type="refunded",
            permission="orders.transition_order",
            stock=StockEffect.RETURN_IF_RESTOCK,
        ),
        Transition(
            action="reallocate",
            sources=frozenset({_S.CANCELLED}),
            target=_S.PAID,
            event_type="paid",
            permission=None,
            stock=StockEffect.TAKE,
            public=False,
        ),
    )
}


@dataclass(frozen=True)
class FulfilmentAction:
    """An action that records something (a shipment, a return, a refund) on the order.

    It may move the status as a consequence (orders.fulfilment derives it from
    the quantities and amounts), but is not itself a status transition.
    """

    action: str
    sources: frozenset[str]
    permission: str | None
    owner_may: bool = False


FULFILMENT_ACTIONS: dict[str, FulfilmentAction] = {
    a.action: a
    for a in (
        FulfilmentAction(
            action="create-shipment",
            sources=frozenset({_S.PAID, _S.PARTIALLY_SHIPPED}),
            permission="orders.transition_order",
        ),
        FulfilmentAction(
            action="request-return",
            sources=frozenset({_S.PARTIALLY_SHIPPED, _S.SHIPPED, _S.DELIVERED, _S.REFUNDED}),
            permission="orders.transition_order",
            owner_may=True,
        ),
        FulfilmentAction(
            action="create-refund",
            sources=frozenset({_S.PAID, _S.PARTIALLY_SHIPPED, _S.SHIPPED, _S.DELIVERED}),
            permission="orders.transition_order",
        ),
    )
}

PUBLIC_ACTIONS: tuple[str, ...] = (
    *(a for a, t in TRANSITIONS.items() if t.public),
    *FULFILMENT_ACTIONS,
)


def transition_may_take(
    *, transition: Transition | FulfilmentAction, order: Order, user: Any
) -> bool:
    """Whether `user` (None: the system) may ever take `transition` on `order`."""
    if user is None:
        return True
    if transition.permission is None or not user.is_authenticated:
        return False
    if transition.owner_may and order.user_id == user.pk:
        return True
    return bool(user.has_perm(transition.permission))


def allowed_transitions(*, order: Order, user: Any) -> list[str]:
    """The public action names `user` may take on `order` right now (from the tables).

    A customer's `request-return` also needs the return window to be open.
    """
    actions: list[str] = []
    for name in PUBLIC_ACTIONS:
        entry = TRANSITIONS[name] if name in TRANSITIONS else FULFILMENT_ACTIONS[name]
        if order.status not in entry.sources:
            continue
        if not transition_may_take(transition=entry, order=order, user=user):
            continue
        if name == "request-return" and not return_window_open(order=order, user=user):
            continue
        actions.append(name)
    return actions


def return_window_open(*, order: Order, user: Any, now: datetime | None = None) -> bool:
    """Whether `user` may still ask to return items of `order`.

    Staff with the permission may open a return at any time; a customer until
    RETURN_WINDOW_DAYS after delivery (an order not yet delivered is in time).
    """
    permission = FULFILMENT_ACTIONS["request-return"].permission
    if user is None or (permission is not None and user.has_perm(permission)):
        return True
    if order.delivered_at is None:
        return True
    closes = order.delivered_at + timedelta(days=settings.RETURN_WINDOW_DAYS)
    return (now or timezone.now()) <= closes
