"""Background work of orders (customer emails go through the emails app's outbox)."""

from celery import shared_task

from orders.models import Order


@shared_task
def order_email_send(*, order_id: int, kind: str) -> None:
    """Accept a message queued before the outbox existed: record the email in the outbox.

    Only for the messages still in a queue when the outbox is deployed.
    """
    from emails.models import EmailKind
    from emails.services import email_queue

    order = Order.objects.filter(pk=order_id).first()
    if order is not None:
        email_queue(kind=EmailKind(f"order_{kind}"), order=order)


# Scheduled by CELERY_BEAT_SCHEDULE (config/settings/base.py). The services are
# imported inside, so that importing the tasks stays cheap for the worker.


@shared_task
def cancel_expired_orders() -> int:
    """Cancel pending orders past ORDER_PAYMENT_TIMEOUT (safe to overlap: SKIP LOCKED)."""
    from orders.services import orders_cancel_expired

    return orders_cancel_expired()
