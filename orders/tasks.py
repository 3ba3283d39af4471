"""Background work of orders: customer emails (run inline when no broker is configured)."""

from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from orders.models import Order

SUBJECTS = {
    "placed": "Order {number} received",
    "paid": "Payment received for order {number}",
    "shipped": "Order {number} is on its way",
    "cancelled": "Order {number} cancelled",
    "refunded": "Order {number} refunded",
}


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def order_email_send(*, order_id: int, kind: str) -> None:
    """Email the customer about `kind` (a key of SUBJECTS) for the order, as it is now."""
    order = Order.objects.select_related("user").prefetch_related("lines").get(pk=order_id)
    context = {"order": order, "lines": list(order.lines.all()), "kind": kind}
    body = render_to_string(f"email/orders/{kind}.txt", context)
    send_mail(
        subject=SUBJECTS[kind].format(number=order.number),
        message=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[order.user.email],
    )


FULFILMENT_SUBJECTS = {
    "shipment_created": "Part of order {number} is on its way",
    "return_approved": "Your return for order {number} is approved",
    "return_rejected": "Your return for order {number} was not accepted",
    "refund_succeeded": "Refund for order {number} sent",
}


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def fulfilment_email_send(*, order_id: int, kind: str, object_id: int) -> None:
    """Email the customer about a shipment, a return decision or a refund (`object_id`)."""
    from orders.models import Refund, Return, Shipment

    order = Order.objects.select_related("user").get(pk=order_id)
    records: dict[str, Any] = {"shipment": Shipment, "return": Return, "refund": Refund}
    model = records[kind.split("_")[0]]
    record = model.objects.prefetch_related("lines__order_line").get(pk=object_id)
    context = {"order": order, "record": record, "lines": list(record.lines.all()), "kind": kind}
    send_mail(
        subject=FULFILMENT_SUBJECTS[kind].format(number=order.number),
        message=render_to_string(f"email/orders/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[order.user.email],
    )


# Scheduled by CELERY_BEAT_SCHEDULE (config/settings/base.py). The services are
# imported inside: orders.services imports this module for order_email_send.


@shared_task
def cancel_expired_orders() -> int:
    """Cancel pending orders past ORDER_PAYMENT_TIMEOUT (safe to overlap: SKIP LOCKED)."""
    from orders.services import orders_cancel_expired

    return orders_cancel_expired()


@shared_task
def purge_idempotency_keys() -> int:
    """Delete Idempotency-Key records older than IDEMPOTENCY_KEY_TTL."""
    from orders.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
