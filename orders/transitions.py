"""The order state machine: ONE declared table, read by the service and the API.

    pending_payment -> paid -> shipped -> delivered
    pending_payment | paid -> cancelled
    paid | shipped | delivered -> refunded
    cancelled -> paid            (system only: a late payment re-takes the stock)

Who may take a transition: the system always; a user holding `permission`;
the order's owner where `owner_may` is set.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
            sources=frozenset({_S.PAID}),
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
            sources=frozenset({_S.PAID, _S.SHIPPED, _S.DELIVERED}),
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

PUBLIC_ACTIONS: tuple[str, ...] = tuple(a for a, t in TRANSITIONS.items() if t.public)


def transition_may_take(*, transition: Transition, order: Order, user: Any) -> bool:
    """Whether `user` (None: the system) may ever take `transition` on `order`."""
    if user is None:
        return True
    if transition.permission is None or not user.is_authenticated:
        return False
    if transition.owner_may and order.user_id == user.pk:
        return True
    return bool(user.has_perm(transition.permission))


def allowed_transitions(*, order: Order, user: Any) -> list[str]:
    """The public action names `user` may take on `order` right now (from the table)."""
    return [
        action
        for action in PUBLIC_ACTIONS
        if order.status in TRANSITIONS[action].sources
        and transition_may_take(transition=TRANSITIONS[action], order=order, user=user)
    ]
