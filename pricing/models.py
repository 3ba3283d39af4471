"""Pricing rules: tax classes and rates, shipping methods, vouchers and promotions.

Rules only: an order copies what it was priced with (orders.models), so later
edits here change no order. Every amount is a Decimal with two places.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

STANDARD = "standard"
REDUCED = "reduced"
ZERO = "zero"


class TaxClass(models.Model):
    """A kind of goods taxed alike (`standard`, `reduced`, `zero`, ...), named by its code."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "tax classes"

    def __str__(self) -> str:
        return self.code


class TaxRate(models.Model):
    """The rate (percent) of a tax class in a destination country."""

    country = models.CharField(max_length=2)
    tax_class = models.ForeignKey(
        TaxClass, to_field="code", on_delete=models.PROTECT, related_name="rates"
    )
    rate = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )

    class Meta:
        ordering = ["country", "tax_class"]
        constraints = [
            models.UniqueConstraint(fields=["country", "tax_class"], name="taxrate_country_class"),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lte=100), name="taxrate_rate_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.tax_class_id} {self.rate}%"


class ShippingRule(models.TextChoices):
    FLAT = "flat", "Flat price"
    FREE_FROM = "free_from", "Flat price, free from a subtotal"
    WEIGHT = "weight", "By total weight bands"


class ShippingMethod(models.Model):
    """A way to ship: the countries it serves (empty: every country) and its price rule.

    `flat`: `price`. `free_from`: `price`, or nothing when the discounted goods
    reach `free_from`. `weight`: `bands`, a list of `{"up_to_grams", "price"}`
    sorted by weight; the first band that holds the total weight gives the
    price, and a heavier order is not served by this method.
    """

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    countries = models.JSONField(default=list, blank=True)
    rule = models.CharField(max_length=16, choices=ShippingRule.choices, default=ShippingRule.FLAT)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    free_from = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    bands = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0), name="shipping_price_gte_0"),
            models.CheckConstraint(
                condition=~models.Q(rule="free_from") | models.Q(free_from__gte=0),
                name="shipping_free_from_set",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class DiscountKind(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage"
    FIXED = "fixed", "Fixed amount"
    FREE_SHIPPING = "free_shipping", "Free shipping"


class Voucher(models.Model):
    """A code (matched case-insensitively) that takes money off, within its limits.

    `times_used` changes only through pricing.services (a guarded UPDATE);
    the CHECK keeps it within `usage_limit`.
    """

    code = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=DiscountKind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+")
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+")
    min_subtotal = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    usage_limit_per_customer = models.PositiveIntegerField(null=True, blank=True)
    times_used = models.PositiveIntegerField(default=0, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                Lower("code"),
                name="voucher_code_ci",
                violation_error_message="Another voucher has this code (whatever the case).",
            ),
            models.CheckConstraint(
                condition=models.Q(usage_limit__isnull=True)
                | models.Q(times_used__lte=models.F("usage_limit")),
                name="voucher_used_lte_limit",
            ),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="voucher_value_gte_0"),
            models.CheckConstraint(
                condition=~models.Q(kind="percentage") | models.Q(value__lte=100),
                name="voucher_percentage_lte_100",
                violation_error_message="A percentage is at most 100.",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class VoucherRedemption(models.Model):
    """One use of a voucher by one order; deleted when the unpaid order is cancelled."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="voucher_redemption"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["voucher", "user"], name="redemption_voucher_user_idx")]

    def __str__(self) -> str:
        return f"{self.voucher_id} {self.order_id}"


class Promotion(models.Model):
    """An automatic discount: a percentage, or a fixed amount per unit, on chosen goods.

    With neither categories nor products it applies to every line.
    """

    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=16,
        choices=[(DiscountKind.PERCENTAGE, "Percentage"), (DiscountKind.FIXED, "Fixed amount")],
    )
    value = models.DecimalField(max_digits=12, decimal_places=2)
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+")
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gte=0), name="promotion_value_gte_0"),
            models.CheckConstraint(
                condition=~models.Q(kind="percentage") | models.Q(value__lte=100),
                name="promotion_percentage_lte_100",
                violation_error_message="A percentage is at most 100.",
            ),
        ]

    def __str__(self) -> str:
        return self.name
