"""Background work of orders: customer emails (run inline when no broker is configured)."""

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
