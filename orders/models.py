"""Orders: what was bought, at which price, shipped where, and every change since.

Rows here are snapshots: prices, names and the address are copied when an
order is placed, so later catalog or address edits never change an order.
Status changes only through `orders.services.order_transition`.
"""

import secrets
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Upper

# Crockford's base32 without I, L, O, U: easy to read aloud, no 0/O or 1/I confusion.
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_NUMBER_LENGTH = 10
NUMBER_PREFIX = "SR-"


def order_number_generate() -> str:
    """A short random number like `SR-7KQ2M9XD4A` (50 bits: unguessable, reveals no count)."""
    body = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(_NUMBER_LENGTH))
    return f"{NUMBER_PREFIX}{body}"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", "Pending payment"
    PAID = "paid", "Paid"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


class OrderQuerySet(models.QuerySet["Order"]):
    def for_user(self, user: models.Model) -> "OrderQuerySet":
        return self.filter(user=user)

    def expired(self, *, before: datetime) -> "OrderQuerySet":
        """Pending orders created before `before` (served by `order_pending_created_idx`)."""
        return self.filter(status=OrderStatus.PENDING_PAYMENT, created_at__lt=before)


class Order(models.Model):
    number = models.CharField(max_length=32, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=32, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    currency = models.CharField(max_length=3)
    # What the order was priced with (pricing.engine): subtotal is the lines
    # before discounts; with prices_include_tax the tax is inside the amounts,
    # otherwise total adds tax_total.
    subtotal = models.DecimalField(max_digits=14, decimal_places=2)
    discount_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    shipping_method_code = models.CharField(max_length=50, blank=True)
    shipping_method_name = models.CharField(max_length=100, blank=True)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2)
    tax_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=14, decimal_places=2)
    prices_include_tax = models.BooleanField(default=True)
    voucher_code = models.CharField(max_length=64, blank=True)

    shipping_full_name = models.CharField(max_length=200, blank=True)
    shipping_line1 = models.CharField(max_length=255, blank=True)
    shipping_line2 = models.CharField(max_length=255, blank=True)
    shipping_city = models.CharField(max_length=120)
    shipping_postal_code = models.CharField(max_length=20)
    shipping_country = models.CharField(max_length=2)
    shipping_phone = models.CharField(max_length=32, blank=True)

    note = models.CharField(max_length=1000, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    # Money was received for an order that is now cancelled: staff owe a refund.
    refund_due = models.BooleanField(default=False)
    # What the customer paid, and what pending and succeeded refunds give back.
    paid_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    refunded_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # Starts the return window (RETURN_WINDOW_DAYS).
    delivered_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Integrations read orders by last change (cursor pages).
            models.Index(fields=["updated_at", "id"], name="order_updated_idx"),
            models.Index(fields=["-created_at", "-id"], name="order_created_idx"),
            models.Index(fields=["user", "-created_at"], name="order_user_created_idx"),
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
            # The back office's "refund due" filter: few rows, newest first.
            models.Index(
                fields=["-created_at"],
                name="order_refund_due_idx",
                condition=models.Q(refund_due=True),
            ),
            # The expiry sweep reads only pending orders by age.
            models.Index(
                fields=["created_at"],
                name="order_pending_created_idx",
                condition=models.Q(status="pending_payment"),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=models.Q(paid_total__gte=0), name="order_paid_total_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_total__gte=0)
                & models.Q(refunded_total__lte=models.F("paid_total")),
                name="order_refunded_lte_paid",
            ),
            models.CheckConstraint(
                condition=models.Q(discount_total__gte=0, tax_total__gte=0, shipping_total__gte=0),
                name="order_amounts_gte_0",
            ),
        ]
        permissions = [
            ("cancel_order", "Can cancel orders"),
            ("transition_order", "Can mark paid, ship, deliver and refund orders"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def shipping_address(self) -> dict[str, str]:
        return {
            "full_name": self.shipping_full_name,
            "line1": self.shipping_line1,
            "line2": self.shipping_line2,
            "city": self.shipping_city,
            "postal_code": self.shipping_postal_code,
            "country": self.shipping_country,
            "phone": self.shipping_phone,
        }


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    # PROTECT: a product that appears in orders cannot be deleted (unpublish it instead).
    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.PROTECT, related_name="order_lines"
    )
    sku = models.CharField(max_length=64, db_index=True)
    product_name = models.CharField(max_length=255)
    variant_name = models.CharField(max_length=255, blank=True)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.PositiveIntegerField()
    promotion_discount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    voucher_discount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    # What the customer pays for the line: discounts off, tax in.
    line_total = models.DecimalField(max_digits=14, decimal_places=2)
    # Fulfilment counters, written only by orders.fulfilment under the order's lock.
    quantity_shipped = models.PositiveIntegerField(default=0)
    # Units taken off the order before shipping (refunded and restocked): never shipped.
    quantity_cancelled = models.PositiveIntegerField(default=0)
    # Units in returns that are requested, approved or received.
    quantity_return_claimed = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)
    # Units in pending and succeeded refunds.
    quantity_refunded = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "variant"], name="orderline_order_variant"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="orderline_qty_gte_1"),
            models.CheckConstraint(
                condition=models.Q(
                    quantity__gte=models.F("quantity_shipped") + models.F("quantity_cancelled")
                ),
                name="orderline_shipped_lte_qty",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_return_claimed__lte=models.F("quantity_shipped")),
                name="orderline_claimed_lte_shipped",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_returned__lte=models.F("quantity_return_claimed")),
                name="orderline_returned_lte_claimed",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_refunded__lte=models.F("quantity")),
                name="orderline_refunded_lte_qty",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    promotion_discount__gte=0,
                    voucher_discount__gte=0,
                    tax__gte=0,
                    line_total__gte=0,
                ),
                name="orderline_amounts_gte_0",
            ),
        ]
        indexes = [
            # The back office finds orders by the start of a SKU, whatever its case.
            models.Index(
                OpClass(Upper("sku"), name="text_pattern_ops"),
                name="orderline_sku_upper_prefix_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def discount(self) -> Decimal:
        return self.promotion_discount + self.voucher_discount


class ActorKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"
    SYSTEM = "system", "System"


class OrderEvent(models.Model):
    """The order's history: transitions and notable facts (payment_mismatch, ...)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32, blank=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"], name="orderevent_order_time_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"


class PaymentEvent(models.Model):
    """A processed payment-provider event; the unique id makes each apply once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=64)
    order_number = models.CharField(max_length=32, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    outcome = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.event_id


# The fulfilment models live in their own module; imported here so Django finds them.
from orders.fulfilment_models import (  # noqa: E402
    Refund as Refund,
)
from orders.fulfilment_models import (  # noqa: E402
    RefundLine as RefundLine,
)
from orders.fulfilment_models import (  # noqa: E402
    RefundStatus as RefundStatus,
)
from orders.fulfilment_models import (  # noqa: E402
    Return as Return,
)
from orders.fulfilment_models import (  # noqa: E402
    ReturnLine as ReturnLine,
)
from orders.fulfilment_models import (  # noqa: E402
    ReturnStatus as ReturnStatus,
)
from orders.fulfilment_models import (  # noqa: E402
    Shipment as Shipment,
)
from orders.fulfilment_models import (  # noqa: E402
    ShipmentLine as ShipmentLine,
)
