"""Customer emails through a transactional outbox.

A change records its email in its own transaction (`email_queue`); after the
commit a task is queued as a hint (`config.celery.task_hint`: no retry, a
short timeout), and the periodic sweep (`emails_sweep`, beat) sends whatever
is still due, so a lost or failed hint only delays an email. Each row is
sent by whoever holds its row lock (SELECT ... FOR UPDATE SKIP LOCKED) and
is marked sent in that same transaction: two workers never send one row.
A failed send is tried again later, with exponential backoff.
"""

import logging
import random
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.utils import timezone

from core.hints import hint_after_commit
from emails.models import EmailKind, EmailStatus, OutgoingEmail

if TYPE_CHECKING:
    from orders.models import Order

logger = logging.getLogger("stockroom.emails")


def email_queue(
    *,
    kind: EmailKind,
    order: "Order | None" = None,
    address: str = "",
    record_id: int | None = None,
) -> OutgoingEmail:
    """Record an email to send: an order email names `order` (a fulfilment email also the
    shipment, return or refund as `record_id`), a password reset `address`.

    Must be called inside the transaction of the change the email is about,
    so the email exists if and only if the change committed. One INSERT; the
    hint to send it is queued after the commit.
    """
    email = OutgoingEmail.objects.create(
        kind=kind, order=order, address=address, record_id=record_id
    )
    from emails.tasks import email_send_task

    # With the transaction's other hints, in one message (core.hints).
    hint_after_commit(email_send_task, kwargs={"email_id": email.pk}, what=f"email {email.pk}")
    return email


def backoff_seconds(*, attempt: int) -> float:
    """Delay before attempt `attempt + 1`: exponential, capped, with +-10% jitter."""
    delay = min(settings.EMAIL_BACKOFF_BASE * 2 ** (attempt - 1), settings.EMAIL_BACKOFF_MAX)
    return delay * random.uniform(0.9, 1.1)


def _due() -> "models.QuerySet[OutgoingEmail]":
    return OutgoingEmail.objects.select_for_update(skip_locked=True).filter(
        status=EmailStatus.PENDING, next_attempt_at__lte=timezone.now()
    )


def email_send(*, email_id: int) -> str | None:
    """Send this email if it is due and no one else is sending it; its new status, else None."""
    with transaction.atomic():
        email = _due().filter(pk=email_id).first()
        if email is None:
            return None
        return _email_attempt(email)


def emails_sweep(*, limit: int = 500) -> int:
    """Send due emails, one transaction each, until none is due or `limit`; how many were tried.

    Safe to run in several workers at once: each takes rows the others have not locked.
    """
    tried = 0
    while tried < limit:
        with transaction.atomic():
            email = _due().order_by("next_attempt_at", "pk").first()
            if email is None:
                break
            _email_attempt(email)
        tried += 1
    return tried


def emails_purge(*, now: datetime | None = None) -> int:
    """Delete sent and skipped emails older than EMAIL_OUTBOX_KEEP_DAYS; how many went.

    Failed ones stay, for whoever looks into why.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.EMAIL_OUTBOX_KEEP_DAYS)
    deleted, _ = OutgoingEmail.objects.filter(
        status__in=[EmailStatus.SENT, EmailStatus.SKIPPED], created_at__lt=cutoff
    ).delete()
    return deleted


def _message_for(email: OutgoingEmail) -> EmailMessage | None:
    """The message to send for this row, rendered now; None if there is no one to send it to."""
    if email.kind == EmailKind.PASSWORD_RESET:
        from accounts.services import password_reset_message

        return password_reset_message(email=email.address)
    from orders.emails import fulfilment_email_message, order_email_message

    assert email.order_id is not None
    kind = email.kind.removeprefix("order_")
    if email.record_id is not None:
        return fulfilment_email_message(
            order_id=email.order_id, kind=kind, record_id=email.record_id
        )
    return order_email_message(order_id=email.order_id, kind=kind)


def message_id(email: OutgoingEmail) -> str:
    """The same Message-ID however often the row is sent, so a resend can be recognised."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<stockroom-email-{email.pk}@{domain}>"


def _email_attempt(email: OutgoingEmail, *, now: datetime | None = None) -> str:
    """Send a locked pending row once and record the outcome (in the caller's transaction)."""
    now = now or timezone.now()
    try:
        message = _message_for(email)
        if message is not None:
            message.extra_headers["Message-ID"] = message_id(email)
            message.send()
    except Exception as exc:  # SMTP refused, timed out, a template broke: try again later
        email.attempt_count += 1
        email.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if email.attempt_count >= settings.EMAIL_MAX_ATTEMPTS:
            email.status = EmailStatus.FAILED
            email.next_attempt_at = None
            email.address = ""
            logger.error("email given up", extra={"email": email.pk, "kind": email.kind})
        else:
            email.next_attempt_at = now + timedelta(
                seconds=backoff_seconds(attempt=email.attempt_count)
            )
            logger.warning(
                "email not sent, retrying later",
                exc_info=True,
                extra={"email": email.pk, "kind": email.kind, "attempt": email.attempt_count},
            )
    else:
        if message is None:
            email.status = EmailStatus.SKIPPED
        else:
            email.attempt_count += 1
            email.status = EmailStatus.SENT
            email.sent_at = now
        email.next_attempt_at = None
        email.address = ""
        email.last_error = ""
    email.save(
        update_fields=[
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_error",
            "address",
            "sent_at",
        ]
    )
    return email.status
