"""The email outbox: one row per email to send, written in the transaction of its cause."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class EmailKind(models.TextChoices):
    ORDER_PLACED = "order_placed"
    ORDER_PAID = "order_paid"
    ORDER_SHIPPED = "order_shipped"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_REFUNDED = "order_refunded"
    # Fulfilment: about one shipment, return or refund of the order (`record_id`).
    ORDER_SHIPMENT_CREATED = "order_shipment_created"
    ORDER_RETURN_APPROVED = "order_return_approved"
    ORDER_RETURN_REJECTED = "order_return_rejected"
    ORDER_REFUND_SUCCEEDED = "order_refund_succeeded"
    PASSWORD_RESET = "password_reset"  # noqa: S105 (a kind of email, not a secret)


class EmailStatus(models.TextChoices):
    PENDING = "pending"  # due at next_attempt_at
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send: no such active account, or it was erased
    FAILED = "failed"  # gave up after EMAIL_MAX_ATTEMPTS


class OutgoingEmail(models.Model):
    """An email to send. Its content is rendered when it is sent, from the rows it names.

    An order email names its order (the recipient is the order's customer);
    a password reset names only the address that was asked for, which is
    cleared once the row is handled.
    """

    kind = models.CharField(max_length=32, choices=EmailKind.choices)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    address = models.CharField(max_length=254, blank=True)
    # The shipment, return or refund a fulfilment email is about (by the kind).
    record_id = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="emails_due_idx",
                condition=Q(status="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="emails_pending_has_next_attempt",
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
            ),
            models.CheckConstraint(
                name="emails_order_kinds_name_an_order",
                condition=Q(kind="password_reset", order__isnull=True)
                | (~Q(kind="password_reset") & Q(order__isnull=False)),
            ),
            models.CheckConstraint(
                name="emails_pending_reset_has_address",
                condition=~Q(kind="password_reset", status="pending") | ~Q(address=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
