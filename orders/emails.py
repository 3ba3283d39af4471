"""The customer emails of orders, rendered when the outbox sends them (emails app)."""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from accounts.services import erased_email
from orders.models import Order

SUBJECTS = {
    "placed": "Order {number} received",
    "paid": "Payment received for order {number}",
    "shipped": "Order {number} is on its way",
    "cancelled": "Order {number} cancelled",
    "refunded": "Order {number} refunded",
}


def order_email_message(*, order_id: int, kind: str) -> EmailMessage | None:
    """The email about `kind` (a key of SUBJECTS) for the order as it is now.

    None when its customer's account was erased: there is no one to tell.
    """
    order = Order.objects.select_related("user").prefetch_related("lines").get(pk=order_id)
    if order.user.email == erased_email(order.user):
        return None
    context = {"order": order, "lines": list(order.lines.all()), "kind": kind}
    return EmailMessage(
        subject=SUBJECTS[kind].format(number=order.number),
        body=render_to_string(f"email/orders/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.user.email],
    )


FULFILMENT_SUBJECTS = {
    "shipment_created": "Part of order {number} is on its way",
    "return_approved": "Your return for order {number} is approved",
    "return_rejected": "Your return for order {number} was not accepted",
    "refund_succeeded": "Refund for order {number} sent",
}


def fulfilment_email_message(*, order_id: int, kind: str, record_id: int) -> EmailMessage | None:
    """The email about a shipment, a return decision or a refund (`record_id`) of the order.

    None when the customer's account was erased.
    """
    from orders.models import Refund, Return, Shipment

    order = Order.objects.select_related("user").get(pk=order_id)
    if order.user.email == erased_email(order.user):
        return None
    records: dict[str, Any] = {"shipment": Shipment, "return": Return, "refund": Refund}
    model = records[kind.split("_")[0]]
    record = model.objects.prefetch_related("lines__order_line").get(pk=record_id)
    context = {"order": order, "record": record, "lines": list(record.lines.all()), "kind": kind}
    return EmailMessage(
        subject=FULFILMENT_SUBJECTS[kind].format(number=order.number),
        body=render_to_string(f"email/orders/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.user.email],
    )
