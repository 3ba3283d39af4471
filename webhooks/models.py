import uuid

from django.db import models


class Event(models.Model):
    """The outbox: one row per domain event, written in the transaction of its change.

    The id is stable, so receivers can drop duplicates however often an event
    is delivered. `dispatched_at` is set once deliveries were made for it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The event's place in the feed (webhooks.feed): given after its transaction
    # committed, under a lock, so the feed only ever grows at its end.
    sequence = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sweep looks for the few events whose dispatch was lost.
            models.Index(
                fields=["created_at"],
                name="event_undispatched_idx",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(
                fields=["created_at"],
                name="event_unsequenced_idx",
                condition=models.Q(sequence__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Endpoint(models.Model):
    """A receiver registered by staff: events of `event_types` are POSTed to `url`.

    `event_types` lists event types (`order.paid`, `stock.changed`, ...) or
    `"*"` for every event. An endpoint that fails persistently is disabled
    (`is_active` false) with `disabled_reason` saying why.
    """

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    event_types = models.JSONField(default=list)
    description = models.CharField(max_length=255, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DeliveryError(models.TextChoices):
    """Why an attempt failed, as a fixed category (a 2xx answer has none).

    Only these are ever stored or shown: never the receiver's answer or the
    text of a socket error, which would turn the log into a port scanner.
    """

    TIMEOUT = "timeout", "No complete answer before the deadline"
    CONNECTION_REFUSED = "connection_refused", "Connection refused"
    CONNECTION_ERROR = "connection_error", "Connection failed or was closed"
    DNS_ERROR = "dns_error", "The name did not resolve"
    BLOCKED_ADDRESS = "blocked_address", "The address is not allowed"
    INVALID_URL = "invalid_url", "The URL cannot be used"
    TLS_ERROR = "tls_error", "TLS handshake or certificate failed"
    PROTOCOL_ERROR = "protocol_error", "Not a valid HTTP answer"
    REDIRECT_NOT_FOLLOWED = "redirect_not_followed", "Redirect (not followed)"
    HTTP_4XX = "http_4xx", "Client error status"
    HTTP_5XX = "http_5xx", "Server error status"


def _error_is_a_category(field: str, *, name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__in": ["", *DeliveryError.values]}), name=name
    )


class Delivery(models.Model):
    """One event for one endpoint: at most one row per pair, however often it is sent."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Retries stop after this (creation, or a staff redelivery, plus the retry window).
    retry_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=32, blank=True, choices=DeliveryError.choices)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_event_endpoint"),
            _error_is_a_category("last_error", name="delivery_last_error_category"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
            # The back office's list (newest first) and its status filter.
            models.Index(fields=["-created_at", "-id"], name="delivery_created_idx"),
            models.Index(fields=["status", "-created_at"], name="delivery_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """The log of one POST: the status code and error category, and how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=32, blank=True, choices=DeliveryError.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [_error_is_a_category("error", name="deliveryattempt_error_category")]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.status_code or self.error}"
